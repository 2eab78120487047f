-- The systemd journal as a source (mailidx/journal.py): Postfix's journal entries become lines
-- of one stream per machine, a `files` row whose path is `journal:<machine-id>`; where reading
-- goes on from is kept here and committed in the same transaction as each batch of lines.
CREATE TABLE journals (
    file_id       INTEGER PRIMARY KEY,
    machine_id    VARCHAR NOT NULL,
    "cursor"      VARCHAR,
    last_realtime TIMESTAMPTZ,
    last_source   VARCHAR
);
COMMENT ON TABLE journals IS 'One row per systemd journal read (one machine): where the next read goes on from. Its lines are in log_lines under file `journal:<machine-id>`.';
COMMENT ON COLUMN journals.file_id IS 'The files row of the journal''s lines (path `journal:<machine-id>`).';
COMMENT ON COLUMN journals.machine_id IS 'The machine whose journal it is (its /etc/machine-id, as the journal files'' header gives it).';
COMMENT ON COLUMN journals."cursor" IS 'journalctl cursor of the last entry read (Postfix''s or not): the next read starts after it.';
COMMENT ON COLUMN journals.last_realtime IS 'Latest entry time read: where reading resumes when the cursor is gone (vacuumed).';
COMMENT ON COLUMN journals.last_source IS 'What was read last: `system journal`, `--journal-file …` or `--journal-dir …`.';
