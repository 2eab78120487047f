#!/usr/bin/env python3
"""Write a synthetic Postfix syslog for benchmarking mailidx.

The output imitates a busy pair of MX hosts (mx1, mx2) running Postfix 3.7
with postscreen, an amavis content filter on 127.0.0.1:10024/10025, dovecot
LMTP delivery, submission with SASL, and the usual background noise: NOQUEUE
rejects, DNSBL hits, SASL brute force, deferrals, bounces, expiries, anvil
statistics and ~5 % of lines from other programs (dovecot, amavis, opendkim).

Sessions are built as whole line lists and interleaved at random, so lines of
concurrent connections and messages mix as in a real log; time runs forward
over the chosen days with a day/night rhythm. The output depends only on the
arguments (same seed, same bytes). Large logs are made in two halves, one per
process, joined at a fixed line number; the few sessions in flight at the
join are cut there, as at a log rotation.

    python bench/generate_log.py --lines 200000 --out /tmp/mail.log
"""

from __future__ import annotations

import argparse
import calendar
import gc
import gzip
import heapq
import os
import random
import shutil
import sys
import time
from base64 import b64encode, urlsafe_b64encode
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

DEFAULT_LINES = 2_000_000
DEFAULT_START = "2024-11-25"
DEFAULT_DAYS = 7
CONCURRENCY = 8  # sessions whose lines are interleaved at any moment
FLUSH_LINES = 65536
PIDS_PER_LINE = 0.4  # how fast pids rise, per line of log (measured), times host share
SPLIT_AT = 400_000  # logs at least this long are made in two halves, in parallel


def words(text: str) -> list[str]:
    return text.split()


MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
B52 = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"
B51 = B52[:-1]  # the inode part of a long queue ID never uses "z"
PAIRS52 = [a + b for a in B52 for b in B52]  # two base-52 digits, 0..2703
PAIRS51 = [a + b for a in B51 for b in B51]
# Relative activity per hour of day (UTC), mean ~1.
HOURLY = [
    0.35, 0.3, 0.28, 0.27, 0.3, 0.4, 0.6, 0.9, 1.3, 1.5, 1.5, 1.45,
    1.3, 1.4, 1.5, 1.45, 1.35, 1.2, 1.0, 0.85, 0.75, 0.65, 0.55, 0.45,
]  # fmt: skip

FIRST = words(
    """alice bob carol dave erin frank grace heidi ivan judy oscar peggy trent victor
walter anna lukas sofia mateo chen yuki priya omar lena noah emma liam olga pavel ines
marco hana tomas nina"""
)
LAST = words(
    """smith jones garcia muller rossi dubois kowalski tanaka nguyen silva novak jensen
berg costa fischer weber moreau haas lopez khan"""
)
WORDS = words(
    """north blue river stone bright alpha nova pixel cedar harbor summit vector atlas
maple quantum delta orbit lumen civic metro falcon granite willow"""
)
SUFFIXES = words(
    """labs tech group media systems logistics consulting foods travel bank shop
design energy health school"""
)
TLDS = ["com", "com", "com", "net", "org", "de", "fr", "co.uk", "io", "nl", "it", "pl", "es"]
FREEMAIL = words(
    """gmail.com outlook.com hotmail.com yahoo.com gmx.de web.de icloud.com proton.me
orange.fr mail.ru"""
)
LOCAL_DOMAINS = ["example.org", "example.net", "example.com"]
ROLE_USERS = ["info", "sales", "support", "billing", "office", "hr", "jobs", "noreply"]
SPAM_HELOS = ["ylmf-pc", "User", "WIN-3K2J4H5QF8", "localhost.localdomain", "ADMIN"]
TLS13 = "TLSv1.3 with cipher TLS_AES_{0}_GCM_SHA{1} ({0}/{0} bits) key-exchange X25519"
RSA_PSS = " server-signature RSA-PSS (2048 bits) server-digest SHA256"
TLS_IN = [
    TLS13.format(256, 384) + RSA_PSS,
    TLS13.format(128, 256) + RSA_PSS,
    "TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)",
    "TLSv1.2 with cipher ECDHE-RSA-AES128-GCM-SHA256 (128/128 bits)",
    "TLSv1.2 with cipher ECDHE-ECDSA-AES256-GCM-SHA384 (256/256 bits)",
]
TLS_OUT = [
    TLS13.format(256, 384) + " server-signature ECDSA (P-256) server-digest SHA256",
    TLS13.format(256, 384) + RSA_PSS,
    "TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)",
]
DNSBLS = [
    ("zen.spamhaus.org", "127.0.0.4"),
    ("zen.spamhaus.org", "127.0.0.3"),
    ("zen.spamhaus.org", "127.0.0.11"),
    ("b.barracudacentral.org", "127.0.0.2"),
    ("bl.spamcop.net", "127.0.0.2"),
    ("dnsbl.sorbs.net", "127.0.0.10"),
]
# first octets of public unicast space (no 10, 100, 127, 169, 172, 192 or 224+)
PUBLIC_FIRST_OCTETS = [o for o in range(1, 224) if o not in (10, 100, 127, 169, 172, 192)]
PUBLIC_FIRST_OCTETS += [5, 23, 31, 37, 45, 46, 62, 77, 78, 80, 85, 89, 91, 185, 193, 194, 212, 213]
REJECT_KINDS = [0, 0, 0, 1, 1, 1, 1, 2, 2, 3]  # relay, unknown user, greylisted, RBL
AMAVIS_MTA = "250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as"
NO_RESOLVE = "Name or service not known"
UNKNOWN_USER = "Recipient address rejected: User unknown in virtual mailbox table"
GREYLISTED = "Recipient address rejected: Greylisted"
TIMED_OUT = "Connection timed out"
TLS_EOF = (
    "warning: TLS library problem: error:0A000126:SSL routines::"
    "unexpected eof while reading:../ssl/record/rec_layer_s3.c:317:"
)
IMAP_OUT = "deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0"


