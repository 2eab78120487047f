"""Rules become SQL: the rule table, the syslog header step, and the typed fields of each event."""
