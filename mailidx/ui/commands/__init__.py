"""The commands of `mailidx`, a module per concern; each parses its options, calls the library."""
