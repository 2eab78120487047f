"""The parser's rules: one row per kind of Postfix line, grouped by daemon.

A rule says which daemons log the line, the ``kind`` of event it becomes, and an RE2 pattern
over the message *body* (the text after the syslog header and after a ``QID: `` or
``NOQUEUE: `` prefix). Named groups in the pattern are event columns; ``const`` sets columns
that the wording itself implies. The first rule that matches wins, so specific rules stand
before general ones.

Fields that Postfix logs as ``key=value`` (``to=``, ``relay=``, ``delays=``, ``dsn=``, …) are
not captured here by position: :data:`KEY_FIELDS` extracts them by name from any event, so a
new key between two old ones (3.11's ``tls=``) changes nothing.

The rules compile to one DuckDB SELECT (see :mod:`mailidx.parse.header` and
:mod:`mailidx.parse.events`); the patterns use the
syntax RE2 and Python's ``re`` share, so a reader can try one in a Python shell.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rule:
    kind: str
    daemons: tuple[str, ...] | None  # None: any Postfix daemon
    pattern: str  # anchored at the start of the body; named groups are event columns
    const: dict[str, str] = field(default_factory=dict)
    cut_at: tuple[str, ...] = ()  # the last field ends where the first of these starts
    keys: tuple[str, ...] = ()  # key=value fields (KEY_FIELDS) the line may carry, by name


def _addr(prefix: str) -> str:
    """``host[ip]`` or ``host[ip]:port`` (host may be empty: postscreen logs ``[ip]:port``)."""
    return (
        rf"(?P<{prefix}_host>[^\s\[\]]*)\[(?P<{prefix}_ip>[^\]]*)\]"
        rf"(?::(?P<{prefix}_port>\d+))?"
    )


CLIENT = _addr("client")
RELAY = _addr("relay")
DSN = r"\d\.\d{1,3}\.\d{1,3}"
# "250 2.0.0 text", "5.7.1 text", "text": the reply code and enhanced status code are optional.
REPLY = rf"(?:(?P<code>\d{{3}})[ -])?(?:(?P<dsn>{DSN}) )?"
# What follows a reject's reason: smtpd "; from=<a> to=<b> proto=ESMTP helo=<h>",
# postscreen "; from=<a>, to=<b>, proto=ESMTP, helo=<h>". The reason ends where the first
# of these starts.
TRAILER_KEYS = ("; from=", "; to=", "; proto=", "; helo=")

SMTPD = ("smtpd",)
POSTSCREEN = ("postscreen",)
SMTP = ("smtp", "lmtp")
CLIENT_ACTIONS = SMTPD + ("cleanup", "postscreen")
PS_CLIENT = r"\[(?P<client_ip>[^\]]*)\]:(?P<client_port>\d+)"

# Actions smtpd access checks, milters and postscreen log, and the event kind of each.
ACCESS_ACTIONS = {
    "reject": "reject",
    "reject_warning": "reject_warning",
    "hold": "hold",
    "discard": "discard",
    "redirect": "redirect",
    "filter": "filter",
    "milter-reject": "milter_reject",
    "milter-discard": "discard",
    "milter-hold": "hold",
}
# Actions of cleanup's header_checks / body_checks, and the event kind of each.
CONTENT_ACTIONS = {
    "reject": "reject",
    "warning": "header_warning",
    "hold": "hold",
    "discard": "discard",
    "redirect": "redirect",
    "filter": "filter",
    "replace": "replace",
    "prepend": "prepend",
    "info": "info",
    "bcc": "info",
    "strip": "replace",
    "milter-header-add": "milter_header",
    "milter-header-insert": "milter_header",
    "milter-header-replace": "milter_header",
    "milter-header-delete": "milter_header",
    "milter-header-redirect": "redirect",
    "milter-header-discard": "discard",
}

# The key=value fields each kind of line carries (read by name, in any order).
ENVELOPE_KEYS = ("sender", "recipient", "proto", "helo")
DELIVERY_KEYS = (
    "recipient",
    "orig_recipient",
    "relay",
    "conn_use",
    "delay",
    "delays",
    "tls",
    "dsn",
    "status",
    "response",
    "next_queue_id",
)

# bounce(8): "QID: sender non-delivery notification: NEWQID" and its kin.
NOTIFICATIONS = {
    "sender non-delivery": "non_delivery",
    "sender delay": "delay",
    "sender delivery status": "delivery_status",
    "sender success": "success",
    "postmaster non-delivery": "postmaster_non_delivery",
    "postmaster delay": "postmaster_delay",
}

PS_VIOLATIONS = (
    "BARE NEWLINE|COMMAND PIPELINING|NON-SMTP COMMAND|COMMAND TIME LIMIT"
    "|COMMAND COUNT LIMIT|COMMAND LENGTH LIMIT|DATA without valid RCPT|BDAT without valid RCPT"
)

# What Postfix logs with -v (verbose) or at debug_peer_level: internal state, not mail.
VERBOSE = "|".join(
    (
        r"[a-z][a-z0-9]*_[a-z0-9_]*: ",  # function_name: … (been_here, match_string, …)
        r"(?:input attribute|send attr) ",
        r"\S+ socket: wanted attribute: ",
        r"[<>] \S+: ",  # the SMTP conversation
        r">>> .* <<<$",
        r"\w+ = ",
        r"[\d./:\[\]a-fA-F]+(?: [\d./:\[\]a-fA-F]+)*$",  # mynetworks
        r"(?:start|end|done) [\w .>-]*(?:scan|list|incoming)$",
        r"(?:mynetworks|fsspace): ",
        r"(?:initial|extracted) envelope ",
        r"open (?:incoming|active|deferred|hold)/",
        r"(?:before |after )?(?:input_transp_cleanup: )?cleanup flags = ",
        r"(?:rewrite|proxymap) stream disconnect$",
        r"(?:request|recipient limit|process generation|wakeup|connection established"
        r"|connection closed|connecting to|lookup \S+ type|begin \S+ address list"
        r"|pref +\d+ host|host name lookup methods|Compiled against|Run-time linked"
        r"|\d+ \([W?]\)$|\.: block size)",
    )
)
# Informational lines a postmaster may want to see, none about one message's fate.
NOTICES = "|".join(
    (
        r"discarding EHLO keywords: ",
        r"table \S+ has changed -- restarting",
        r"(?:idle timeout|master disconnect) -- exiting",
        r"connect to subsystem ",
        r"bare <LF> received after ",
        r"passing <[^>]*> to transport=",
        r"using backwards-compatible default setting ",
    )
)


def _access_rules() -> list[Rule]:
    return [
        Rule(
            kind,
            CLIENT_ACTIONS,
            rf"(?P<action>{action}): (?P<stage>\S+) from (?:{CLIENT}|local): {REPLY}"
            r"(?P<reason>.*)$",
            cut_at=TRAILER_KEYS,
            keys=ENVELOPE_KEYS,
        )
        for action, kind in ACCESS_ACTIONS.items()
    ]


def _content_rules() -> list[Rule]:
    return [
        Rule(
            kind,
            ("cleanup",),
            rf"(?P<action>{action}): (?P<stage>header|body|END-OF-MESSAGE) (?P<detail>.*?)"
            rf" from (?:{CLIENT}|local|\S+); from=<[^>]*> to=<[^>]*>"
            rf"(?: proto=\S+)?(?: helo=<[^>]*>)?(?:: {REPLY}(?P<reason>.*))?$",
            keys=ENVELOPE_KEYS,
        )
        for action, kind in CONTENT_ACTIONS.items()
    ]


RULES: list[Rule] = [
    # --- smtpd: sessions -------------------------------------------------------------------
    Rule("connect", SMTPD, rf"connect from {CLIENT}$"),
    Rule(
        "disconnect",
        SMTPD,
        rf"disconnect from {CLIENT} ?(?P<detail>.*)$",
        keys=("count",),
    ),
    Rule(
        "client",
        SMTPD,
        rf"client={CLIENT}(?:, .*)?$",
        keys=("sasl_method", "sasl_username", "sasl_sender", "orig_queue_id", "orig_client"),
    ),
    Rule(
        "lost_connection",
        SMTPD,
        r"(?P<action>lost connection|timeout|too many errors) after (?P<stage>[\w-]+)"
        rf"(?: \((?P<detail>[^)]*)\))? from {CLIENT}$",
    ),
    Rule(
        "tls",
        SMTPD + ("tlsproxy",),
        r"(?P<action>Anonymous|Trusted|Untrusted|Verified) TLS connection established from "
        rf"{CLIENT}: (?P<tls>.*)$",
    ),
    Rule("tls_failed", SMTPD + ("tlsproxy",), rf"SSL_accept error from {CLIENT}: (?P<reason>.*)$"),
    Rule(
        "tls_failed",
        ("tlsproxy",),
        rf"TLS handshake failed for service=(?P<detail>\S+) peer={PS_CLIENT}$",
    ),
    Rule(
        "sasl_failed",
        SMTPD,
        rf"warning: {CLIENT}: SASL (?P<sasl_method>[\w-]+) authentication failed:? ?"
        r"(?P<reason>.*)$",
        {"severity": "warning"},
        cut_at=(", sasl_username=",),
        keys=("sasl_username",),
    ),
    # warnings that name the client get its address too (for the connections view)
    Rule(
        "warning",
        SMTPD,
        r"(?P<severity>warning): (?P<detail>hostname (?P<client_host>\S+) does not resolve to"
        r" address (?P<client_ip>[^\s:]+).*)$",
    ),
    Rule(
        "warning",
        SMTPD,
        r"(?P<severity>warning): (?P<detail>(?P<client_ip>[\da-fA-F.:]+): hostname"
        r" (?P<client_host>\S+) verification failed.*)$",
    ),
    Rule(
        "warning",
        SMTPD,
        rf"(?P<severity>warning): (?P<detail>.*? from {CLIENT}(?:[: ].*)?)$",
    ),
    Rule(
        "violation",
        SMTPD,
        rf"(?P<action>improper command pipelining) after (?P<stage>\S+) from {CLIENT}:?"
        r" ?(?P<detail>.*)$",
    ),
    *_access_rules(),
    Rule(
        "proxy_accept",
        SMTPD,
        rf"(?P<action>proxy-accept): (?P<stage>\S+): {REPLY}(?P<reason>.*)$",
        cut_at=TRAILER_KEYS,
        keys=(*ENVELOPE_KEYS, "next_queue_id"),
    ),
    Rule(
        "proxy_reject",
        SMTPD,
        rf"(?P<action>proxy-reject): (?P<stage>\S+): {REPLY}(?P<reason>.*)$",
        cut_at=TRAILER_KEYS,
        keys=ENVELOPE_KEYS,
    ),
    # --- postscreen, dnsblog, tlsproxy ---------------------------------------------------------
    Rule(
        "connect", POSTSCREEN + ("tlsproxy",), rf"CONNECT from {PS_CLIENT}(?: to (?P<detail>.*))?$"
    ),
    Rule("pass_new", POSTSCREEN, rf"PASS NEW {PS_CLIENT}$", {"action": "PASS NEW"}),
    Rule("pass_old", POSTSCREEN, rf"PASS OLD {PS_CLIENT}$", {"action": "PASS OLD"}),
    Rule(
        "pregreet",
        POSTSCREEN,
        rf"PREGREET (?P<count>\d+) after [\d.]+ from {PS_CLIENT}: (?P<detail>.*)$",
    ),
    Rule("dnsbl", POSTSCREEN, rf"DNSBL rank (?P<count>\d+) for {PS_CLIENT}$"),
    Rule(
        "hangup",
        POSTSCREEN,
        rf"HANGUP after (?P<detail>[\d.]+) from {PS_CLIENT} in (?P<stage>.*)$",
    ),
    Rule(
        "allowlisted",
        POSTSCREEN,
        rf"(?P<action>WHITELISTED|ALLOWLISTED|WHITELIST VETO|ALLOWLIST VETO) {PS_CLIENT}$",
    ),
    Rule("denylisted", POSTSCREEN, rf"(?P<action>BLACKLISTED|DENYLISTED) {PS_CLIENT}$"),
    Rule(
        "violation",
        POSTSCREEN,
        rf"(?P<action>{PS_VIOLATIONS})(?: (?P<count>\d+))?(?: after [\d.]+)? from {PS_CLIENT}"
        r"(?P<detail>.*)$",
    ),
    Rule("disconnect", POSTSCREEN + ("tlsproxy",), rf"DISCONNECT {PS_CLIENT}$"),
    Rule(
        "noqueue_other",
        POSTSCREEN,
        rf"(?P<action>\w+): (?P<stage>\S+) from {PS_CLIENT}: (?P<reason>.*)$",
    ),
    Rule(
        "dnsbl_listed",
        ("dnsblog",),
        r"addr (?P<client_ip>\S+) listed by domain (?P<detail>\S+) as (?P<reason>\S+)$",
    ),
    Rule(
        "cache_cleanup",
        None,
        r"cache (?P<detail>.+) (?:full|partial) cleanup: (?P<reason>.*)$",
    ),
    # --- cleanup -------------------------------------------------------------------------------
    Rule("message_id", ("cleanup",), r"message-id=<?(?P<message_id>[^>]*)>?$"),
    Rule("resent_message_id", ("cleanup",), r"resent-message-id=<?(?P<message_id>[^>]*)>?$"),
    *_content_rules(),
    # --- qmgr ----------------------------------------------------------------------------------
    Rule(
        "queued",
        ("qmgr",),
        r"from=(?:<[^>]*>|[^,]*), size=(?P<size>\d+), nrcpt=(?P<nrcpt>\d+) \(queue active\)$",
        keys=("sender",),
    ),
    Rule("removed", ("qmgr",), r"removed$"),
    Rule(
        "expired",
        ("qmgr",),
        r"from=(?:<[^>]*>|[^,]*), status=(?P<status>expired|force-expired), returned to sender$",
        keys=("sender",),
    ),
    Rule("skipped", ("qmgr",), r"skipped, still being delivered$"),
    # --- delivery agents (smtp, lmtp, local, virtual, pipe, error, retry, discard, qmgr) --------
    Rule(
        "delivery",
        None,
        r"to=(?:<[^>]*>|[^,]*), (?:orig_to=(?:<[^>]*>|[^,]*), )?relay=",
        keys=DELIVERY_KEYS,
    ),
    Rule(
        "connect_failed",
        SMTP,
        r"connect to (?P<relay>(?P<relay_host>[^\s\[\]]*)(?:\[(?P<relay_ip>[^\]]*)\]"
        r"(?::(?P<relay_port>\d+))?)?): (?P<reason>.*)$",
    ),
    Rule(
        "remote_said",
        SMTP,
        rf"host {RELAY} (?P<action>said|refused to talk to me): {REPLY}(?P<reason>.*?)"
        r"(?: \(in reply to (?P<stage>.*) command\))?$",
    ),
    Rule(
        "remote_said",
        SMTP,
        rf"(?P<action>lost connection|conversation) with {RELAY} (?:timed out )?while"
        r" (?P<stage>.*)$",
    ),
    Rule(
        "tls",
        SMTP,
        r"(?P<action>Anonymous|Trusted|Untrusted|Verified) TLS connection established to "
        rf"{RELAY}: (?P<tls>.*)$",
    ),
    Rule("tls_failed", SMTP, rf"SSL_connect error to {RELAY}: (?P<reason>.*)$"),
    Rule(
        "tls_failed",
        SMTP,
        rf"(?:server )?certificate verification failed for {RELAY}: (?P<reason>.*)$",
    ),
    Rule(
        "sasl_failed",
        SMTP,
        rf"SASL authentication failed; (?:server|cannot authenticate to server) {RELAY}"
        r"(?: said)?:? ?(?P<reason>.*)$",
    ),
    Rule("pix_workarounds", SMTP, rf"enabling PIX workarounds: (?P<detail>.*) for {RELAY}$"),
    # --- bounce --------------------------------------------------------------------------------
    *[
        Rule(
            "notification",
            ("bounce",),
            rf"{wording} notification: (?P<next_queue_id>\S+)$",
            {"action": action},
        )
        for wording, action in NOTIFICATIONS.items()
    ],
    Rule(
        "notification_failed",
        ("bounce",),
        r"(?P<severity>warning): (?P<detail>(?:postmaster|sender) notice failed .*)$",
    ),
    # --- pickup, postsuper ---------------------------------------------------------------------
    Rule(
        "pickup",
        ("pickup",),
        r"uid=(?P<uid>\d+) from=(?:<[^>]*>|\S*)(?: orig_id=(?P<orig_queue_id>\S+))?$",
        keys=("sender",),
    ),
    Rule("deleted", ("postsuper",), r"removed$"),
    Rule("requeued", ("postsuper",), r"requeued$"),
    Rule("held", ("postsuper",), r"placed on hold$"),
    Rule("released", ("postsuper",), r"released from hold$"),
    Rule(
        "postsuper_summary",
        ("postsuper",),
        r"(?P<action>Deleted|Requeued|Placed on hold|Released from hold): (?P<count>\d+)"
        r" messages?$",
    ),
    # --- master, postfix-script, anvil, scache -------------------------------------------------
    Rule("master_start", ("master",), r"daemon started -- (?P<detail>.*)$"),
    Rule("master_reload", ("master",), r"reload (?:-- )?(?P<detail>.*)$"),
    Rule("master_stop", ("master",), r"terminating on signal (?P<detail>.*)$"),
    Rule(
        "anvil_stats",
        ("anvil",),
        r"statistics: max (?P<action>[a-z ]+?) (?P<count>\d+)(?:/\d+[smhd])?"
        # (smtp:192.0.2.1), (smtpd:2001:db8::1), or the listener (127.0.0.1:2525:192.0.2.1)
        r"(?: for \((?P<detail>(?:[\d.]+:\d+|[^:)]*):(?P<client_ip>[^)]*))\))?"
        r"(?: at (?P<reason>.*))?$",
    ),
    Rule("scache_stats", ("scache",), r"statistics: (?P<detail>.*)$"),
    # --- every daemon --------------------------------------------------------------------------
    Rule("canceled", None, r"canceled$"),
    Rule("warning", None, r"(?P<severity>warning): (?P<detail>.*)$"),
    Rule("error", None, r"(?P<severity>error): (?P<detail>.*)$"),
    Rule("fatal", None, r"(?P<severity>fatal): (?P<detail>.*)$"),
    Rule("panic", None, r"(?P<severity>panic): (?P<detail>.*)$"),
    Rule(
        "notice",
        SMTPD,
        rf"(?P<detail>bare <LF> received after (?P<stage>\S+) from {CLIENT}.*)$",
    ),
    Rule("notice", None, rf"(?P<detail>(?:{NOTICES}).*)$"),
    Rule("debug", None, rf"(?P<detail>(?:{VERBOSE}).*)$"),
    Rule("script", ("postfix-script", "postlog", "postfix"), r"(?P<detail>.+)$"),
]


@dataclass(frozen=True)
class KeyField:
    """A ``key=value`` field read by name wherever it stands in the line.

    ``style`` says where the value ends: ``address`` – ``<…>`` (or a bare word), ``item`` – at
    the next ", " (the comma lists of delivery and client lines), ``word`` – at the next space
    or comma. They are cut with string functions, not regexes: a key lookup runs on every
    delivery line, and a regex search costs ten times a ``strpos``.
    """

    column: str
    key: str
    style: str = "item"
    sql: str = ""  # an SQL expression over ``body`` for values no style fits


KEY_FIELDS: list[KeyField] = [
    KeyField("sender", "from", "address"),
    KeyField("recipient", "to", "address"),
    KeyField("orig_recipient", "orig_to", "address"),
    KeyField("relay", "relay"),
    KeyField("conn_use", "conn_use"),
    KeyField("delay", "delay"),
    KeyField("tls", "tls"),
    KeyField("dsn", "dsn"),
    KeyField("size", "size"),
    KeyField("nrcpt", "nrcpt", "word"),
    KeyField("sasl_method", "sasl_method"),
    KeyField("sasl_username", "sasl_username"),
    KeyField("sasl_sender", "sasl_sender"),
    KeyField("orig_queue_id", "orig_queue_id"),
    KeyField("orig_client", "orig_client"),
    KeyField("proto", "proto", "word"),
    KeyField("helo", "helo", "address"),
    KeyField("status", "status", "word"),
    KeyField("count", "commands", "word"),  # disconnect: commands=total or commands=ok/total
    # status=sent (250 2.0.0 Ok: queued as X): the response is what the parentheses hold;
    # the next queue ID is the X of "queued as X" (a content filter) or "forwarded as X".
    KeyField(
        "response",
        "status",
        sql="CASE WHEN ends_with(body, ')') AND contains(body, ', status=') THEN "
        "regexp_extract(split_part(body, ', status=', 2), '^\\S+ \\((.*)\\)$', 1) END",
    ),
    KeyField(
        "next_queue_id",
        "as",
        sql="CASE WHEN contains(body, 'queued as ') "
        "THEN regexp_extract(split_part(body, 'queued as ', 2), '^[0-9A-Za-z]+') "
        "WHEN contains(body, 'forwarded as ') "
        "THEN regexp_extract(split_part(body, 'forwarded as ', 2), '^[0-9A-Za-z]+') END",
    ),
]

# delays=a/b/c/d: time before the queue manager, in it, connection set-up, transmission.
DELAYS_PATTERN = r"delays=([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+)"
DELAYS_COLUMNS = ("delay_before_qmgr", "delay_in_qmgr", "delay_conn", "delay_xmit")

# Daemons whose program name marks a line as Postfix even when the syslog name is custom
# (``mta-out/smtp``): a program counts as Postfix if it starts with "postfix" or ends in one.
POSTFIX_DAEMONS = [
    "anvil",
    "bounce",
    "cleanup",
    "discard",
    "dnsblog",
    "error",
    "flush",
    "lmtp",
    "local",
    "master",
    "oqmgr",
    "pickup",
    "pipe",
    "postdrop",
    "postfix-script",
    "postlog",
    "postmulti",
    "postqueue",
    "postscreen",
    "postsuper",
    "proxymap",
    "qmgr",
    "qmqpd",
    "retry",
    "scache",
    "sendmail",
    "showq",
    "smtp",
    "smtpd",
    "spawn",
    "tlsmgr",
    "tlsproxy",
    "trivial-rewrite",
    "verify",
    "virtual",
]


# Which table of the index each kind of event is stored in (the rest go to ev_other); the
# `events` view unites them.
EVENT_TABLES = {
    "ev_delivery": ("delivery",),
    "ev_message": (
        "queued",
        "message_id",
        "resent_message_id",
        "pickup",
        "expired",
        "removed",
        "skipped",
        "deleted",
        "requeued",
        "held",
        "released",
        "notification",
        "canceled",
        "postsuper_summary",
        "client",
    ),
    "ev_session": (
        "connect",
        "disconnect",
        "lost_connection",
        "tls",
        "tls_failed",
        "sasl_failed",
        "violation",
        "pass_new",
        "pass_old",
        "pregreet",
        "dnsbl",
        "hangup",
        "allowlisted",
        "denylisted",
        "dnsbl_listed",
    ),
    "ev_reject": (
        "reject",
        "reject_warning",
        "hold",
        "discard",
        "redirect",
        "filter",
        "milter_reject",
        "proxy_accept",
        "proxy_reject",
        "header_warning",
        "replace",
        "prepend",
        "info",
        "milter_header",
        "noqueue_other",
    ),
}
OTHER_EVENTS = "ev_other"


def table_of(kind: str) -> str:
    for table, kinds in EVENT_TABLES.items():
        if kind in kinds:
            return table
    return OTHER_EVENTS
