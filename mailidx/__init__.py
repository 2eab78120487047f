"""mailidx: a local, SQL-queryable index of Postfix mail logs (README.md's Layout: where each
concern lives)."""
