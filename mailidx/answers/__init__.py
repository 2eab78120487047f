"""The read side, callable without the CLI and never printing: what the index answers (canned
queries, trace, summary, the documented schema, the report)."""