class Host:
    """One MX: its name, address, long-lived daemons and queue ID style."""

    def __init__(self, rng: random.Random, name: str, ip: str, long_ids: bool, share: float):
        self.rng = rng
        self.share = share  # of the sessions
        self.name = name
        self.fqdn = f"{name}.example.org"
        self.ip = ip
        self.long_ids = long_ids
        self.pf = f"{name} postfix/"
        # mx2 runs its content-filter client under syslog_name postfix/amavis
        self.filter_smtp = "amavis/smtp" if long_ids else "smtp"
        self.filter_outbound = not long_ids  # mx2 filters only mail from outside
        self.lifetime = 86400 if long_ids else 5 * 86400  # maximal_queue_lifetime
        self.last_pid = rng.randrange(2000, 60000)
        self.inode_base = rng.randrange(0x10000, 0x3FFFF)
        # queue-file inode numbers: 5-6 hex digits (short IDs of 10-11 chars)
        self.inode_span = 0x3000 if long_ids else 0x400000
        self.pools: dict[str, list] = {}
        self.fixed = {k: self.new_pid() for k in ("qmgr", "master", "amavis", "od")}
        self.qmgr = f"{self.pf}qmgr[{self.fixed['qmgr']}]: "
        self.od = f"{name} opendkim[{self.fixed['od']}]: "

    def new_pid(self) -> int:
        self.last_pid += 1 + int(self.rng.random() * 60)
        if self.last_pid > 4194000:
            self.last_pid = 1000
        return self.last_pid

    def pid(self, daemon: str) -> int:
        """A pid of one of the few processes of this daemon, renewed slowly."""
        pool = self.pools.get(daemon)
        if pool is None:
            pool = self.pools[daemon] = [self.new_pid() for _ in range(6)]
        r = self.rng.random()
        i = int(r * 6)
        if r < 0.03:
            pool[i] = self.new_pid()
        return pool[i]

    def proc(self, daemon: str) -> str:
        """The syslog prefix `mx1 postfix/DAEMON[PID]: ` of one of its processes."""
        pool = self.pools.get(daemon)
        if pool is None:
            pool = self.pools[daemon] = [self._prefix(daemon) for _ in range(6)]
        r = self.rng.random()
        i = int(r * 6)
        if r < 0.03:
            pool[i] = self._prefix(daemon)
        return pool[i]

    def _prefix(self, daemon: str) -> str:
        return f"{self.pf}{daemon}[{self.new_pid()}]: "


