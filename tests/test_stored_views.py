"""The stored views (per message: messages, recipients, deliveries, message_facts,
message_links; per line: rejects) always hold what their live views compute from the events,
however the lines arrived: in many small batches or split across build runs."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from mailidx import store
from mailidx.ingest import refresh
from tests.conftest import Mailidx, decompressed

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
STORED = ("message_facts", "deliveries", "recipients", "messages", "message_links", "rejects")


def differences(db: Path, name: str) -> list[tuple]:
    """Rows in one of (stored, live) and not in the other, counting duplicates."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            f"""(SELECT 'stored only', * FROM (SELECT * FROM {name}_cache EXCEPT ALL
                                                SELECT * FROM {name}_live))
                UNION ALL
                (SELECT 'live only', * FROM (SELECT * FROM {name}_live EXCEPT ALL
                                              SELECT * FROM {name}_cache))"""
        ).fetchall()
    finally:
        con.close()


def sample_lines() -> list[bytes]:
    oldest_first = sorted(EXAMPLES.glob("maillog*"), reverse=True)
    return [line for path in oldest_first for line in decompressed(path).splitlines(True)]


@pytest.fixture(scope="module")
def built_in_small_batches(tmp_path_factory) -> Mailidx:
    tmp = tmp_path_factory.mktemp("small-batches")
    log = tmp / "maillog"
    log.write_bytes(b"".join(sample_lines()))
    mailidx = Mailidx(tmp / "index.duckdb", tmp)
    # ~60 lines a batch: most messages have their lines in several batches
    mailidx.build(log, env=mailidx.env(MAILIDX_BATCH_BYTES="8000"))
    return mailidx


@pytest.mark.parametrize("name", STORED)
def test_stored_rows_equal_the_live_view_after_a_build_in_small_batches(
    built_in_small_batches, name
):
    assert built_in_small_batches.count(f"{name}_cache") > 0
    assert differences(built_in_small_batches.db, name) == []


def test_stored_rows_follow_a_log_that_grows_between_builds(tmp_path):
    lines = sample_lines()
    log = tmp_path / "maillog"
    mailidx = Mailidx(tmp_path / "index.duckdb", tmp_path)
    step = len(lines) // 4 + 1
    for end in range(step, len(lines) + step, step):
        log.write_bytes(b"".join(lines[:end]))
        mailidx.build(log)
        for name in STORED:
            assert differences(mailidx.db, name) == [], (name, end)
    whole = Mailidx(tmp_path / "whole.duckdb", tmp_path)
    whole.build(log)
    order = "ORDER BY ALL"
    assert mailidx.query(f"SELECT * FROM messages {order}") == whole.query(
        f"SELECT * FROM messages {order}"
    )


def test_a_new_reason_category_applies_at_once_and_is_stored_by_the_next_build(tmp_path):
    log = tmp_path / "maillog"
    log.write_bytes(b"".join(sample_lines()))
    mailidx = Mailidx(tmp_path / "index.duckdb", tmp_path)
    mailidx.build(log)
    failed = (
        "SELECT count(*), count(*) FILTER (WHERE reason_category = 'everything') FROM {} "
        "WHERE status IN ('bounced', 'deferred')"
    )
    total, before = mailidx.query(failed.format("recipients"))[0]
    assert total > 0 and before == 0
    con = duckdb.connect(str(mailidx.db))
    con.execute(
        "INSERT INTO reason_categories (category, dsn_like, text_like, priority, note) "
        "VALUES ('everything', NULL, '%', 1000000, 'test: matches any text first')"
    )
    con.close()
    # read at once: the views see the stored categories are stale and work them out again
    assert mailidx.query(failed.format("recipients")) == [(total, total)]
    assert mailidx.query(failed.format("recipients_cache")) == [(total, 0)]
    rejected = (
        "SELECT count(*) FROM rejects WHERE kind = 'reject' AND reason_category <> 'everything'"
    )
    assert mailidx.query(rejected) == [(0,)]
    # the next build stores them
    mailidx.build(log)
    assert mailidx.query(failed.format("recipients_cache")) == [(total, total)]
    assert mailidx.query(rejected.replace("FROM rejects", "FROM rejects_cache")) == [(0,)]


def test_an_index_from_another_version_is_refused_by_readers_until_a_build_upgrades_it(tmp_path):
    mailidx = Mailidx(tmp_path / "index.duckdb", tmp_path)
    logs = sorted(EXAMPLES.glob("maillog*"))
    mailidx.build(*logs)
    # what an older mailidx left: no stored links, other view SQL
    con = duckdb.connect(str(mailidx.db))
    con.execute("DROP VIEW message_links")
    con.execute("DROP TABLE message_links_cache")
    con.execute("UPDATE meta SET value = 'older' WHERE key = 'views_sha256'")
    con.close()
    refused = mailidx.run("trace", "16A6A20C297", check=False)
    assert refused.returncode == 1
    message = refused.stderr.decode()
    assert "another version of mailidx" in message and "mailidx build" in message
    assert "Traceback" not in message and message.count("\n") == 1
    # plain SQL still reads it
    assert mailidx.run("sql", "SELECT count(*) FROM messages", check=False).returncode == 0
    upgrade = mailidx.build(*logs)  # nothing new to index: it only upgrades, and says so first
    assert b"up to date for this version: re-creating its stored views" in upgrade.stderr
    assert b"up to date" not in mailidx.build(*logs).stderr  # once
    story = mailidx.run("trace", "16A6A20C297", "--no-lines").stdout.decode()
    assert "bounce_notification" in story
    for name in STORED:
        assert differences(mailidx.db, name) == [], name


def test_an_index_from_before_migration_5_is_upgraded_by_build(tmp_path):
    """What the version before original-recipient rows left: schema 4, the old category
    priorities, recipients without recipient_known_from. A build applies 005, works the stored
    views out again, says so, and the new rows and categories are there."""
    mailidx = Mailidx(tmp_path / "index.duckdb", tmp_path)
    logs = sorted(EXAMPLES.glob("maillog*"))
    mailidx.build(*logs)
    con = duckdb.connect(str(mailidx.db))
    con.execute(
        "DELETE FROM reason_categories WHERE dsn_like IN ('5.1.10', '4.2.3') "
        "OR text_like = '%RecipientNotFound%'"
    )
    con.execute("UPDATE reason_categories SET priority = priority - 200 WHERE priority >= 200")
    con.execute("DROP VIEW recipients")
    con.execute("ALTER TABLE recipients_cache DROP COLUMN recipient_known_from")
    con.execute("DROP TABLE journals")  # migration 006, after this test's schema 4
    con.execute("DROP TABLE pending_messages")  # migration 007
    con.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    con.execute("UPDATE meta SET value = 'older' WHERE key = 'views_sha256'")
    con.close()
    upgrade = mailidx.build(*logs)
    assert b"re-creating its stored views" in upgrade.stderr
    latest = max(int(f.name[:3]) for f in store.migration_files())
    assert mailidx.query("SELECT value FROM meta WHERE key = 'schema_version'") == [(str(latest),)]
    assert mailidx.query(
        "SELECT reason_category('5.2.2', 'cannot update mailbox: File too large'), "
        "reason_category('5.1.10', 'RecipientNotFound')"
    ) == [("mailbox_full", "unknown_user")]
    assert mailidx.query(
        "SELECT count(*) FROM recipients WHERE recipient_known_from = 'delivery'"
    ) == mailidx.query("SELECT count(*) FROM recipients WHERE attempts > 0")
    for name in STORED:
        assert differences(mailidx.db, name) == [], name


def test_rows_of_held_refused_and_alias_mail_stay_equal_in_small_batches(tmp_path):
    """The lab's postmaster cases (alias expansion, header_checks HOLD/DISCARD/REJECT,
    postsuper -d, a forward) a couple of lines a batch: the stored rows equal the live view."""
    log = Path(__file__).resolve().parent / "fixtures" / "postmaster-questions.log"
    mailidx = Mailidx(tmp_path / "index.duckdb", tmp_path)
    mailidx.build(log, "--year", "2026", env=mailidx.env(MAILIDX_BATCH_BYTES="600"))
    assert mailidx.count("recipients_cache") >= 14
    assert mailidx.query(
        "SELECT count(*) FROM recipients_cache WHERE recipient_known_from = 'cleanup'"
    ) == [(4,)]
    for name in STORED:
        assert differences(mailidx.db, name) == [], name


def test_every_kind_the_rejects_view_reads_is_in_a_table_a_batch_shadows_with_its_rows():
    """A batch appends the tables outside write.LINE_VIEW_TABLES directly, leaving their
    shadows empty: rejects_live must read no kind kept there, or its batch rows go missing."""
    import re

    from mailidx.ingest.write import LINE_VIEW_TABLES
    from mailidx.parse.rules import table_of

    view = (store.sql_dir() / "views" / "90_rejects.sql").read_text()
    lists = re.findall(r"kind\s+(?:IN\s*\(([^)]*)\)|=\s*('[^']*'))", view)
    kinds = {k for a, b in lists for k in re.findall(r"'([^']*)'", a + b)}
    assert {"reject", "warning", "header_warning"} <= kinds
    assert {k: table_of(k) for k in kinds if table_of(k) not in LINE_VIEW_TABLES} == {}


def test_a_refresh_of_many_pending_queue_ids_in_slices_stores_every_row_once(tmp_path):
    """However many queue IDs are pending (a killed build, a big log), the refresh takes a
    slice of them per transaction: the stored rows come out as the live views compute them,
    and nothing stays pending."""
    from mailidx.ingest.refresh import refresh_caches

    log = tmp_path / "maillog"
    log.write_bytes(b"".join(sample_lines()))
    mailidx = Mailidx(tmp_path / "index.duckdb", tmp_path)
    mailidx.build(log)
    whole = {name: mailidx.query(f"SELECT * FROM {name}_cache ORDER BY ALL") for name in STORED}
    con = store.open_for_writing(str(mailidx.db), tz="UTC")
    try:
        for name in refresh.MESSAGE_CACHES:
            con.execute(f"DELETE FROM {name}_cache")
        pending = con.execute(
            "INSERT INTO pending_messages SELECT DISTINCT host, queue_id FROM events "
            "WHERE queue_id IS NOT NULL"
        ).fetchall()[0][0]
        assert pending > 20
        refresh_caches(con, slice_size=7)
        assert con.execute("SELECT count(*) FROM pending_messages").fetchall() == [(0,)]
    finally:
        con.close()
    for name in STORED:
        assert differences(mailidx.db, name) == [], name
        assert mailidx.query(f"SELECT * FROM {name}_cache ORDER BY ALL") == whole[name], name


def test_categories_worked_out_in_one_join_are_the_macros_categories(tmp_path):
    """The build stores categories from reason_categories_of (one join of the distinct pairs
    with the rules); reason_category (the macro the views fall back on) must give the same."""
    con = duckdb.connect(str(tmp_path / "index.duckdb"))
    store.migrate(con, str(tmp_path / "index.duckdb"))
    con.execute(  # a tie of priority between two categories (the name decides) and a dsn rule
        "INSERT INTO reason_categories (category, dsn_like, text_like, priority) VALUES "
        "('aaa_tie', NULL, '%quota%', 9000), ('zzz_tie', NULL, '%quota%', 9000), "
        "('dsn_only', '5.9.%', NULL, 8000)"
    )
    texts = [
        None,
        "",
        "host mx.example.com said: 552 5.2.2 Mailbox full",
        "MESSAGE SIZE EXCEEDS FIXED MAXIMUM",
        "<bob@example.org>: Recipient address rejected: User unknown in virtual mailbox table",
        "Service unavailable; client [192.0.2.7] blocked using zen.spamhaus.org",
        "QUOTA exceeded for İstanbul ß user",
        "connect to mx.example.net[198.51.100.7]:25: Connection timed out",
        "nothing any rule knows",
        "Greylisted, see http://postgrey.schweikert.ch/help/example.org.html",
    ]
    dsns = [None, "", "2.0.0", "4.2.2", "5.1.1", "5.3.4", "5.9.9", "4.7.1"]
    con.execute("CREATE TEMP TABLE pairs (dsn VARCHAR, text VARCHAR)")
    con.executemany("INSERT INTO pairs VALUES (?, ?)", [[d, t] for d in dsns for t in texts])
    con.execute("INSERT INTO pairs SELECT * FROM pairs")  # duplicates give one row each
    joined = con.execute(
        "SELECT dsn, text, category FROM reason_categories_of('temp.main.pairs')"
    ).fetchall()
    by_macro = con.execute(
        "SELECT DISTINCT dsn, text, reason_category(dsn, text) FROM pairs"
    ).fetchall()
    key = lambda row: tuple("\x00" if v is None else v for v in row)  # noqa: E731
    assert sorted(joined, key=key) == sorted(by_macro, key=key)
    assert len(joined) == len(dsns) * len(texts)
    categories = {(d, t): c for d, t, c in joined}
    assert categories[("4.2.2", "QUOTA exceeded for İstanbul ß user")] == "aaa_tie"
    assert categories[("5.9.9", "nothing any rule knows")] == "dsn_only"
    assert categories[("", "nothing any rule knows")] == "other"
    assert categories[("2.0.0", "nothing any rule knows")] is None
    assert categories[(None, None)] is None
    con.close()
