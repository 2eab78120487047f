"""The read side, callable without the CLI: what the index answers (report so far; queries,
trace and summary move here in the re-layout of ARCHITECTURE.md)."""
