"""One journal entry as the line a syslog daemon would have written.

``journalctl --output=json`` gives each entry's own fields; the entries of Postfix
(``SYSLOG_IDENTIFIER`` ``postfix`` or ``postfix…``: ``postfix/smtpd``, an instance's
``postfix-out/smtp``) become a syslog line with the exact time and its year::

    2026-05-12T21:50:55.123456+00:00 _HOSTNAME SYSLOG_IDENTIFIER[_PID]: MESSAGE

(a MESSAGE that is not UTF-8 keeps its bytes; a newline in it is written ``#012``, as rsyslog
does).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass


@dataclass
class Entry:
    cursor: str
    realtime: int  # microseconds since the epoch
    line: bytes | None  # the syslog line (no newline) of a Postfix entry; None for the others


def is_postfix(identifier: str) -> bool:
    return identifier.startswith("postfix")


def _value(raw) -> bytes | str | None:
    """A JSON field: a string, a byte array (not UTF-8), or a list of values (repeated field)."""
    if isinstance(raw, list):
        if raw and all(isinstance(b, int) for b in raw):
            return bytes(raw)
        return _value(raw[0]) if raw else None
    return raw


def _text(raw, default: str = "") -> str:
    value = _value(raw)
    if value is None:
        return default
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return value


def stamp(realtime: int) -> str:
    """RFC 3339 in UTC with microseconds, from microseconds since the epoch."""
    seconds, micro = divmod(realtime, 1_000_000)
    when = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=seconds)
    return f"{when:%Y-%m-%dT%H:%M:%S}.{micro:06d}+00:00"


def render(entry: dict) -> bytes | None:
    """The syslog line of a Postfix entry; None for another program's."""
    identifier = _text(entry.get("SYSLOG_IDENTIFIER"))
    if not is_postfix(identifier):
        return None
    message = _value(entry.get("MESSAGE"))
    body = message.encode() if isinstance(message, str) else message or b""
    host = _text(entry.get("_HOSTNAME"), "localhost") or "localhost"
    pid = _text(entry.get("_PID")) or _text(entry.get("SYSLOG_PID"))
    head = f"{stamp(int(entry['__REALTIME_TIMESTAMP']))} {host} {identifier}"
    head += f"[{pid}]: " if pid else ": "
    return head.encode() + body.replace(b"\n", b"#012").rstrip(b"\r")


def parse(text: bytes) -> Entry:
    entry = json.loads(text)
    return Entry(entry["__CURSOR"], int(entry["__REALTIME_TIMESTAMP"]), render(entry))


def same_entry(a: str, b: str) -> bool:
    """Two cursors name the same entry: same sequence-number ID and number."""

    def key(cursor: str) -> tuple[str | None, str | None]:
        parts = dict(p.split("=", 1) for p in cursor.split(";") if "=" in p)
        return parts.get("s"), parts.get("i")

    return key(a) == key(b) and key(a) != (None, None)
