"""The pure pieces of `trace`: what a term names (terms.py) and which message instances a
story follows from a set of links (links.py). No index: rows are written out as the
message_facts and message_links views give them."""

from __future__ import annotations

import datetime as dt

import pytest

from mailidx.answers import links, terms

T0 = dt.datetime(2026, 11, 27, 10, 0, 0)


def ways(term: str) -> list[list[str]]:
    return [
        [view + ": " + condition for view, condition, _, _ in group]
        for group in terms.lookups(term)
    ]


def instance(key: str, queue_id: str, host: str = "mx", at: dt.timedelta = dt.timedelta()):
    return {"message_key": key, "queue_id": queue_id, "host": host, "first_seen": T0 + at}


def link(queue_id, named, *, key=None, host="mx", at=dt.timedelta(), kind="queued_as", out=True):
    return {
        "message_key": key or f"{host}:{queue_id}",
        "host": host,
        "queue_id": queue_id,
        "named_queue_id": named,
        "ts": T0 + at,
        "link": kind,
        "direction": "out" if out else "in",
    }


# --- what a term names -----------------------------------------------------------------------


@pytest.mark.parametrize("term", ["3A1B2C3D4E", "13AFA20C296", "4Xk9Qm2vBzz1", "  3A1B2C3D4E "])
def test_a_queue_id_is_looked_up_as_ours_then_as_one_the_next_server_gave(term):
    got = terms.lookups(term)
    assert got[:2] == [[terms.BY_QUEUE_ID], [terms.NAMED]]


def test_a_term_that_only_looks_like_a_queue_id_is_then_tried_as_what_it_otherwise_is():
    assert terms.lookups("ABCDEF")[2:] == [[terms.CLIENT_HOST]]
    assert terms.lookups("12345")[2:] == [[terms.CLIENT_IP]]  # digits: an IP's shape as well


def test_a_term_with_an_at_sign_is_a_message_id_first_then_an_address():
    for term in ("<6b0a2d7d.024@ok.test>", "buyer@big.test", " <buyer@big.test> "):
        assert terms.lookups(term) == [[terms.MESSAGE_ID], terms.ADDRESS]
    assert ways("buyer@big.test")[1] == [
        "messages: lower(sender) = lower($t)",
        "recipients: lower(recipient) = lower($t)",
        "recipients: lower(orig_recipient) = lower($t)",
    ]


@pytest.mark.parametrize("term", ["192.0.2.7", "2001:db8::25", "::1", "<192.0.2.7>"])
def test_an_ip_address_is_looked_up_as_the_client_ip(term):
    assert terms.lookups(term) == [[terms.CLIENT_IP]]


@pytest.mark.parametrize("term", ["mail.example.com", "localhost", "unknown"])
def test_anything_else_is_looked_up_as_the_client_host_name(term):
    assert terms.lookups(term) == [[terms.CLIENT_HOST]]


def test_a_queue_id_in_angle_brackets_is_not_looked_up_as_a_queue_id():
    assert terms.lookups("<3A1B2C3D4E>") == [[terms.CLIENT_HOST]]
    assert terms.bare("<3A1B2C3D4E>") == "3A1B2C3D4E"


@pytest.mark.parametrize(
    ("term", "kind"),
    [
        ("buyer@big.test", "address"),
        ("<buyer@big.test>", "address"),
        ("192.0.2.7", "ip"),
        ("2001:db8::25", "ip"),
        ("mail.example.com", "host"),
        ("3A1B2C3D4E", None),
        ("<3A1B2C3D4E>", None),
    ],
)
def test_refusals_of_never_queued_mail_are_looked_up_by_address_ip_or_host_never_queue_id(
    term, kind
):
    assert terms.refusal_kind(term) == kind
    if kind:
        assert terms.REFUSED_BY[kind]


# --- which instance a link means -------------------------------------------------------------


def test_a_named_queue_id_means_the_instance_nearest_in_time():
    early = instance("mx:A1", "AAAAA1", at=-dt.timedelta(hours=5))
    near = instance("mx:A2", "AAAAA1", at=dt.timedelta(minutes=1))
    assert links.resolve([early, near], "AAAAA1", "mx", T0) is near


