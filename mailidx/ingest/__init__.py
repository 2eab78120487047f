"""Log lines into the index: sources, year inference, batches, the journal, the SQL writes."""
