"""The terminal: the `mailidx` command, its shared options, the SQL shell and how results print."""
