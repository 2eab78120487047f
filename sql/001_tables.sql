-- mailidx storage: the tables every view stands on.
-- Column comments are the documentation: `mailidx schema` prints them and DBeaver shows them.

CREATE TABLE files (
    file_id      INTEGER PRIMARY KEY,
    path         VARCHAR NOT NULL,
    first_path   VARCHAR NOT NULL,
    head         BLOB NOT NULL,
    head_len     INTEGER NOT NULL,
    bytes_done   BIGINT NOT NULL,
    lines_done   BIGINT NOT NULL,
    last_year    INTEGER,
    last_month   INTEGER,
    first_seen   TIMESTAMPTZ NOT NULL,
    last_indexed TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE files IS 'One row per log file ever indexed, known by the bytes it starts with (not by its name).';
COMMENT ON COLUMN files.file_id IS 'Internal number of the file.';
COMMENT ON COLUMN files.path IS 'Path under which the file was last indexed (follows rotation renames).';
COMMENT ON COLUMN files.first_path IS 'Path under which the file was first indexed.';
COMMENT ON COLUMN files.head IS 'Fingerprint: the first bytes of the decompressed file (up to 1 KiB).';
COMMENT ON COLUMN files.head_len IS 'Number of bytes in head.';
COMMENT ON COLUMN files.bytes_done IS 'Decompressed bytes indexed so far: the next line starts here.';
COMMENT ON COLUMN files.lines_done IS 'Lines indexed so far.';
COMMENT ON COLUMN files.last_year IS 'Year given to the last indexed year-less line; the next batch goes on from it.';
COMMENT ON COLUMN files.last_month IS 'Month of the last indexed year-less line (a jump back to January steps the year).';
COMMENT ON COLUMN files.first_seen IS 'When mailidx first indexed this file.';
COMMENT ON COLUMN files.last_indexed IS 'When mailidx last added lines of this file.';

CREATE TABLE lines (
    file_id     INTEGER NOT NULL,
    "offset"    BIGINT NOT NULL,
    line_number BIGINT NOT NULL,
    ts          TIMESTAMPTZ,
    host        VARCHAR,
    program     VARCHAR,
    pid         INTEGER,
    queue_id    VARCHAR,
    kind        VARCHAR NOT NULL,
    raw         VARCHAR NOT NULL USING COMPRESSION zstd,
    raw_bytes   BLOB
);

-- Events live in narrow tables, one per family of kinds, so that every column is dense; the
-- `events` view puts them back together. Which kind goes where: mailidx/rules.py EVENT_TABLES.
-- Everything about a queued message is outside ev_session (connections only), so the message
-- views never read the biggest table.

CREATE TABLE ev_delivery (
    file_id        INTEGER NOT NULL,
    line_number    BIGINT NOT NULL,
    ts             TIMESTAMPTZ,
    host           VARCHAR,
    service        VARCHAR,
    daemon         VARCHAR,
    pid            INTEGER,
    queue_id       VARCHAR,
    kind           VARCHAR NOT NULL,
    recipient      VARCHAR,
    orig_recipient VARCHAR,
    relay          VARCHAR,
    relay_host     VARCHAR,
    relay_ip       VARCHAR,
    relay_port     INTEGER,
    conn_use       INTEGER,
    delay          DOUBLE,
    delay_before_qmgr DOUBLE,
    delay_in_qmgr  DOUBLE,
    delay_conn     DOUBLE,
    delay_xmit     DOUBLE,
    tls            VARCHAR,
    dsn            VARCHAR,
    status         VARCHAR,
    response       VARCHAR,
    next_queue_id  VARCHAR
);

CREATE TABLE ev_message (
    file_id        INTEGER NOT NULL,
    line_number    BIGINT NOT NULL,
    ts             TIMESTAMPTZ,
    host           VARCHAR,
    service        VARCHAR,
    daemon         VARCHAR,
    pid            INTEGER,
    queue_id       VARCHAR,
    kind           VARCHAR NOT NULL,
    client_host    VARCHAR,
    client_ip      VARCHAR,
    client_port    INTEGER,
    sasl_method    VARCHAR,
    sasl_username  VARCHAR,
    sasl_sender    VARCHAR,
    orig_client    VARCHAR,
    sender         VARCHAR,
    size           BIGINT,
    nrcpt          INTEGER,
    message_id     VARCHAR,
    uid            INTEGER,
    orig_queue_id  VARCHAR,
    status         VARCHAR,
    action         VARCHAR,
    next_queue_id  VARCHAR,
    count          INTEGER,
    detail         VARCHAR
);

CREATE TABLE ev_session (
    file_id        INTEGER NOT NULL,
    line_number    BIGINT NOT NULL,
    ts             TIMESTAMPTZ,
    host           VARCHAR,
    service        VARCHAR,
    daemon         VARCHAR,
    pid            INTEGER,
    queue_id       VARCHAR,
    kind           VARCHAR NOT NULL,
    client_host    VARCHAR,
    client_ip      VARCHAR,
    client_port    INTEGER,
    relay_host     VARCHAR,
    relay_ip       VARCHAR,
    relay_port     INTEGER,
    sasl_method    VARCHAR,
    sasl_username  VARCHAR,
    sasl_sender    VARCHAR,
    orig_queue_id  VARCHAR,
    orig_client    VARCHAR,
    tls            VARCHAR,
    action         VARCHAR,
    stage          VARCHAR,
    count          INTEGER,
    reason         VARCHAR,
    severity       VARCHAR,
    detail         VARCHAR
);

CREATE TABLE ev_reject (
    file_id        INTEGER NOT NULL,
    line_number    BIGINT NOT NULL,
    ts             TIMESTAMPTZ,
    host           VARCHAR,
    service        VARCHAR,
    daemon         VARCHAR,
    pid            INTEGER,
    queue_id       VARCHAR,
    kind           VARCHAR NOT NULL,
    client_host    VARCHAR,
    client_ip      VARCHAR,
    client_port    INTEGER,
    sender         VARCHAR,
    recipient      VARCHAR,
    proto          VARCHAR,
    helo           VARCHAR,
    stage          VARCHAR,
    code           INTEGER,
    dsn            VARCHAR,
    reason         VARCHAR,
    action         VARCHAR,
    next_queue_id  VARCHAR,
    detail         VARCHAR
);

CREATE TABLE ev_other (
    file_id        INTEGER NOT NULL,
    line_number    BIGINT NOT NULL,
    ts             TIMESTAMPTZ,
    host           VARCHAR,
    service        VARCHAR,
    daemon         VARCHAR,
    pid            INTEGER,
    queue_id       VARCHAR,
    kind           VARCHAR NOT NULL,
    client_host    VARCHAR,
    client_ip      VARCHAR,
    client_port    INTEGER,
    sender         VARCHAR,
    recipient      VARCHAR,
    relay          VARCHAR,
    relay_host     VARCHAR,
    relay_ip       VARCHAR,
    relay_port     INTEGER,
    sasl_username  VARCHAR,
    tls            VARCHAR,
    dsn            VARCHAR,
    status         VARCHAR,
    next_queue_id  VARCHAR,
    stage          VARCHAR,
    code           INTEGER,
    reason         VARCHAR,
    action         VARCHAR,
    severity       VARCHAR,
    count          INTEGER,
    detail         VARCHAR
);

CREATE TABLE meta (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR
);
COMMENT ON TABLE meta IS 'Index metadata: format marker and settings.';