class Timeline:
    """Maps line numbers to times: N lines over D days, busier by day."""

    def __init__(self, lines: int, start: str, days: float):
        self.t0 = calendar.timegm(time.strptime(start, "%Y-%m-%d"))
        lines = max(lines, 1)
        # seconds per line in each hour of day, so that N lines span D days
        self.steps = [3600 * days * sum(HOURLY) / (lines * w) for w in HOURLY]
        self.avg_step = days * 86400 / lines

    def time_at(self, n: int) -> float:
        """The expected time of line n."""
        t, left = float(self.t0), float(n)
        while True:
            hour_end = (t // 3600 + 1) * 3600
            step = self.steps[int(t // 3600) % 24]
            fit = (hour_end - t) / step
            if left <= fit:
                return t + left * step
            left -= fit
            t = hour_end


class Generator:
    """Builds sessions (lists of lines) and interleaves them over time."""

    def __init__(self, seed: int, lines: int, timeline: Timeline, first: int = 0, part: int = 0):
        # Hosts, users and clients come from the seed alone, so that every
        # part of one log shares them; the stream of sessions is per part.
        self.rng = random.Random(f"{seed}:pools")
        self.rnd = self.rng.random
        self.lines = lines
        self.timeline = timeline
        self.t_start = timeline.time_at(first)
        self.t_stop = timeline.time_at(first + lines)
        self.clock = self.t_start
        self.avg_step = timeline.avg_step
        self.produced = 0
        self.later: list[tuple[int, int, list[str]]] = []
        self.later_seq = 0
        self._sec_cache = (-1, "")
        self._ts_cache = (-1, "")
        self.hosts = [
            Host(self.rng, "mx1", "192.0.2.10", False, 0.65),
            Host(self.rng, "mx2", "192.0.2.11", True, 0.35),
        ]
        self._build_pools()
        self._build_session_table()
        self.rng = random.Random(f"{seed}:{part}")
        self.rnd = self.rng.random
        for h in self.hosts:
            h.rng = self.rng
            h.last_pid += int(first * PIDS_PER_LINE * h.share)  # rising across parts

    # -- pools ---------------------------------------------------------

    def pick(self, seq):
        return seq[int(self.rnd() * len(seq))]

    def ri(self, lo: int, hi: int) -> int:
        """Like randrange(lo, hi), cheaper."""
        return lo + int(self.rnd() * (hi - lo))

    def _rand_ip(self) -> str:
        r = self.ri
        first = self.pick(PUBLIC_FIRST_OCTETS)
        return f"{first}.{r(0, 256)}.{r(0, 256)}.{r(1, 255)}"

    def _domain(self) -> str:
        w, s = self.pick(WORDS), self.pick(SUFFIXES)
        return f"{w}{self.pick(['', '-'])}{s}.{self.pick(TLDS)}"

    def _person(self) -> str:
        f, last = self.pick(FIRST), self.pick(LAST)
        style = self.ri(0, 5)
        if style == 0:
            return f"{f}.{last}"
        if style == 4:
            return f
        if style == 1:
            return f"{f[0]}{last}"
        if style == 2:
            return f"{f}{self.ri(1, 99)}"
        return f"{f}_{last}"

    def _legit_client(self):
        """(client name, ip, helo, sender domain) of a real mail server."""
        r = self.ri
        kind = r(0, 10)
        if kind < 3:
            ip = f"209.85.{r(128, 256)}.{r(1, 255)}"
            if kind == 0 and r(0, 4) == 0:
                ip = f"2a00:1450:4864:20::{r(0x100, 0x700):x}"
            node = self.pick(["ej1", "wm1", "pl1", "lf1", "yw1"])
            name = f"mail-{node}-f{r(1, 200)}.google.com"
            return name, ip, name, self.pick(["gmail.com", "gmail.com", self._domain()])
        if kind < 5:
            region = self.pick(["db8eur05", "am6eur02", "vi1eur04", "eur03", "nam12"])
            name = f"mail-{region}on{r(2040, 2140)}.outbound.protection.outlook.com"
            ip = f"40.107.{r(0, 256)}.{r(1, 255)}"
            return name, ip, name, self.pick(["outlook.com", "hotmail.com", self._domain()])
        if kind == 5:
            name = f"a{r(8, 11)}-{r(1, 250)}.smtp-out.amazonses.com"
            return name, f"54.240.{r(0, 64)}.{r(1, 255)}", name, self._domain()
        dom = self._domain()
        name = f"{self.pick(['mail', 'mx', 'smtp', 'mx1', 'out'])}.{dom}"
        return name, self._rand_ip(), name, dom

    def _spam_client(self):
        ip = self._rand_ip()
        if self.rnd() < 0.6:
            name = "unknown"
        else:
            a, b, c, d = ip.split(".")
            isp = self.pick(["dyn.telecom", "static.ispnet", "pool.broadband", "adsl.vtx"])
            name = f"{d}-{c}-{b}-{a}.{isp}.{self.pick(TLDS)}"
        helo = self.pick([*SPAM_HELOS, f"[{ip}]", name, self._domain()])
        return name, ip, helo, self._domain()

    def _remote_mx(self):
        """(recipient domain, MX host, MX ip) for outbound mail."""
        r = self.ri
        dom = self.pick(FREEMAIL + [self._domain() for _ in range(6)])
        if dom == "gmail.com":
            mx = self.pick(["gmail-smtp-in.l.google.com", "alt1.gmail-smtp-in.l.google.com"])
            return dom, mx, f"142.250.{r(0, 256)}.{r(1, 255)}"
        if dom in ("outlook.com", "hotmail.com"):
            mx = f"{dom.replace('.', '-')}.olc.protection.outlook.com"
            return dom, mx, f"52.101.{r(0, 256)}.{r(1, 255)}"
        if dom == "yahoo.com":
            return dom, "mta7.am0.yahoodns.net", f"67.195.{r(0, 256)}.{r(1, 255)}"
        return dom, f"{self.pick(['mx', 'mx1', 'mail', 'smtp'])}.{dom}", self._rand_ip()

    def _delays(self, lo: float, hi: float, count: int) -> list[str]:
        """`delay=…, delays=a/b/c/d` texts with totals between lo and hi."""
        out = []
        for _ in range(count):
            total = lo * (hi / lo) ** self.rnd()
            a = total * self.rnd() * 0.5
            b = (total - a) * self.rnd() * 0.2
            c = (total - a - b) * self.rnd() * 0.6
            parts = "/".join(fmt_delay(x) for x in (a, b, c, total - a - b - c))
            out.append(f"delay={fmt_delay(total)}, delays={parts}")
        return out

    def _build_pools(self) -> None:
        self.people = [self._person() for _ in range(5000)]
        self.local_users = [
            f"{self.pick(self.people)}@{self.pick(LOCAL_DOMAINS)}" for _ in range(400)
        ]
        self.local_users += [f"{u}@{d}" for u in ROLE_USERS for d in LOCAL_DOMAINS]
        self.legit = [self._legit_client() for _ in range(3000)]
        self.spam = [self._spam_client() for _ in range(6000)]
        self.mxes = [self._remote_mx() for _ in range(800)]
        self.home_clients = [(n, ip) for n, ip, _, _ in self.spam[:300]]
        self.d_local = self._delays(0.01, 0.4, 512)
        self.d_filter = self._delays(0.1, 3.0, 512)
        self.d_remote = self._delays(0.3, 8.0, 512)
        self.sizes = [int(600 * 2000 ** (self.rnd() ** 1.6)) for _ in range(1024)]

    # -- helpers used by sessions ----------------------------------------

    def qid(self, h: Host) -> str:
        """A queue ID: short hex (mx1) or long base-52 (mx2), from the clock."""
        usec = int(self.rnd() * 1_000_000)
        inode = h.inode_base + int(self.rnd() * h.inode_span)
        if not h.long_ids:
            return f"{usec:05X}{inode:X}"
        sec = int(self.clock)
        if self._sec_cache[0] != sec:
            self._sec_cache = (sec, b_enc(sec, 6, B52))
        u, i = PAIRS52, PAIRS51
        usec_part = u[usec // 2704] + u[usec % 2704]
        return f"{self._sec_cache[1]}{usec_part}z{i[inode // 2601]}{i[inode % 2601]}"

    def token(self, n: int, url: bool = False) -> str:
        raw = self.rng.randbytes((n * 3 + 3) // 4)
        return (urlsafe_b64encode(raw) if url else b64encode(raw)).decode()[:n]

    def ts14(self) -> str:
        """The clock as YYYYMMDDhhmmss (cached per second)."""
        sec = int(self.clock)
        if self._ts_cache[0] != sec:
            self._ts_cache = (sec, time.strftime("%Y%m%d%H%M%S", time.gmtime(sec)))
        return self._ts_cache[1]

    def msgid(self, domain: str) -> str:
        g = self.rng.getrandbits
        kind = int(self.rnd() * 5)
        if kind == 0 or domain == "gmail.com":
            return f"CA{self.token(12)}{g(96):x}@mail.gmail.com"
        if kind == 1:
            return f"{g(32):08x}-{g(16):04x}-{g(16):04x}-{g(16):04x}-{g(48):012x}@{domain}"
        if kind == 2:
            return f"{self.ts14()}.{g(40):X}@{domain}"
        if kind == 3:
            box = f"{self.pick(['AM', 'DB', 'VI', 'PA'])}{g(8)}PR0{g(4)}MB{g(16):04d}"
            return f"{box}{g(20):05X}@eurprd0{g(3)}.prod.outlook.com"
        return f"{g(64):x}.{g(24)}@{domain}"

    def stamp_of(self, t: float) -> str:
        tm = time.gmtime(t)
        hms = f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}"
        return f"{MONTHS[tm.tm_mon - 1]} {tm.tm_mday:2d} {hms}"

    def schedule(self, after_seconds: float, lines: list[str]) -> None:
        """Start a session later (a retry, a returning greylisted client)."""
        due = self.produced + int(after_seconds / self.avg_step)
        self.later_seq += 1
        heapq.heappush(self.later, (due, self.later_seq, lines))

    def sender_addr(self, domain: str) -> str:
        if self.rnd() < 0.15:
            bulk = ["noreply", f"bounces+{self.rng.getrandbits(20)}", "newsletter"]
            return f"{self.pick(bulk)}@{domain}"
        return f"{self.pick(self.people)}@{domain}"

    # -- sessions ------------------------------------------------------

    def _postscreen_pass(self, h: Host, ip: str, port: int, out: list[str]) -> None:
        ps = h.proc("postscreen")
        out.append(f"{ps}CONNECT from [{ip}]:{port} to [{h.ip}]:25\n")
        if self.rnd() < 0.15:
            if self.rnd() < 0.2:
                dom, val = self.pick(DNSBLS)
                out.append(f"{h.proc('dnsblog')}addr {ip} listed by domain {dom} as {val}\n")
            out.append(f"{ps}PASS NEW [{ip}]:{port}\n")
        else:
            out.append(f"{ps}PASS OLD [{ip}]:{port}\n")

    def s_inbound(self, h: Host, client=None) -> list[str]:
        """Accepted inbound mail through postscreen, amavis and dovecot LMTP."""
        rnd = self.rnd
        name, ip, _helo, sdom = client or self.pick(self.legit)
        port = 1024 + int(rnd() * 64000)
        out: list[str] = []
        self._postscreen_pass(h, ip, port, out)
        smtpd = h.proc("smtpd")
        if rnd() < 0.04:
            w = f"warning: hostname {name} does not resolve to address {ip}: {NO_RESOLVE}"
            out.append(f"{smtpd}{w}\n")
            name = "unknown"
        cl = f"{name}[{ip}]"
        out.append(f"{smtpd}connect from {cl}\n")
        tls = rnd() < 0.8
        if tls:
            tls_text = self.pick(TLS_IN)
            out.append(f"{smtpd}Anonymous TLS connection established from {cl}: {tls_text}\n")
        qid = self.qid(h)
        out.append(f"{smtpd}{qid}: client={cl}\n")
        sender = self.sender_addr(sdom)
        n = 1 if rnd() < 0.85 else int(2 + rnd() * 3)
        rcpts = [self.pick(self.local_users) for _ in range(n)]
        size = self.pick(self.sizes)
        msgid = self.msgid(sdom)
        out.append(f"{h.proc('cleanup')}{qid}: message-id=<{msgid}>\n")
        if rnd() < 0.25:
            out.append(f"{h.od}{qid}: DKIM verification successful\n")
        out.append(f"{h.qmgr}{qid}: from=<{sender}>, size={size}, nrcpt={n} (queue active)\n")
        cmds = f"ehlo=2 starttls=1 mail=1 rcpt={n}" if tls else f"ehlo=1 mail=1 rcpt={n}"
        total = 4 + n + tls * 2
        out.append(f"{smtpd}disconnect from {cl} {cmds} data=1 quit=1 commands={total}\n")
        nq = self.filter_hop(h, out, qid, sender, rcpts, size, msgid, cl, "RelayedInbound")
        self.deliver_local(h, out, nq, rcpts, msgid)
        if rnd() < 0.2:
            self.schedule(60 + rnd() * 200, self.anvil(h, "smtp", ip))
        return out

    def filter_hop(self, h, out, qid, sender, rcpts, size, msgid, cl, how) -> str:
        """Delivery to amavis on :10024 and re-injection on :10025."""
        nq = self.qid(h)
        n = len(rcpts)
        s2 = h.proc("smtpd")
        local = "localhost[127.0.0.1]"
        out.append(f"{s2}connect from {local}\n")
        out.append(f"{s2}{nq}: client={local}, orig_queue_id={qid}, orig_client={cl}\n")
        out.append(f"{h.proc('cleanup')}{nq}: message-id=<{msgid}>\n")
        out.append(f"{h.qmgr}{nq}: from=<{sender}>, size={size + 650}, nrcpt={n} (queue active)\n")
        cmds = f"ehlo=1 mail=1 rcpt={n} data=1 quit=1 commands={4 + n}"
        out.append(f"{s2}disconnect from {local} {cmds}\n")
        am = h.fixed["amavis"]
        ip = cl[cl.index("[") + 1 : -1]
        hits = f"{self.rnd() * 6 - 2:.3f}"
        out.append(
            f"{h.name} amavis[{am}]: ({am:05d}-{self.ri(1, 99):02d}) Passed CLEAN {{{how}}}, "
            f"[{ip}] <{sender}> -> <{'>,<'.join(rcpts)}>, Queue-ID: {qid}, "
            f"Message-ID: <{msgid}>, mail_id: {self.token(12, True)}, Hits: {hits}, "
            f"size: {size}, queued_as: {nq}, {self.ri(150, 3000)} ms\n"
        )
        smtp = h.proc(h.filter_smtp)
        relay = "relay=127.0.0.1[127.0.0.1]:10024"
        for r in rcpts:
            d = self.pick(self.d_filter)
            out.append(
                f"{smtp}{qid}: to=<{r}>, {relay}, {d}, dsn=2.0.0, status=sent ({AMAVIS_MTA} {nq})\n"
            )
        out.append(f"{h.qmgr}{qid}: removed\n")
        return nq

    def deliver_local(self, h, out, qid, rcpts, msgid) -> None:
        """Final delivery to local mailboxes via dovecot LMTP or virtual."""
        if self.rnd() < 0.8:
            dpid = h.pid("lmtp")
            lmtp = f"{h.pf}lmtp[{dpid}]: {qid}: to=<"
            relay = f"relay={h.fqdn}[private/dovecot-lmtp]"
            for r in rcpts:
                sess = self.token(22)
                d = self.pick(self.d_local)
                saved = f"status=sent (250 2.0.0 <{r}> {sess} Saved)"
                out.append(f"{lmtp}{r}>, {relay}, {d}, dsn=2.0.0, {saved}\n")
                if self.rnd() < 0.5:
                    continue
                lmtp_id = f"lmtp({r})<{dpid + 7}><{sess}>"
                out.append(f"{h.name} dovecot: {lmtp_id}: msgid=<{msgid}>: saved mail to INBOX\n")
        else:
            virtual = h.proc("virtual")
            for r in rcpts:
                d = self.pick(self.d_local)
                out.append(
                    f"{virtual}{qid}: to=<{r}>, relay=virtual, {d}, "
                    "dsn=2.0.0, status=sent (delivered to maildir)\n"
                )
        out.append(f"{h.qmgr}{qid}: removed\n")

    def s_reject(self, h: Host) -> list[str]:
        """smtpd NOQUEUE rejects: relay, unknown user, greylisting, RBL."""
        rnd = self.rnd
        spammy = rnd() < 0.7
        client = self.pick(self.spam) if spammy else self.pick(self.legit)
        name, ip, helo, sdom = client
        port = 1024 + int(rnd() * 64000)
        out: list[str] = []
        self._postscreen_pass(h, ip, port, out)
        smtpd = h.proc("smtpd")
        cl = f"{name}[{ip}]"
        out.append(f"{smtpd}connect from {cl}\n")
        sender = self.sender_addr(sdom)
        kind = self.pick(REJECT_KINDS)
        n = 1 if rnd() < 0.85 else 2
        for _ in range(n):
            if kind == 0:
                r = f"{self.pick(self.people)}@{self.pick(self.mxes)[0]}"
                reply = f"554 5.7.1 <{r}>: Relay access denied"
            elif kind == 1:
                r = f"{self.pick(self.people)}@{self.pick(LOCAL_DOMAINS)}"
                reply = f"550 5.1.1 <{r}>: {UNKNOWN_USER}"
            elif kind == 2:
                r = self.pick(self.local_users)
                url = f"https://postgrey.schweikert.ch/help/{r.split('@')[1]}.html"
                reply = f"450 4.7.1 <{r}>: {GREYLISTED}, see {url}"
            else:
                r = self.pick(self.local_users)
                url = f"; https://www.spamhaus.org/query/ip/{ip}" if rnd() < 0.4 else ""
                reply = (
                    f"554 5.7.1 Service unavailable; Client host [{ip}] blocked using "
                    f"zen.spamhaus.org{url}"
                )
            env = f"from=<{sender}> to=<{r}> proto=ESMTP helo=<{helo}>"
            out.append(f"{smtpd}NOQUEUE: reject: RCPT from {cl}: {reply}; {env}\n")
        if rnd() < 0.3:
            out.append(f"{smtpd}lost connection after RCPT from {cl}\n")
            cmds = f"ehlo=1 mail=1 rcpt=0/{n} commands=2/{2 + n}"
        else:
            cmds = f"ehlo=1 mail=1 rcpt=0/{n} data=0/1 rset=1 quit=1 commands=4/{5 + n}"
        out.append(f"{smtpd}disconnect from {cl} {cmds}\n")
        if kind == 2 and not spammy:
            self.schedule(300 + rnd() * 900, self.s_inbound(h, client))
        return out

    def s_postscreen_block(self, h: Host) -> list[str]:
        """Clients stopped by postscreen: DNSBL, PREGREET, HANGUP."""
        rnd = self.rnd
        _name, ip, helo, sdom = self.pick(self.spam)
        peer = f"[{ip}]:{1024 + int(rnd() * 64000)}"
        ps = h.proc("postscreen")
        out = [f"{ps}CONNECT from {peer} to [{h.ip}]:25\n"]
        rank = 0
        for dom, val in DNSBLS[: 1 + int(rnd() * 3)]:
            out.append(f"{h.proc('dnsblog')}addr {ip} listed by domain {dom} as {val}\n")
            rank += 2 if dom.startswith("zen") else 1
        if rnd() < 0.3:
            after = f"0.{int(rnd() * 99):02d}"
            out.append(
                f"{ps}PREGREET {len(helo) + 7} after {after} from {peer}: EHLO {helo}\\r\\n\n"
            )
        out.append(f"{ps}DNSBL rank {rank} for {peer}\n")
        if rnd() < 0.45:
            r = self.pick(self.local_users)
            why = f"550 5.7.1 Service unavailable; client [{ip}] blocked using zen.spamhaus.org"
            env = f"from=<{self.sender_addr(sdom)}> to=<{r}> proto=ESMTP helo=<{helo}>"
            out.append(f"{ps}NOQUEUE: reject: RCPT from {peer}: {why}; {env}\n")
        elif rnd() < 0.5:
            out.append(
                f"{ps}HANGUP after {rnd() * 9:.1f} from {peer} in tests after SMTP handshake\n"
            )
        out.append(f"{ps}DISCONNECT {peer}\n")
        return out

    def s_submission(self, h: Host) -> list[str]:
        """Authenticated outbound mail: submission, DKIM, amavis, smtp out."""
        rnd = self.rnd
        user = self.pick(self.local_users)
        domain = user.split("@")[1]
        cname, ip = self.pick(self.home_clients)
        cl = f"{cname}[{ip}]"
        sub = h.proc("submission/smtpd")
        out = [f"{sub}connect from {cl}\n"]
        out.append(f"{sub}Anonymous TLS connection established from {cl}: {self.pick(TLS_IN)}\n")
        qid = self.qid(h)
        method = "PLAIN" if rnd() < 0.7 else "LOGIN"
        out.append(f"{sub}{qid}: client={cl}, sasl_method={method}, sasl_username={user}\n")
        n = 1 if rnd() < 0.8 else int(2 + rnd() * 3)
        targets = [self.pick(self.mxes) for _ in range(n)]
        rcpts = [f"{self.pick(self.people)}@{t[0]}" for t in targets]
        size = self.pick(self.sizes)
        msgid = self.msgid(domain)
        out.append(f"{h.proc('cleanup')}{qid}: message-id=<{msgid}>\n")
        out.append(f"{h.od}{qid}: DKIM-Signature field added (s=mail, d={domain})\n")
        out.append(f"{h.qmgr}{qid}: from=<{user}>, size={size}, nrcpt={n} (queue active)\n")
        cmds = f"ehlo=2 starttls=1 auth=1 mail=1 rcpt={n} data=1 quit=1 commands={7 + n}"
        out.append(f"{sub}disconnect from {cl} {cmds}\n")
        nq = qid
        if h.filter_outbound:
            nq = self.filter_hop(h, out, qid, user, rcpts, size, msgid, cl, "RelayedOutbound")
            size += 650  # amavis added its headers
        pending = self.deliver_remote(
            h, out, nq, user, list(zip(rcpts, targets, strict=True)), size
        )
        if not pending:
            out.append(f"{h.qmgr}{nq}: removed\n")
        return out

    def deliver_remote(self, h, out, qid, sender, rt, size, age=0, retry=0) -> bool:
        """Outbound smtp deliveries; returns True when some were deferred.

        age is the seconds since the message arrived (0 on the first try).
        """
        smtp = h.proc("smtp")
        deferred = []
        sent_below = 0.7 if age else 0.88
        for r, (dom, mx, mip) in rt:
            roll = self.rnd()
            if roll < sent_below:
                self.out_sent(out, smtp, qid, r, mx, mip)
            elif roll < 0.95:
                deferred.append((r, (dom, mx, mip)))
                self.out_deferred(out, smtp, qid, r, mx, mip, age)
            else:
                self.out_bounced(h, out, smtp, qid, r, mx, mip, sender)
        if deferred:
            self.schedule_retry(h, qid, sender, deferred, size, retry + 1, age)
        return bool(deferred)

    def out_sent(self, out, smtp, qid, r, mx, mip) -> None:
        if self.rnd() < 0.7:
            trust = self.pick(["Verified", "Trusted", "Untrusted"])
            tls = self.pick(TLS_OUT)
            out.append(f"{smtp}{trust} TLS connection established to {mx}[{mip}]:25: {tls}\n")
        if "google" in mx:
            g = self.rng.getrandbits
            ref = f"{g(44):x}-{g(40):x}si{g(36):x}.{self.ri(100, 999)}"
            reply = f"250 2.0.0 OK  {int(self.clock)} {ref} - gsmtp"
        else:
            reply = f"250 2.0.0 Ok: queued as {self.rng.getrandbits(44):011X}"
        d = self.pick(self.d_remote)
        out.append(
            f"{smtp}{qid}: to=<{r}>, relay={mx}[{mip}]:25, {d}, dsn=2.0.0, status=sent ({reply})\n"
        )

    def out_deferred(self, out, smtp, qid, r, mx, mip, age) -> None:
        kind = int(self.rnd() * 3)
        age = int(age)
        if kind == 0:
            self.out_timeout(out, smtp, qid, r, mx, mip, age)
            return
        d = f"delay={age + 1}, delays={age}/0.02/0.41/0.09" if age else self.pick(self.d_remote)
        if kind == 1:
            resp = f"450 4.7.1 <{r}>: {GREYLISTED}, try again later (in reply to RCPT TO command)"
            dsn = "4.7.1"
        else:
            resp = "421 4.7.0 Try again later, closing connection. (in reply to MAIL FROM command)"
            dsn = "4.7.0"
        status = f"status=deferred (host {mx}[{mip}] said: {resp})"
        out.append(f"{smtp}{qid}: to=<{r}>, relay={mx}[{mip}]:25, {d}, dsn={dsn}, {status}\n")

    def out_timeout(self, out, smtp, qid, r, mx, mip, age) -> None:
        err = f"connect to {mx}[{mip}]:25: {TIMED_OUT}"
        out.append(f"{smtp}{err}\n")
        d = f"delay={age + 30}, delays={age}/0.01/30/0"
        out.append(f"{smtp}{qid}: to=<{r}>, relay=none, {d}, dsn=4.4.1, status=deferred ({err})\n")

    def out_bounced(self, h, out, smtp, qid, r, mx, mip, sender) -> None:
        if self.rnd() < 0.7:
            dsn = "5.1.1"
            resp = f"550 5.1.1 <{r}>: {UNKNOWN_USER} (in reply to RCPT TO command)"
        else:
            dsn = "5.3.4"
            resp = "552 5.3.4 Message size exceeds fixed limit (in reply to end of DATA command)"
        d = self.pick(self.d_remote)
        status = f"status=bounced (host {mx}[{mip}] said: {resp})"
        out.append(f"{smtp}{qid}: to=<{r}>, relay={mx}[{mip}]:25, {d}, dsn={dsn}, {status}\n")
        self.bounce_notice(h, out, qid, sender)

    def bounce_notice(self, h, out, qid, sender) -> None:
        """bounce daemon's notification and the delivery of the new message."""
        bq = self.qid(h)
        out.append(f"{h.proc('bounce')}{qid}: sender non-delivery notification: {bq}\n")
        msgid = f"{self.ts14()}.{bq}@{h.fqdn}"
        out.append(f"{h.proc('cleanup')}{bq}: message-id=<{msgid}>\n")
        size = self.ri(2500, 9000)
        out.append(f"{h.qmgr}{bq}: from=<>, size={size}, nrcpt=1 (queue active)\n")
        self.deliver_local(h, out, bq, [sender], msgid)

    def schedule_retry(self, h, qid, sender, rt, size, retry, age) -> None:
        """Queue-manager retries of deferred mail; they end sent or expired.

        The retry session is built now and scheduled to start after the
        back-off; age is the message's age now, in seconds.
        """
        age += 300 * 2 ** min(retry, 4)
        out: list[str] = []
        if age > h.lifetime:
            out.append(f"{h.qmgr}{qid}: from=<{sender}>, status=expired, returned to sender\n")
            self.bounce_notice(h, out, qid, sender)
            out.append(f"{h.qmgr}{qid}: removed\n")
        else:
            nrcpt = len(rt)
            out.append(
                f"{h.qmgr}{qid}: from=<{sender}>, size={size}, nrcpt={nrcpt} (queue active)\n"
            )
            if retry > 3 or self.rnd() < 0.1:  # a dead destination stays dead
                smtp = h.proc("smtp")
                for r, (_d, mx, mip) in rt:
                    self.out_timeout(out, smtp, qid, r, mx, mip, age)
                self.schedule_retry(h, qid, sender, rt, size, retry + 1, age)
            elif not self.deliver_remote(h, out, qid, sender, rt, size, age, retry):
                out.append(f"{h.qmgr}{qid}: removed\n")
        self.schedule(age, out)

    def s_local(self, h: Host) -> list[str]:
        """Locally submitted mail (cron, web app) picked up and delivered."""
        qid = self.qid(h)
        uid, user = self.pick([(0, "root"), (0, "root"), (33, "www-data"), (1000, "deploy")])
        out = [f"{h.proc('pickup')}{qid}: uid={uid} from=<{user}>\n"]
        out.append(f"{h.proc('cleanup')}{qid}: message-id=<{self.ts14()}.{qid}@{h.fqdn}>\n")
        size = self.ri(500, 4000)
        out.append(f"{h.qmgr}{qid}: from=<{user}@{h.fqdn}>, size={size}, nrcpt=1 (queue active)\n")
        d = self.pick(self.d_local)
        out.append(
            f"{h.proc('local')}{qid}: to=<admin@{h.fqdn}>, orig_to=<{user}>, relay=local, "
            f"{d}, dsn=2.0.0, status=sent (delivered to mailbox)\n"
        )
        out.append(f"{h.qmgr}{qid}: removed\n")
        return out

    def s_bruteforce(self, h: Host) -> list[str]:
        """SASL password guessing on submission/smtps."""
        rnd = self.rnd
        name, ip, _helo, _ = self.pick(self.spam)
        cl = f"{name}[{ip}]"
        smtpd = h.proc("submission/smtpd" if rnd() < 0.85 else "smtps/smtpd")
        out = [f"{smtpd}connect from {cl}\n"]
        tls = rnd() < 0.6
        if tls:
            out.append(f"{smtpd}Anonymous TLS connection established from {cl}: {TLS_IN[2]}\n")
        tries = 1 + int(rnd() * 3)
        method = self.pick(["LOGIN", "LOGIN", "PLAIN"])
        reason = "UGFzc3dvcmQ6" if method == "LOGIN" else "authentication failure"
        for _ in range(tries):
            out.append(f"{smtpd}warning: {cl}: SASL {method} authentication failed: {reason}\n")
        st = "ehlo=2 starttls=1" if tls else "ehlo=1"
        c = 1 + tls * 2
        if rnd() < 0.5:
            out.append(f"{smtpd}lost connection after AUTH from {cl}\n")
            cmds = f"{st} auth=0/{tries} commands={c}/{c + tries}"
        else:
            cmds = f"{st} auth=0/{tries} quit=1 commands={c + 1}/{c + tries + 1}"
        out.append(f"{smtpd}disconnect from {cl} {cmds}\n")
        if rnd() < 0.3:
            self.schedule(60 + rnd() * 200, self.anvil(h, "submission", ip))
        return out

    def s_lost(self, h: Host) -> list[str]:
        """Scanners and broken clients that connect and drop."""
        name, ip, _helo, _ = self.pick(self.spam)
        cl = f"{name}[{ip}]"
        smtpd = h.proc("smtpd")
        out = [f"{smtpd}connect from {cl}\n"]
        r = self.rnd()
        if r < 0.4:
            out.append(f"{smtpd}lost connection after CONNECT from {cl}\n")
            out.append(f"{smtpd}disconnect from {cl} commands=0/0\n")
        elif r < 0.7:
            out.append(f"{smtpd}lost connection after EHLO from {cl}\n")
            out.append(f"{smtpd}disconnect from {cl} ehlo=1 commands=1\n")
        elif r < 0.9:
            out.append(f"{smtpd}{TLS_EOF}\n")
            out.append(f"{smtpd}lost connection after STARTTLS from {cl}\n")
            out.append(f"{smtpd}disconnect from {cl} ehlo=1 starttls=0/1 commands=1/2\n")
        else:
            out.append(f"{smtpd}warning: non-SMTP command from {cl}: GET / HTTP/1.1\n")
            out.append(f"{smtpd}disconnect from {cl} unknown=0/1 commands=0/1\n")
        return out

    def anvil(self, h: Host, svc: str, ip: str) -> list[str]:
        a = h.proc("anvil")
        at = self.stamp_of(self.clock)
        return [
            f"{a}statistics: max connection rate 1/60s for ({svc}:{ip}) at {at}\n",
            f"{a}statistics: max connection count 1 for ({svc}:{ip}) at {at}\n",
            f"{a}statistics: max cache size {1 + int(self.rnd() * 4)} at {at}\n",
        ]

    def s_imap(self, h: Host) -> list[str]:
        """dovecot IMAP logins (foreign lines)."""
        user = self.pick(self.local_users)
        _n, ip = self.pick(self.home_clients)
        sess = self.token(16)
        mpid = h.new_pid()
        dc = f"{h.name} dovecot: "
        if self.rnd() < 0.15:
            fail = "Disconnected: Connection closed (auth failed, 1 attempts in 2 secs)"
            who = f"user=<{user}>, method=PLAIN, rip={ip}, lip={h.ip}, TLS, session=<{sess}>"
            return [f"{dc}imap-login: {fail}: {who}\n"]
        login = f"user=<{user}>, method=PLAIN, rip={ip}, lip={h.ip}, mpid={mpid}, TLS"
        io = f"in={self.ri(50, 9000)} out={self.ri(500, 900000)}"
        return [
            f"{dc}imap-login: Login: {login}, session=<{sess}>\n",
            f"{dc}imap({user})<{mpid}><{sess}>: Logged out {io} {IMAP_OUT}\n",
        ]

    def s_misc(self, h: Host) -> list[str]:
        """Rare housekeeping: scache statistics, daily reload."""
        if self.rnd() < 0.8:
            sc = h.proc("scache")
            at = self.stamp_of(self.clock - 300)
            hits = self.ri(0, 40)
            miss = self.ri(1, 60)
            rate = 100 * hits // (hits + miss)
            return [
                f"{sc}statistics: start interval {at}\n",
                f"{sc}statistics: domain lookup hits={hits} miss={miss} success={rate}%\n",
                f"{sc}statistics: max simultaneous domains=1 addresses=2 connection=2\n",
            ]
        master = f"{h.pf}master[{h.fixed['master']}]: "
        return [
            f"{h.proc('postfix-script')}refreshing the Postfix mail system\n",
            f"{master}reload -- version 3.7.11, configuration /etc/postfix\n",
        ]

    def _build_session_table(self) -> None:
        weights = [
            (self.s_inbound, 20),
            (self.s_reject, 17),
            (self.s_postscreen_block, 40),
            (self.s_submission, 8),
            (self.s_bruteforce, 10),
            (self.s_lost, 20),
            (self.s_local, 3),
            (self.s_imap, 2),
            (self.s_misc, 0.3),
        ]
        total = sum(w for _, w in weights)
        table = []
        for fn, w in weights:
            table += [fn] * round(1000 * w / total)
        self.table = table

    def new_session(self) -> list[str]:
        """A fresh session (reversed, for pop()), or a scheduled one now due."""
        later = self.later
        if later and later[0][0] <= self.produced:
            lines = heapq.heappop(later)[2]
        else:
            h = self.hosts[0] if self.rnd() < self.hosts[0].share else self.hosts[1]
            lines = self.pick(self.table)(h)
        lines.reverse()
        return lines

    # -- the interleaving loop ---------------------------------------------

    def run(self, write) -> None:
        """Emit self.lines lines through write(str).

        Each line takes its time from a base clock that advances by the
        hour's mean step, plus a jitter below one step: times never go back
        and the last line stays before the next part's first.
        """
        rnd = self.rnd
        slots = [self.new_session() for _ in range(CONCURRENCY)]
        k = len(slots)
        hms = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d} " for s in range(86400)]
        steps = self.timeline.steps
        base = self.t_start
        last_sec = int(self.t_stop) - 1 if self.t_stop > self.t_start + 1 else int(base)
        next_sec = base
        day_start, prefix = -86400, ""
        stamp = ""
        step = steps[int(base // 3600) % 24]
        done = 0
        buf: list[str] = []
        put = buf.append
        while done < self.lines:
            chunk = min(FLUSH_LINES, self.lines - done)
            for n in range(done, done + chunk):
                x = rnd() * k
                i = int(x)
                s = slots[i]
                clock = base + step * (x - i)
                base += step
                if clock >= next_sec:
                    sec = int(clock)
                    if sec > last_sec:
                        sec = last_sec
                    next_sec = sec + 1
                    off = sec - day_start
                    if off >= 86400:
                        day_start, prefix = day_prefix(sec)
                        off = sec - day_start
                    stamp = prefix + hms[off]
                    step = steps[off // 3600]
                put(stamp)
                put(s.pop())
                if not s:
                    self.clock = clock
                    self.produced = n
                    slots[i] = self.new_session()
            write("".join(buf))
            buf.clear()
            done += chunk


def day_prefix(sec: int) -> tuple[int, str]:
    """Start of the (UTC) day holding sec, and its `Nov  3 ` stamp prefix."""
    start = sec - sec % 86400
    tm = time.gmtime(start)
    return start, f"{MONTHS[tm.tm_mon - 1]} {tm.tm_mday:2d} "


def b_enc(value: int, width: int, alphabet: str) -> str:
    base = len(alphabet)
    out = []
    for _ in range(width):
        value, d = divmod(value, base)
        out.append(alphabet[d])
    return "".join(reversed(out))


def fmt_delay(x: float) -> str:
    """Postfix's compact delay format: 52835, 1.8, 0.55, 0.01, 0."""
    if x >= 10:
        return str(int(x))
    if x >= 1:
        return f"{x:.1f}".rstrip("0").rstrip(".")
    if x < 0.005:
        return "0"
    return f"{x:.2f}".rstrip("0").rstrip(".")


def plan(lines: int) -> list[tuple[int, int]]:
    """(first line, line count) of each part; fixed by the line count only."""
    if lines < SPLIT_AT:
        return [(0, lines)]
    half = lines // 2
    return [(0, half), (half, lines - half)]


def write_part(path: str, seed: int, lines: int, start: str, days: float, part: int) -> str:
    """Generate one part into path (gzip-compressed when it ends in .gz)."""
    first, count = plan(lines)[part]
    gen = Generator(seed, count, Timeline(lines, start, days), first, part)
    opener = gzip.open if path.endswith(".gz") else open
    gc.disable()  # only short-lived lists here; collections cost ~7 %
    try:
        with opener(path, "wt", encoding="ascii", newline="") as fh:
            gen.run(fh.write)
    finally:
        gc.enable()
    return path


def generate(
    out: str | Path,
    lines: int = DEFAULT_LINES,
    seed: int = 1,
    start: str = DEFAULT_START,
    days: float = DEFAULT_DAYS,
) -> None:
    """Write the log to a path (".gz" compresses) or "-" for stdout."""
    parts = plan(lines)
    if str(out) == "-":
        if len(parts) == 1:
            gen = Generator(seed, lines, Timeline(lines, start, days))
            gen.run(sys.stdout.write)
            sys.stdout.flush()
            return
        tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"genlog-{os.getpid()}.log"
        generate(tmp, lines, seed, start, days)
        with open(tmp, "rb") as fh:
            shutil.copyfileobj(fh, sys.stdout.buffer, 1 << 20)
        sys.stdout.flush()
        tmp.unlink()
        return
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    names = [str(out) if i == 0 else f"{out}.part{i}{out.suffix}" for i in range(len(parts))]
    if len(parts) == 1 or (os.cpu_count() or 1) < 2:
        for i, name in enumerate(names):
            write_part(name, seed, lines, start, days, i)
    else:
        with ProcessPoolExecutor(len(parts)) as pool:
            jobs = [
                pool.submit(write_part, name, seed, lines, start, days, i)
                for i, name in enumerate(names)
            ]
            for job in jobs:
                job.result()
    append_parts(out, names[1:])


def append_parts(out: Path, names: list[str]) -> None:
    """Append part files to out (concatenated gzip members are valid gzip)."""
    with open(out, "r+b") as dst:
        for name in names:
            dst.seek(0, os.SEEK_END)
            with open(name, "rb") as src:
                copy_rest(src, dst)
            os.unlink(name)


def copy_rest(src, dst) -> None:
    """Copy src to dst from their current positions, in the kernel if it can."""
    left = os.fstat(src.fileno()).st_size - src.tell()
    try:
        while left > 0:
            n = os.copy_file_range(src.fileno(), dst.fileno(), left)
            if n == 0:
                break
            left -= n
    except (AttributeError, OSError):
        pass  # no copy_file_range here: both files stay where it stopped
    if left > 0:
        src.seek(os.lseek(src.fileno(), 0, os.SEEK_CUR))
        dst.seek(os.lseek(dst.fileno(), 0, os.SEEK_CUR))
        shutil.copyfileobj(src, dst, 1 << 20)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lines", type=int, default=DEFAULT_LINES, help="lines (default %(default)s)")
    p.add_argument("--out", default="-", help="output path, .gz to compress, - for stdout")
    p.add_argument("--seed", type=int, default=1, help="random seed (default %(default)s)")
    p.add_argument("--start", default=DEFAULT_START, help="first day YYYY-MM-DD (%(default)s)")
    p.add_argument("--days", type=float, default=DEFAULT_DAYS, help="days spanned (%(default)s)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    t = time.perf_counter()
    generate(args.out, args.lines, args.seed, args.start, args.days)
    if args.out != "-":
        dt = time.perf_counter() - t
        rate = args.lines / dt
        print(
            f"wrote {args.lines} lines to {args.out} in {dt:.2f}s ({rate:,.0f} lines/s)",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
