"""What a search term names, decided from its text alone: a queue ID, a Message-ID or an
address (it has an ``@``), a client IP or a client host name; and, for each kind, the ways the
index is searched for it (a view and a condition on ``$t``), in the order `trace` tries them.
Pure: no connection here; mailidx/answers/trace.py runs the lookups.
"""

from __future__ import annotations

import re

QUEUE_ID = re.compile(r"^(?:[0-9A-F]{5,}|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10,})$")
IP = re.compile(r"^[0-9.]+$|^[0-9a-fA-F:]*:[0-9a-fA-F:.]*$")

# (view, condition on $t, first and last time of the row) for each way a term can match; a
# number first where there is one (queue_key, message_id_key): see trace._key_filter
Way = tuple[str, str, str, str]
BY_QUEUE_ID = (
    "message_facts",
    "queue_key = queue_key($t) AND queue_id = $t",
    "first_seen",
    "last_seen",
)
NAMED = ("message_links", "named_queue_key = queue_key($t) AND named_queue_id = $t", "ts", "ts")
MESSAGE_ID = (
    "message_facts",
    "message_id_key = text_key($t) AND message_id = $t",
    "first_seen",
    "last_seen",
)
ADDRESS = [
    ("messages", "lower(sender) = lower($t)", "first_seen", "last_seen"),
    ("recipients", "lower(recipient) = lower($t)", "first_attempt", "last_attempt"),
    ("recipients", "lower(orig_recipient) = lower($t)", "first_attempt", "last_attempt"),
]
CLIENT_IP = ("message_facts", "lower(client_ip) = lower($t)", "first_seen", "last_seen")
CLIENT_HOST = ("message_facts", "lower(client_host) = lower($t)", "first_seen", "last_seen")

# the conditions on the rejects view that name a term of each refusal_kind
REFUSED_BY = {
    "ip": ["client_ip = $t"],
    "host": ["lower(client_host) = lower($t)"],
    "address": ["lower(sender) = lower($t)", "lower(recipient) = lower($t)"],
}


def is_queue_id(term: str) -> bool:
    """The term has the shape of a Postfix queue ID (short hex or long form)."""
    return bool(QUEUE_ID.match(term))


def bare(term: str) -> str:
    """The term as it is looked up: no surrounding blanks or angle brackets."""
    return term.strip().strip("<>")


def lookups(term: str) -> list[list[Way]]:
    """The ways to look the term up, in groups tried in turn until one finds a message: a queue
    ID of ours, then one only the next server gave (the messages handed to it); then, also for
    a term that only looks like a queue ID, a Message-ID and then a sender or recipient address
    (a term with ``@``), else a client IP or a client host name."""
    term = term.strip()
    tries: list[list[Way]] = [[BY_QUEUE_ID], [NAMED]] if is_queue_id(term) else []
    plain = term.strip("<>")
    if "@" in plain:
        return [*tries, [MESSAGE_ID], ADDRESS]
    return [*tries, [CLIENT_IP if IP.match(plain) else CLIENT_HOST]]


def refusal_kind(term: str) -> str | None:
    """How a refusal of never-queued mail can name the term (a key of REFUSED_BY): ``address``,
    ``ip`` or ``host``; None for a queue ID, which such refusals do not have."""
    plain = bare(term)
    if is_queue_id(plain):
        return None
    return "address" if "@" in plain else "ip" if IP.match(plain) else "host"