def test_a_named_queue_id_means_an_instance_on_the_same_host_before_a_nearer_one_elsewhere():
    here = instance("mx:A1", "AAAAA1", host="mx", at=dt.timedelta(hours=2))
    there = instance("relay:A1", "AAAAA1", host="relay", at=dt.timedelta(seconds=1))
    assert links.resolve([there, here], "AAAAA1", "mx", T0) is here
    assert links.resolve([there, here], "AAAAA1", "other", T0) is there


def test_a_named_queue_id_more_than_a_day_away_or_without_a_time_means_no_instance():
    far = instance("mx:A1", "AAAAA1", at=links.LINK_REACH + dt.timedelta(seconds=1))
    unknown = {**instance("mx:A2", "AAAAA1"), "first_seen": None}
    assert links.resolve([far, unknown], "AAAAA1", "mx", T0) is None
    edge = instance("mx:A3", "AAAAA1", at=-links.LINK_REACH)
    assert links.resolve([edge], "AAAAA1", "mx", T0) is edge


def test_a_link_is_followed_only_where_its_named_queue_id_is_an_indexed_instance():
    to_filter = link("AAAAA1", "BBBBB2")
    to_remote = link("AAAAA1", "REMOTE99")  # the next server's queue ID: not in this index
    followed, reached = links.follow([to_filter, to_remote], [instance("mx:B2", "BBBBB2")], set())
    assert followed == [to_filter]
    assert reached == {"AAAAA1", "BBBBB2"}


def test_following_reaches_only_queue_ids_not_known_yet():
    rows = [link("AAAAA1", "BBBBB2"), link("CCCCC3", "BBBBB2", out=False)]
    instances = [instance("mx:B2", "BBBBB2")]
    followed, reached = links.follow(rows, instances, {"AAAAA1", "BBBBB2"})
    assert followed == rows and reached == {"CCCCC3"}


def test_two_messages_that_got_the_same_remote_queue_id_are_not_one_flow():
    """Both name X, but X here is a queue ID of a day later: neither link is followed."""
    one, other = link("AAAAA1", "XXXXX9"), link("CCCCC3", "XXXXX9", at=dt.timedelta(minutes=5))
    stale = instance("mx:X9", "XXXXX9", at=dt.timedelta(days=2))
    assert links.follow([one, other], [stale], {"AAAAA1"}) == ([], set())


def test_flows_between_instances_run_from_the_sender_side_and_become_relayed_across_hosts():
    a = instance("mx:A1", "AAAAA1", host="mx")
    b = instance("mx:B2", "BBBBB2", host="mx", at=dt.timedelta(seconds=1))
    c = instance("relay:C3", "CCCCC3", host="relay", at=dt.timedelta(seconds=2))
    said = [
        link("AAAAA1", "BBBBB2", key="mx:A1", at=dt.timedelta(seconds=1)),
        link("BBBBB2", "AAAAA1", key="mx:B2", at=dt.timedelta(seconds=1), out=False),
        link(
            "CCCCC3", "BBBBB2", key="relay:C3", host="relay", at=dt.timedelta(seconds=2), out=False
        ),
    ]
    got = [
        (lk["from_message_key"], lk["to_message_key"], lk["link"])
        for lk in links.between([a, b, c], said)
    ]
    assert got == [("mx:A1", "mx:B2", "queued_as"), ("mx:B2", "relay:C3", "relayed")]


def test_a_link_to_the_same_instance_or_to_an_unknown_one_is_no_flow():
    a = instance("mx:A1", "AAAAA1")
    said = [link("AAAAA1", "AAAAA1", key="mx:A1"), link("AAAAA1", "ZZZZZ0", key="mx:A1")]
    assert links.between([a], said) == []


def test_linked_instances_are_one_story_named_by_its_first_root():
    flow = [
        {"from_message_key": "mx:A1", "to_message_key": "mx:B2"},
        {"from_message_key": "mx:B2", "to_message_key": "mx:C3"},
    ]
    got = links.groups({"mx:A1", "mx:B2", "mx:C3", "mx:D4"}, flow)
    assert got == {"mx:A1": {"mx:A1", "mx:B2", "mx:C3"}, "mx:D4": {"mx:D4"}}
    assert links.depths({"mx:A1", "mx:B2", "mx:C3"}, flow) == {"mx:A1": 0, "mx:B2": 1, "mx:C3": 2}
