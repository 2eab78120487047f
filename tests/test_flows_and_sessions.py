"""Flows across hosts, SMTP sessions, and reason categories a user adds, on real log lines."""

from __future__ import annotations

import duckdb

from tests.conftest import FIXTURES


def index_both(mailidx, tmp_path):
    """mx1 relays a message to mx2 (queued as …), where it bounces: two hosts' logs."""
    mailidx.build(FIXTURES / "two-hosts-mx1.log", FIXTURES / "two-hosts-mx2.log", "--year", "2026")


def test_next_hop_on_another_indexed_host_is_one_flow(mailidx, tmp_path):
    index_both(mailidx, tmp_path)
    links = mailidx.query(
        "SELECT from_message_key, to_message_key, link, host, to_host FROM flows ORDER BY ts"
    )
    assert links == [
        ("mx1:3A1B2C3D4E", "mx2:5F6A7B8C9D", "relayed", "mx1", "mx2"),
        ("mx2:5F6A7B8C9D", "mx2:6C7D8E9FA0", "bounce_notification", "mx2", "mx2"),
    ]
    flows = dict(mailidx.query("SELECT message_key, flow_id FROM message_flows"))
    assert set(flows.values()) == {"mx1:3A1B2C3D4E"}
    assert mailidx.query(
        "SELECT host, final FROM messages WHERE message_id = 'cross-host-1@example.net' "
        "ORDER BY first_seen"
    ) == [("mx1", "delivered"), ("mx2", "bounced")]
    assert mailidx.query(
        "SELECT status, reason_category FROM recipients WHERE queue_id = '5F6A7B8C9D'"
    ) == [("bounced", "mailbox_full")]


def test_smtpd_sessions_are_joined_to_the_queue_ids_they_produced(mailidx, tmp_path):
    index_both(mailidx, tmp_path)
    rows = mailidx.query(
        "SELECT host, client_ip, sasl_username, command_count, queue_ids, rejects, outcome "
        "FROM connections ORDER BY connect_at, host"
    )
    assert rows == [
        ("mx1", "198.51.100.7", "carol", 6, ["3A1B2C3D4E"], 0, "queued"),
        ("mx2", "192.0.2.10", None, 5, ["5F6A7B8C9D"], 0, "queued"),
        ("mx1", "203.0.113.9", None, 3, None, 1, "rejected"),
    ]


def test_a_reason_category_row_added_by_the_user_is_used_at_once(mailidx, tmp_path):
    index_both(mailidx, tmp_path)
    assert mailidx.query("SELECT reason_category FROM rejects") == [("relay_denied",)]
    con = duckdb.connect(str(mailidx.db))
    con.execute(
        "INSERT INTO reason_categories VALUES ('open_relay_probe', NULL, '%elsewhere.example%',"
        " 200, 'probes for our relay')"
    )
    con.close()
    assert mailidx.query("SELECT reason_category FROM rejects") == [("open_relay_probe",)]


def test_a_specific_status_code_decides_the_category_before_the_text(tmp_path):
    """RFC 3463 first where the code names a cause; the text where the code is generic or
    missing; a user's row above 200 still overrides a code."""
    from mailidx import store

    con = duckdb.connect(str(tmp_path / "index.duckdb"))
    store.migrate(con, "index.duckdb")

    def category(dsn, text):
        return con.execute("SELECT reason_category(?, ?)", [dsn, text]).fetchall()[0][0]

    # Postfix local(8), mailbox_size_limit reached: a full mailbox, though "too large"
    full = (
        "cannot update mailbox /var/mail/frank for user frank. "
        "error writing message: File too large"
    )
    assert category("5.2.2", full) == "mailbox_full"
    assert category("5.3.4", "Message size exceeds fixed limit") == "size"
    recipient_not_found = (
        "host outlook-com.olc.protection.outlook.com said: 550 5.1.10 RESOLVER.ADR."
        "RecipientNotFound; Recipient not found by SMTP address lookup"
    )
    assert category("5.1.10", recipient_not_found) == "unknown_user"
    assert category("5.1.1", "User unknown in virtual mailbox table") == "unknown_user"
    # generic codes and whole classes: the text decides
    assert category("5.0.0", "message file too big") == "size"
    assert category("5.7.1", "<x@example.org>: Relay access denied") == "relay_denied"
    assert category("4.7.1", "Greylisted, try again later") == "greylist"
    assert category("4.4.1", "connect to mx.example.org[192.0.2.1]:25: Connection timed out") == (
        "network"
    )
    assert category(None, "mailbox full") == "mailbox_full"
    con.execute("INSERT INTO reason_categories VALUES ('quota', '5.2.2', NULL, 300, 'ours')")
    assert category("5.2.2", full) == "quota"
    con.close()
