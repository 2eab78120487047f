"""Run a REAL private Postfix on loopback and produce real logs with ground truth.

Test dependencies (not needed by mailidx itself):
  * Python: aiosmtpd (``.venv/bin/pip install aiosmtpd``): fake remote MXs, the content filter
  * Debian: postfix (>= 3.4 for maillog_file/postlogd), optional swaks/pflogsumm
    (see ``.ci/install-system-deps.sh``)
  * must run as root: creates throw-away lab users (labalice, labbob, ...) and starts a
    private Postfix instance (``postfix -c DIR start``).  The distro Postfix is not used.

Everything lives on 127.0.0.0/8: the lab Postfix listens on free high ports of 127.0.0.1, the fake
remote domains (ok.test, nouser.test, ...) are aiosmtpd servers on 127.0.0.11-15, every destination
is routed by ``transport_maps`` to ``smtp:[IP]:PORT`` and DNS is disabled: no MX/A lookups, no
getfqdn(), no peer-name lookups on the MX port (clients show as ``unknown[IP]``); the submission and
re-injection ports, which only the harness uses from 127.0.0.1, look the name up and get
``localhost`` from /etc/hosts.  Nothing leaves the machine.  Lab users are created with useradd
and removed on exit, so run one lab at a time.

Usage::

    with PostfixLab() as lab:
        truth = run_scenarios(lab)
        text = lab.read_log()

``run_scenarios`` returns one ground-truth dict per message; ``check_ground_truth`` cross-checks the
ground truth against the produced log with a few deliberately simple regexes (it is a self-test
of the harness, not a parser).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import os
import random
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path
from typing import Any

LAB_HOSTNAME = "mx.lab.test"
LAB_DOMAIN = "lab.test"
LAB_USERS = ("labalice", "labbob", "labcarol", "labdave", "labfrank", "labgina")
MIN_POSTFIX = (3, 4)

# fake remote domains: domain -> (loopback address, behaviour)
REMOTES = {
    "ok.test": ("127.0.0.11", "accept"),
    "nouser.test": ("127.0.0.12", "nouser"),
    "big.test": ("127.0.0.13", "big"),
    "grey.test": ("127.0.0.14", "grey"),
    "full.test": ("127.0.0.15", "full"),
    # answers every message with the same queue ID, as unrelated servers sometimes do: two
    # messages handed to it must stay two flows
    "same.test": ("127.0.0.16", "same_id"),
}
SAME_REMOTE_QUEUE_ID = "4B3C2D1E0F"
DEAD_DOMAIN = "dead.test"
DEAD_IP = "127.0.0.19"
OUTSIDE_IP = "127.0.0.2"  # not in mynetworks: may only send to the lab's own domain
BULK_IP = "127.0.0.3"  # not in mynetworks, message-rate limited on the MX port
REFUSED_IP = "127.0.0.4"  # not in mynetworks, only ever refused (relay access denied at RCPT)
# labfrank's .forward delivers to an mbox file that is nearly as big as mailbox_size_limit
# allows (which must not be below message_size_limit)
SMALL_MAILBOX_USER = "labfrank"
MAILBOX_SIZE_LIMIT = 250000  # > MESSAGE_SIZE_LIMIT

# timing knobs of the lab (Postfix time units)
QUEUE_LIFETIME = "60s"
DELAY_WARNING = "30s"
QUEUE_RUN_DELAY = "5s"
MIN_BACKOFF = "5s"
MAX_BACKOFF = "10s"
MESSAGE_SIZE_LIMIT = 200000
BULK_RATE_LIMIT = 3  # messages per anvil_rate_time_unit (60s) from BULK_IP

QUEUED_AS_RE = re.compile(r"queued as ([0-9A-Za-z]+)")


class LabError(RuntimeError):
    pass


def unavailable_reason() -> str | None:
    """Why the lab cannot run here (None if it can). Use for pytest skips."""
    if os.name != "posix" or os.geteuid() != 0:
        return "real-Postfix lab needs root"
    for tool in (
        "postfix",
        "postconf",
        "postqueue",
        "postsuper",
        "postalias",
        "sendmail",
        "useradd",
        "userdel",
    ):
        if not shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
            return f"{tool} not installed (run .ci/install-system-deps.sh)"
    try:
        import aiosmtpd  # noqa: F401
    except ImportError:
        return "aiosmtpd not installed (pip install aiosmtpd)"
    ver = postfix_version()
    if ver is None or tuple(int(x) for x in ver.split(".")[:2]) < MIN_POSTFIX:
        return f"postfix >= 3.4 needed (found {ver})"
    return None


def postfix_version() -> str | None:
    try:
        out = subprocess.run(
            ["postconf", "-d", "-h", "mail_version"], capture_output=True, text=True, timeout=20
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out or None


def free_port(ip: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


def wait_port(ip: str, port: int, timeout: float = 20.0) -> None:
    """Wait until something on ip:port speaks a 220 banner."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((ip, port), timeout=2) as s:
                if s.recv(512).startswith(b"220"):
                    s.sendall(b"QUIT\r\n")
                    return
        except OSError as e:
            last = e
        time.sleep(0.2)
    raise LabError(f"nothing answered on {ip}:{port} within {timeout}s ({last})")


# ---------------------------------------------------------------------------------------------
# fake remote MX servers and the content filter (aiosmtpd)
# ---------------------------------------------------------------------------------------------


def _aiosmtpd():
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP

    return Controller, SMTP


class RemoteHandler:
    """Behaviour of one fake remote domain."""

    def __init__(self, domain: str, mode: str):
        self.domain = domain
        self.mode = mode
        self.grey_seen: set[str] = set()
        self.received: list[dict] = []
        self.lock = threading.Lock()
        self._n = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.mode == "nouser":
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if self.mode == "full":
            return f"552 5.2.2 <{address}>: Recipient address rejected: Mailbox full"
        if self.mode == "grey":
            key = address.lower()
            with self.lock:
                first = key not in self.grey_seen
                self.grey_seen.add(key)
            if first:
                return "450 4.7.1 Greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        if self.mode == "big":
            return "552 5.3.4 Message size exceeds fixed limit"
        content = envelope.content or b""
        m = re.search(rb"(?im)^message-id:\s*<([^>\r\n]+)>", content)
        with self.lock:
            self._n += 1
            qid = f"{self.domain.split('.')[0].upper()}{int(time.time()):X}{self._n:04d}"
            self.received.append(
                {
                    "mail_from": envelope.mail_from,
                    "rcpts": list(envelope.rcpt_tos),
                    "message_id": m.group(1).decode() if m else None,
                    "size": len(content),
                    "queue_id": qid,
                    "time": time.time(),
                }
            )
        if self.mode == "same_id":
            qid = SAME_REMOTE_QUEUE_ID
            self.received[-1]["queue_id"] = qid
        return f"250 2.0.0 Ok: queued as {qid}"


class FilterHandler:
    """A tiny after-queue content filter (FILTER_README style SMTP proxy).

    Postfix's ``scan`` transport delivers to us; we add a header and re-inject into the lab's
    second smtpd (content_filter empty), passing XFORWARD through, and answer with the amavis-like
    ``250 2.0.0 from MTA(smtp:[127.0.0.1]:PORT): 250 2.0.0 Ok: queued as QID``.
    """

    def __init__(self, reinject_port: int):
        self.reinject_port = reinject_port
        self.passed: list[dict] = []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        responses.insert(len(responses) - 1, "250-XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT")
        return responses

    async def handle_DATA(self, server, session, envelope):
        xf = list(getattr(session, "lab_xforward", []))
        session.lab_xforward = []
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            None,
            self._reinject,
            xf,
            envelope.mail_from,
            list(envelope.rcpt_tos),
            envelope.original_content or envelope.content or b"",
            list(envelope.mail_options),
        )

    def _reinject(self, xforward, mail_from, rcpts, content, mail_options) -> str:
        port = self.reinject_port
        data = b"X-Lab-Filter: clean (labfilter on " + LAB_HOSTNAME.encode() + b")\r\n" + content
        try:
            with smtplib.SMTP(
                "127.0.0.1",
                port,
                local_hostname="localhost",
                timeout=30,
                source_address=("127.0.0.1", 0),
            ) as s:
                s.ehlo()
                if s.has_extn("xforward"):
                    for arg in xforward:
                        s.docmd("XFORWARD", arg)
                opts = [o for o in mail_options if o.upper().startswith(("BODY=", "SMTPUTF8"))]
                code, resp = s.mail(mail_from, opts)
                if code != 250:
                    s.rset()
                    return (
                        f"451 4.3.0 lab filter: MAIL refused by reinjection: {code} {resp.decode()}"
                    )
                for r in rcpts:
                    code, resp = s.rcpt(r)
                    if code not in (250, 251):
                        s.rset()
                        return f"451 4.3.0 lab filter: RCPT <{r}> refused by reinjection: {code}"
                code, resp = s.data(data)
                text = resp.decode(errors="replace")
                if code != 250:
                    return f"451 4.3.0 lab filter: reinjection said {code} {text}"
                self.passed.append({"mail_from": mail_from, "rcpts": rcpts, "reply": text})
                return f"250 2.0.0 from MTA(smtp:[127.0.0.1]:{port}): 250 {text}"
        except Exception as e:  # noqa: BLE001 - report any failure as a temp error to Postfix
            return f"451 4.3.0 lab filter: reinjection failed: {e.__class__.__name__}"


def _make_xforward_smtp():
    _, SMTP = _aiosmtpd()

    class XForwardSMTP(SMTP):
        async def smtp_XFORWARD(self, arg):
            if not self.session.host_name:
                await self.push("503 5.5.1 Error: send HELO/EHLO first")
                return
            if not arg:
                await self.push("501 5.5.4 Syntax: XFORWARD attribute=value...")
                return
            if not hasattr(self.session, "lab_xforward"):
                self.session.lab_xforward = []
            self.session.lab_xforward.append(arg)
            await self.push("250 2.0.0 Ok")

    return XForwardSMTP


def _start_controller(
    handler,
    ip: str,
    port: int,
    banner_host: str,
    *,
    xforward: bool = False,
    tls_context: ssl.SSLContext | None = None,
):
    Controller, _ = _aiosmtpd()
    kwargs: dict[str, Any] = dict(
        hostname=ip,
        port=port,
        server_hostname=banner_host,
        ident="ESMTP",
        ready_timeout=10.0,
        data_size_limit=10_000_000,
    )
    if tls_context is not None:
        kwargs["tls_context"] = tls_context
    if xforward:
        smtp_cls = _make_xforward_smtp()

        class XCtl(Controller):
            def factory(self):
                return smtp_cls(self.handler, **self.SMTP_kwargs)

        ctl = XCtl(handler, **kwargs)
    else:
        ctl = Controller(handler, **kwargs)
    ctl.start()
    return ctl


# ---------------------------------------------------------------------------------------------
# the lab
# ---------------------------------------------------------------------------------------------


@dataclass
class Remote:
    domain: str
    ip: str
    port: int
    mode: str
    handler: RemoteHandler | None = None
    controller: Any = None

    @property
    def relay(self) -> str:
        return f"{self.ip}[{self.ip}]:{self.port}"


@dataclass
class SendResult:
    mail: tuple[int, str] | None = None
    rcpt: dict[str, tuple[int, str]] = field(default_factory=dict)
    data: tuple[int, str] | None = None
    queue_id: str | None = None
    error: str | None = None

    @property
    def accepted(self) -> bool:
        return self.data is not None and self.data[0] == 250


class PostfixLab:
    """A private Postfix instance on loopback with fake remote domains and a content filter."""

    def __init__(
        self, base_dir: str | os.PathLike | None = None, keep: bool = False, verbose: bool = False
    ):
        self._base_arg = base_dir
        self.keep = keep
        self.verbose = verbose
        self.base: Path | None = None
        self.remotes: dict[str, Remote] = {}
        self.filter_handler: FilterHandler | None = None
        self._controllers: list[Any] = []
        self._users_created: list[str] = []
        self._started = False
        self.version = postfix_version()
        self.phase_marks: list[tuple[int, int]] = []  # (start offset, end offset) per phase
        self.tls_client_ctx: ssl.SSLContext | None = None

    # -- context manager ----------------------------------------------------------------------
    def __enter__(self) -> PostfixLab:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def log(self, msg: str) -> None:
        if self.verbose:
            print(f"[lab {time.strftime('%H:%M:%S')}] {msg}", flush=True)

    # -- paths --------------------------------------------------------------------------------
    @property
    def etc(self) -> Path:
        return self.base / "etc"

    @property
    def queue_dir(self) -> Path:
        return self.base / "spool"

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    @property
    def maillog(self) -> Path:
        return self.base / "log" / "maillog"

    @property
    def home_root(self) -> Path:
        return self.base / "home"

    def home(self, user: str) -> Path:
        return self.home_root / user

    @property
    def filter_relay(self) -> str:
        return f"127.0.0.1[127.0.0.1]:{self.filter_port}"

    # -- start / stop -------------------------------------------------------------------------
    def start(self) -> None:
        reason = unavailable_reason()
        if reason:
            raise LabError(reason)
        try:
            self._setup_dirs()
            self._setup_tls()
            self._setup_users()
            self._alloc_ports()
            self._start_servers()
            self._write_config()
            self._run(["postfix", "-c", str(self.etc), "start"], timeout=60)
            self._started = True
            for port in (self.mx_port, self.submission_port, self.reinject_port):
                wait_port("127.0.0.1", port)
            self.log(f"postfix {self.version} up in {self.base}")
        except BaseException:
            self.close()
            raise

    def shutdown(self) -> None:
        """Stop Postfix and the fake servers but keep the lab directory (and the maillog)."""
        if self.base is None:
            return
        if self._started:
            self._stop_postfix()
        self._started = False
        for ctl in self._controllers:
            with contextlib.suppress(Exception):
                ctl.stop()
        self._controllers.clear()

    def close(self) -> None:
        """shutdown(), remove the lab users and (unless keep=True) the lab directory."""
        if self.base is None:
            return
        self.shutdown()
        for user in self._users_created:
            subprocess.run(["userdel", user], capture_output=True, timeout=30)
        self._users_created.clear()
        if not self.keep and self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)
        self.base = None

    def _stop_postfix(self) -> None:
        pidfile = self.queue_dir / "pid" / "master.pid"
        with contextlib.suppress(Exception):
            self._run(["postfix", "-c", str(self.etc), "stop"], timeout=30, check=False)
        pid = None
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(pidfile.read_text().split()[0])
        if pid not in _pids_with_env("MAIL_CONFIG", str(self.etc)):
            pid = None  # stale pid file: never signal a process that is not ours
        deadline = time.monotonic() + 15
        while pid and time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if pid and _alive(pid):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        # children that outlived the master: only processes of *this* instance (MAIL_CONFIG)
        time.sleep(0.3)
        for p in _pids_with_env("MAIL_CONFIG", str(self.etc)):
            with contextlib.suppress(OSError):
                os.kill(p, signal.SIGKILL)

    def reload(self) -> None:
        """``postfix reload`` (logs "refreshing the Postfix mail system" and master "reload --")."""
        self._run(["postfix", "-c", str(self.etc), "reload"], timeout=30)
        time.sleep(1)
        for port in (self.mx_port, self.submission_port, self.reinject_port):
            wait_port("127.0.0.1", port)

    def _run(
        self, argv: list[str], timeout: float = 30, check: bool = True, input: bytes | None = None
    ) -> subprocess.CompletedProcess:
        env = dict(os.environ, MAIL_CONFIG=str(self.etc), LANG="C")
        env["PATH"] = env.get("PATH", "") + ":/usr/sbin:/sbin"
        cp = subprocess.run(argv, capture_output=True, timeout=timeout, env=env, input=input)
        if check and cp.returncode != 0:
            raise LabError(
                f"{' '.join(argv)} failed ({cp.returncode}): "
                f"{cp.stderr.decode(errors='replace').strip()}"
            )
        return cp

    # -- setup steps --------------------------------------------------------------------------
    def _setup_dirs(self) -> None:
        if self._base_arg:
            self.base = Path(self._base_arg)
            self.base.mkdir(parents=True, exist_ok=True)
        else:
            self.base = Path(tempfile.mkdtemp(prefix="postfixlab-"))
        os.chmod(self.base, 0o755)  # postfix and the lab users must traverse it
        for d in (self.etc, self.queue_dir, self.data_dir, self.maillog.parent, self.home_root):
            d.mkdir(parents=True, exist_ok=True)
            os.chmod(d, 0o755)
        shutil.chown(self.data_dir, "postfix", "postfix")

    def _setup_tls(self) -> None:
        self.cert = self.etc / "lab-cert.pem"
        self.key = self.etc / "lab-key.pem"
        if shutil.which("openssl") is None:
            self.cert = self.key = None
            return
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "30",
                "-subj",
                f"/CN={LAB_HOSTNAME}",
                "-keyout",
                str(self.key),
                "-out",
                str(self.cert),
            ],
            capture_output=True,
            check=True,
            timeout=60,
        )
        os.chmod(self.key, 0o600)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.tls_client_ctx = ctx

    def _setup_users(self) -> None:
        for user in LAB_USERS:
            home = self.home(user)
            exists = subprocess.run(["getent", "passwd", user], capture_output=True).returncode == 0
            if exists:
                subprocess.run(
                    ["usermod", "-d", str(home), user], capture_output=True, check=True, timeout=30
                )
            else:
                subprocess.run(
                    [
                        "useradd",
                        "-M",
                        "-U",
                        "-d",
                        str(home),
                        "-s",
                        "/usr/sbin/nologin",
                        "-c",
                        "postfix lab user",
                        user,
                    ],
                    capture_output=True,
                    check=True,
                    timeout=30,
                )
            self._users_created.append(user)
            home.mkdir(parents=True, exist_ok=True)
            shutil.chown(home, user, user)
            os.chmod(home, 0o755)
        # labbob forwards everything to his remote address (local(8) logs "forwarded as NEWID")
        fwd = self.home("labbob") / ".forward"
        fwd.write_text("bob.remote@ok.test\n")
        shutil.chown(fwd, "labbob", "labbob")
        os.chmod(fwd, 0o644)
        # labfrank's mail goes to an mbox file with room for less than 20 KB more
        mbox = self.home(SMALL_MAILBOX_USER) / "mbox"
        old = b"From old@lab.test Thu Jan  1 00:00:00 2026\n\n"
        mbox.write_bytes(old + b"x" * (MAILBOX_SIZE_LIMIT - 10000) + b"\n")
        shutil.chown(mbox, SMALL_MAILBOX_USER, SMALL_MAILBOX_USER)
        fwd = self.home(SMALL_MAILBOX_USER) / ".forward"
        fwd.write_text(f"{mbox}\n")
        shutil.chown(fwd, SMALL_MAILBOX_USER, SMALL_MAILBOX_USER)
        os.chmod(fwd, 0o644)
        # labgina forwards to a remote server that refuses big messages (552 5.3.4)
        fwd = self.home("labgina") / ".forward"
        fwd.write_text("gina@big.test\n")
        shutil.chown(fwd, "labgina", "labgina")
        os.chmod(fwd, 0o644)

    def _alloc_ports(self) -> None:
        self.mx_port = free_port()
        self.submission_port = free_port()
        self.reinject_port = free_port()
        self.filter_port = free_port()
        for domain, (ip, mode) in REMOTES.items():
            self.remotes[domain] = Remote(domain, ip, free_port(ip), mode)
        # nothing will ever listen here
        self.dead_port = free_port(DEAD_IP)
        if len({self.mx_port, self.submission_port, self.reinject_port, self.filter_port}) != 4:
            raise LabError("port allocation collided, try again")

    def _start_servers(self) -> None:
        server_tls = None
        if self.cert:
            server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            server_tls.load_cert_chain(str(self.cert), str(self.key))
        for dom, r in self.remotes.items():
            r.handler = RemoteHandler(dom, r.mode)
            # ok.test offers STARTTLS so the lab's smtp client logs a TLS line
            ctx = server_tls if dom == "ok.test" else None
            r.controller = _start_controller(r.handler, r.ip, r.port, f"mx.{dom}", tls_context=ctx)
            self._controllers.append(r.controller)
        self.filter_handler = FilterHandler(self.reinject_port)
        self._controllers.append(
            _start_controller(
                self.filter_handler,
                "127.0.0.1",
                self.filter_port,
                "labfilter.lab.test",
                xforward=True,
            )
        )

    def _write_config(self) -> None:
        etc = self.etc
        transport = [f"{LAB_HOSTNAME}\tlocal:", "localhost\tlocal:"]
        for dom, r in self.remotes.items():
            transport.append(f"{dom}\tsmtp:[{r.ip}]:{r.port}")
        transport.append(f"{DEAD_DOMAIN}\tsmtp:[{DEAD_IP}]:{self.dead_port}")
        (etc / "transport").write_text("\n".join(transport) + "\n")
        (etc / "aliases").write_text(
            "postmaster: root\nMAILER-DAEMON: postmaster\nroot: labalice\n"
            "abuse: postmaster\nteam: labalice, labcarol\n"
        )
        (etc / "sender_access").write_text("spammer@bad.test\tREJECT\n")
        # header_checks: the scenarios put X-Lab-Check after the Message-ID header, so cleanup
        # logs the message-id before the action
        (etc / "header_checks").write_text(
            "/^X-Lab-Check: HOLD/ HOLD lab hold for review\n"
            "/^X-Lab-Check: DISCARD/ DISCARD lab discard\n"
            "/^X-Lab-Check: REJECT/ REJECT 5.7.1 lab header check refused this message\n"
        )
        tls = ""
        if self.cert:
            tls = f"""
smtpd_tls_cert_file = {self.cert}
smtpd_tls_key_file = {self.key}
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtp_tls_security_level = may
smtp_tls_loglevel = 1
"""
        main_cf = f"""# postfix lab instance (generated by tests/realpostfix/harness.py)
compatibility_level = 3.6
queue_directory = {self.queue_dir}
data_directory = {self.data_dir}
mail_owner = postfix
setgid_group = postdrop
maillog_file = {self.maillog}
maillog_file_prefixes = {self.base}
myhostname = {LAB_HOSTNAME}
mydomain = {LAB_DOMAIN}
myorigin = $myhostname
mydestination = $myhostname, localhost.$mydomain, localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
relay_domains =
relayhost =
biff = no
append_dot_mydomain = no
readme_directory = no
smtpd_banner = $myhostname ESMTP $mail_name (Debian/GNU)
alias_maps = hash:{etc}/aliases
alias_database = hash:{etc}/aliases
local_recipient_maps = proxy:unix:passwd.byname $alias_maps
home_mailbox = Maildir/
transport_maps = texthash:{etc}/transport
default_transport = error:5.4.4 lab: no route to this destination (DNS is disabled)
# no DNS at all
smtp_dns_support_level = disabled
smtp_host_lookup = native
lmtp_host_lookup = native
smtpd_peername_lookup = no
# policy
smtpd_helo_required = yes
smtpd_sender_restrictions = check_sender_access texthash:{etc}/sender_access
header_checks = regexp:{etc}/header_checks
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
message_size_limit = {MESSAGE_SIZE_LIMIT}
mailbox_size_limit = {MAILBOX_SIZE_LIMIT}
# short queue timers so deferred mail expires within the run
maximal_queue_lifetime = {QUEUE_LIFETIME}
bounce_queue_lifetime = {QUEUE_LIFETIME}
delay_warning_time = {DELAY_WARNING}
queue_run_delay = {QUEUE_RUN_DELAY}
minimal_backoff_time = {MIN_BACKOFF}
maximal_backoff_time = {MAX_BACKOFF}
smtp_connect_timeout = 5s
smtp_helo_timeout = 20s
{tls}"""
        (etc / "main.cf").write_text(main_cf)
        fp, rp = self.filter_port, self.reinject_port
        master_cf = f"""# postfix lab instance (generated by tests/realpostfix/harness.py)
# service type  private unpriv  chroot  wakeup  maxproc command + args
# "MX": mail from outside and from mynetworks, through the content filter
127.0.0.1:{self.mx_port} inet n - n - - smtpd
  -o content_filter=scan:[127.0.0.1]:{fp}
  -o receive_override_options=no_address_mappings
  -o smtpd_client_message_rate_limit={BULK_RATE_LIMIT}
  -o smtpd_client_event_limit_exceptions=127.0.0.1,{OUTSIDE_IP}
# "submission": mynetworks clients, no content filter
127.0.0.1:{self.submission_port} inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_peername_lookup=yes
# re-injection from the content filter (FILTER_README)
127.0.0.1:{rp} inet n - n - 10 smtpd
  -o content_filter=
  -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_milters
  -o smtpd_helo_restrictions=
  -o smtpd_client_restrictions=
  -o smtpd_sender_restrictions=
  -o smtpd_relay_restrictions=
  -o smtpd_recipient_restrictions=permit_mynetworks,reject
  -o mynetworks=127.0.0.0/8
  -o smtpd_authorized_xforward_hosts=127.0.0.0/8
  -o smtpd_tls_security_level=none
  -o smtpd_peername_lookup=yes
scan      unix  -       -       n       -       10      smtp
  -o smtp_send_xforward_command=yes
  -o disable_mime_output_conversion=yes
  -o smtp_tls_security_level=none
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""
        (etc / "master.cf").write_text(master_cf)
        # the default delay template speaks of hours/days, which our 30s/60s timers round to 0
        # (bounce then logs "zero result in delay template conversion" warnings)
        tpl = self._run(["postconf", "-t"], timeout=30).stdout.decode()
        tpl = tpl.replace(
            "$delay_warning_time_hours hour(s)", "$delay_warning_time_seconds second(s)"
        )
        tpl = tpl.replace(
            "$maximal_queue_lifetime_days day(s)", "$maximal_queue_lifetime_seconds second(s)"
        )
        (etc / "bounce.cf").write_text(tpl)
        with open(etc / "main.cf", "a") as f:
            f.write(f"bounce_template_file = {etc}/bounce.cf\n")
        self._run(["postalias", "-c", str(etc), f"hash:{etc}/aliases"], timeout=30)
        self._run(["postfix", "-c", str(etc), "check"], timeout=60)

    # -- queue & log helpers ------------------------------------------------------------------
    def queue(self) -> list[dict]:
        """Current queue content (postqueue -j)."""
        cp = self._run(["postqueue", "-c", str(self.etc), "-j"], timeout=30, check=False)
        out = []
        for line in cp.stdout.decode(errors="replace").splitlines():
            line = line.strip()
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def postsuper(self, *args: str) -> str:
        cp = self._run(["postsuper", "-c", str(self.etc), *args], timeout=30)
        return cp.stderr.decode(errors="replace")

    def wait_queue(
        self, pred: Callable[[list[dict]], bool], timeout: float, what: str
    ) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            q = self.queue()
            if pred(q):
                return q
            if time.monotonic() > deadline:
                raise LabError(
                    f"timeout ({timeout}s) waiting for {what}; queue: " + json.dumps(q)[:2000]
                )
            time.sleep(0.5)

    def wait_settled(self, allow: Iterable[str] = (), timeout: float = 120) -> list[dict]:
        """Wait until the queue holds nothing but the queue IDs in ``allow`` (and held mail)."""
        allow = set(allow)

        def ok(q):
            return all(e["queue_id"] in allow or e["queue_name"] == "hold" for e in q)

        q = self.wait_queue(ok, timeout, "queue to settle")
        time.sleep(1.5)  # let postlogd / smtpd disconnect lines land
        return q

    def wait_in_queue(self, qid: str, queue_name: str, timeout: float = 30) -> None:
        self.wait_queue(
            lambda q: any(e["queue_id"] == qid and e["queue_name"] == queue_name for e in q),
            timeout,
            f"{qid} in {queue_name} queue",
        )

    def log_size(self) -> int:
        try:
            return self.maillog.stat().st_size
        except FileNotFoundError:
            return 0

    def read_log(self) -> str:
        return self.maillog.read_text(errors="replace")

    # -- sending ------------------------------------------------------------------------------
    def smtp_send(
        self,
        port: int,
        sender: str,
        rcpts: list[str],
        msg: bytes,
        *,
        source_ip: str = "127.0.0.1",
        helo: str = "client.lab.test",
        starttls: bool = False,
        declare_size: bool = True,
    ) -> SendResult:
        res = SendResult()
        try:
            with smtplib.SMTP(
                "127.0.0.1", port, timeout=30, local_hostname=helo, source_address=(source_ip, 0)
            ) as s:
                s.ehlo()
                if starttls and self.tls_client_ctx and s.has_extn("starttls"):
                    s.starttls(context=self.tls_client_ctx)
                    s.ehlo()
                opts = [f"SIZE={len(msg)}"] if declare_size and s.has_extn("size") else []
                code, resp = s.mail(sender, opts)
                res.mail = (code, resp.decode(errors="replace"))
                if code != 250:
                    s.rset()
                    return res
                for r in rcpts:
                    code, resp = s.rcpt(r)
                    res.rcpt[r] = (code, resp.decode(errors="replace"))
                if any(c in (250, 251) for c, _ in res.rcpt.values()):
                    try:
                        code, resp = s.data(msg)
                        res.data = (code, resp.decode(errors="replace"))
                    except smtplib.SMTPDataError as e:
                        res.data = (e.smtp_code, e.smtp_error.decode(errors="replace"))
                    m = QUEUED_AS_RE.search(res.data[1]) if res.data else None
                    res.queue_id = m.group(1) if m else None
                else:
                    s.rset()
        except (smtplib.SMTPException, OSError) as e:
            res.error = f"{e.__class__.__name__}: {e}"
        return res

    def sendmail(self, sender: str, rcpts: list[str], msg: bytes) -> None:
        self._run(
            ["sendmail", "-C", str(self.etc), "-oi", "-f", sender, "--", *rcpts],
            input=msg,
            timeout=30,
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # zombie?
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _pids_with_env(name: str, value: str) -> list[int]:
    needle = f"{name}={value}".encode()
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open(f"/proc/{d}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    pids.append(int(d))
        except OSError:
            pass
    return pids


# ---------------------------------------------------------------------------------------------
# scenarios and ground truth
# ---------------------------------------------------------------------------------------------


def rcpt_truth(
    final: str,
    category: str | None = None,
    dsn: str | None = None,
    *,
    relay: str | None = None,
    code: int | None = None,
    stage: str | None = None,
    deferrals: list[dict] | None = None,
    **extra,
) -> dict:
    d: dict[str, Any] = {"final": final, "category": category, "dsn": dsn}
    if relay is not None:
        d["relay"] = relay
    if code is not None:
        d["code"] = code
    if stage is not None:
        d["stage"] = stage
    if deferrals:
        d["deferrals"] = deferrals
    d.update(extra)
    return d


class Scenarios:
    """Sends the lab traffic and collects ground truth."""

    def __init__(self, lab: PostfixLab, seed: int = 20241127):
        self.lab = lab
        self.rng = random.Random(seed)
        self.truth: list[dict] = []
        self.phase = 0
        self.token = f"{int(time.time()):x}"
        self._n = 0
        self.allow_deferred: set[str] = set()

    # -- message construction -----------------------------------------------------------------
    def message(
        self,
        name: str,
        sender: str,
        to: list[str],
        subject: str,
        *,
        body_kb: float = 1,
        domain: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[str, bytes]:
        self._n += 1
        dom = domain or (sender.split("@")[1] if "@" in sender else LAB_HOSTNAME)
        mid = f"{self.token}.{self._n:03d}.{name}@{dom}"
        m = EmailMessage(policy=SMTP_POLICY)
        m["From"] = sender or f"MAILER-DAEMON@{LAB_HOSTNAME}"
        m["To"] = ", ".join(to)
        m["Subject"] = subject
        m["Date"] = email.utils.formatdate(localtime=True)
        m["Message-ID"] = f"<{mid}>"
        for key, value in (headers or {}).items():
            m[key] = value
        words = [
            "lorem",
            "ipsum",
            "dolor",
            "sit",
            "amet",
            "consectetur",
            "adipiscing",
            "elit",
            "sed",
            "do",
            "eiusmod",
            "tempor",
            "incididunt",
            "ut",
            "labore",
            "et",
            "dolore",
            "magna",
            "aliqua",
        ]
        lines, size = [], 0
        while size < body_kb * 1024:
            line = " ".join(self.rng.choice(words) for _ in range(12))
            lines.append(line)
            size += len(line) + 2
        m.set_content("\n".join(lines) + "\n")
        return mid, m.as_bytes()

    def record(
        self,
        name: str,
        mid: str,
        sender: str,
        via: str,
        recipients: dict,
        *,
        client_ip: str | None = "127.0.0.1",
        queue_id: str | None = None,
        filter_hop: bool = False,
        bounce: bool = False,
        delay_notice: bool = False,
        logged: bool = True,
        size: int | None = None,
        res: SendResult | None = None,
        **extra,
    ) -> dict:
        port = {"mx": self.lab.mx_port, "submission": self.lab.submission_port}.get(via)
        if res is not None:  # the reply our SMTP client actually got, for refused recipients
            for addr, rt in recipients.items():
                if rt["final"] != "rejected":
                    continue
                if res.mail and res.mail[0] != 250:
                    reply = res.mail
                elif addr in res.rcpt and res.rcpt[addr][0] >= 400:
                    reply = res.rcpt[addr]
                else:
                    reply = res.data
                if reply:
                    rt["smtp_reply"] = f"{reply[0]} {reply[1]}"
                    if rt.get("code") is not None and rt["code"] != reply[0]:
                        raise LabError(f"{name}: {addr} got {reply}, expected {rt['code']}")
        rec = {
            "name": name,
            "phase": self.phase,
            "message_id": mid,
            "sender": sender,
            "via": via,
            "port": port,
            "client_ip": client_ip if via != "sendmail" else None,
            "queue_id": queue_id,
            "size": size,
            "recipients": recipients,
            "expect_filter_hop": filter_hop,
            "expect_bounce_notification": bounce,
            "expect_delay_notification": delay_notice,
            "logged_message_id": logged,
        }
        rec.update(extra)
        self.truth.append(rec)
        return rec

    def _check_accept(self, name: str, res: SendResult, want: bool = True) -> None:
        if res.error:
            raise LabError(f"{name}: SMTP error {res.error}")
        if want and not res.accepted:
            raise LabError(f"{name}: message not accepted: {res}")

    # -- building blocks ----------------------------------------------------------------------
    def r_remote(self, domain: str, final: str = "sent", **kw) -> dict:
        r = self.lab.remotes[domain]
        defaults = {
            "accept": ("sent", None, "2.0.0"),
            "nouser": ("bounced", "unknown_user", "5.1.1"),
            "big": ("bounced", "size", "5.3.4"),
            "full": ("bounced", "mailbox_full", "5.2.2"),
            "grey": ("sent", None, "2.0.0"),
            "same_id": ("sent", None, "2.0.0"),
        }[r.mode]
        final, cat, dsn = defaults
        kw.setdefault("relay", r.relay)
        if r.mode == "grey":
            kw.setdefault("deferrals", [{"category": "greylist", "dsn": "4.7.1", "code": 450}])
        if r.mode in ("nouser", "full"):
            kw.setdefault("code", 550 if r.mode == "nouser" else 552)
        if r.mode == "big":
            kw.setdefault("code", 552)
        return rcpt_truth(final, cat, dsn, **kw)

    def r_local(self, **kw) -> dict:
        return rcpt_truth("sent", None, "2.0.0", relay="local", **kw)

    def r_dead(self, final: str) -> dict:
        cat = {"expired": "expired", "deferred": "network"}.get(final)
        dsn = "4.4.1" if final in ("expired", "deferred") else None
        return rcpt_truth(final, cat, dsn, deferrals=[{"category": "network", "dsn": "4.4.1"}])

    def via_mx(
        self,
        name,
        sender,
        rcpts,
        truth,
        *,
        source_ip="127.0.0.1",
        helo="mail.outside.test",
        starttls=False,
        body_kb=1,
        subject=None,
        bounce=False,
        want_accept=True,
        **extra,
    ):
        mid, msg = self.message(name, sender, rcpts, subject or f"lab {name}", body_kb=body_kb)
        res = self.lab.smtp_send(
            self.lab.mx_port, sender, rcpts, msg, source_ip=source_ip, helo=helo, starttls=starttls
        )
        self._check_accept(name, res, want_accept)
        return self.record(
            name,
            mid,
            sender,
            "mx",
            truth,
            client_ip=source_ip,
            queue_id=res.queue_id,
            filter_hop=res.accepted,
            bounce=bounce,
            logged=res.accepted,
            size=len(msg),
            helo=helo,
            tls=starttls,
            res=res,
            filter_relay=self.lab.filter_relay if res.accepted else None,
            **extra,
        ), res

    def via_submission(
        self,
        name,
        sender,
        rcpts,
        truth,
        *,
        starttls=True,
        body_kb=1,
        subject=None,
        bounce=False,
        want_accept=True,
        declare_size=True,
        logged=None,
        headers=None,
        **extra,
    ):
        mid, msg = self.message(
            name, sender, rcpts, subject or f"lab {name}", body_kb=body_kb, headers=headers
        )
        res = self.lab.smtp_send(
            self.lab.submission_port,
            sender,
            rcpts,
            msg,
            helo="ws1.lab.test",
            starttls=starttls,
            declare_size=declare_size,
        )
        self._check_accept(name, res, want_accept)
        return self.record(
            name,
            mid,
            sender,
            "submission",
            truth,
            queue_id=res.queue_id,
            bounce=bounce,
            logged=res.accepted if logged is None else logged,
            size=len(msg),
            helo="ws1.lab.test",
            tls=starttls,
            res=res,
            **extra,
        ), res

    def via_sendmail(
        self, name, sender, rcpts, truth, *, body_kb=1, subject=None, bounce=False, **extra
    ):
        mid, msg = self.message(
            name, sender, rcpts, subject or f"lab {name}", body_kb=body_kb, domain=LAB_HOSTNAME
        )
        self.lab.sendmail(sender, rcpts, msg)
        return self.record(
            name, mid, sender, "sendmail", truth, bounce=bounce, size=len(msg), uid=0, **extra
        )

    # -- ordinary traffic ---------------------------------------------------------------------
    def ordinary(self, n: int) -> None:
        rng = self.rng
        people = ["anna", "ben", "chris", "dora", "emil", "fiona", "gus", "hanna", "ivan"]
        lab_people = ["labalice", "labcarol", "labdave"]
        for i in range(n):
            kind = rng.choices(
                ["out", "in", "cron", "relay", "team", "bounce"], weights=[5, 5, 2, 2, 1, 1]
            )[0]
            name = f"traffic-d{self.phase + 1}-{i:02d}-{kind}"
            kb = rng.choice([0.5, 1, 2, 4, 8, 16, 40])
            if kind == "out":
                sender = f"{rng.choice(lab_people)}@{LAB_HOSTNAME}"
                rcpts = [f"{p}@ok.test" for p in rng.sample(people, rng.choice([1, 1, 1, 2, 3]))]
                self.via_submission(
                    name,
                    sender,
                    rcpts,
                    {r: self.r_remote("ok.test") for r in rcpts},
                    starttls=rng.random() < 0.8,
                    body_kb=kb,
                    subject=rng.choice(
                        ["Re: meeting", "invoice", "hello", "weekly report", "Fwd: photos"]
                    ),
                )
            elif kind == "in":
                sender = f"{rng.choice(people)}@ok.test"
                users = rng.sample(lab_people, rng.choice([1, 1, 2]))
                rcpts = [f"{u}@{LAB_HOSTNAME}" for u in users]
                self.via_mx(
                    name,
                    sender,
                    rcpts,
                    {r: self.r_local() for r in rcpts},
                    source_ip=OUTSIDE_IP,
                    helo="mx.ok.test",
                    starttls=rng.random() < 0.5,
                    body_kb=kb,
                    subject=rng.choice(["newsletter", "Re: invoice", "your order", "party!"]),
                )
            elif kind == "relay":
                sender = f"{rng.choice(lab_people)}@{LAB_HOSTNAME}"
                rcpts = [f"{rng.choice(people)}@ok.test"]
                self.via_mx(
                    name,
                    sender,
                    rcpts,
                    {r: self.r_remote("ok.test") for r in rcpts},
                    helo="app1.lab.test",
                    body_kb=kb,
                    subject="app notification",
                )
            elif kind == "cron":
                self.via_sendmail(
                    name,
                    "root",
                    ["root"],
                    {"root": self.r_local(expands_to=[f"labalice@{LAB_HOSTNAME}"])},
                    body_kb=0.5,
                    subject=f"Cron <root@mx> /usr/local/bin/backup-{i}",
                )
            elif kind == "team":
                rcpt = f"team@{LAB_HOSTNAME}"
                self.via_sendmail(
                    name,
                    f"labdave@{LAB_HOSTNAME}",
                    [rcpt],
                    {
                        rcpt: self.r_local(
                            expands_to=[f"labalice@{LAB_HOSTNAME}", f"labcarol@{LAB_HOSTNAME}"]
                        )
                    },
                    body_kb=kb,
                    subject="team lunch",
                )
            else:  # a typo'd address at a remote domain -> bounce back to a local user
                sender = f"{rng.choice(lab_people)}@{LAB_HOSTNAME}"
                rcpt = f"{rng.choice(people)}.typo@nouser.test"
                self.via_submission(
                    name,
                    sender,
                    [rcpt],
                    {rcpt: self.r_remote("nouser.test")},
                    body_kb=kb,
                    bounce=True,
                    subject="quick question",
                )

    # -- phases -------------------------------------------------------------------------------
    def phase_day1(self, extra: int) -> None:
        lab, L = self.lab, LAB_HOSTNAME
        self.via_submission(
            "delivered_ok",
            f"labalice@{L}",
            ["friend@ok.test"],
            {"friend@ok.test": self.r_remote("ok.test")},
        )
        self.via_submission(
            "unknown_user_remote",
            f"labalice@{L}",
            ["nobody@nouser.test"],
            {"nobody@nouser.test": self.r_remote("nouser.test")},
            bounce=True,
        )
        self.via_sendmail(
            "local_user_delivery", "root", [f"labcarol@{L}"], {f"labcarol@{L}": self.r_local()}
        )
        self.via_mx(
            "relay_denied",
            "someone@outside.test",
            ["victim@ok.test"],
            {
                "victim@ok.test": rcpt_truth(
                    "rejected", "relay_denied", "5.7.1", code=554, stage="RCPT"
                )
            },
            source_ip=OUTSIDE_IP,
            helo="mail.outside.test",
            want_accept=False,
        )
        # SIZE= declared in MAIL FROM -> rejected before DATA
        big_kb = MESSAGE_SIZE_LIMIT / 1024 + 40
        self.via_submission(
            "local_size_limit",
            f"labdave@{L}",
            ["huge@ok.test"],
            {"huge@ok.test": rcpt_truth("rejected", "size", "5.3.4", code=552, stage="MAIL")},
            body_kb=big_kb,
            want_accept=False,
        )
        self.via_submission(
            "greylisted_then_sent",
            f"labalice@{L}",
            ["slowpoke@grey.test"],
            {"slowpoke@grey.test": self.r_remote("grey.test")},
        )
        self.via_mx(
            "sender_policy_reject",
            "spammer@bad.test",
            [f"labalice@{L}"],
            {f"labalice@{L}": rcpt_truth("rejected", "policy", "5.7.1", code=554, stage="RCPT")},
            source_ip=OUTSIDE_IP,
            helo="bad.test",
            want_accept=False,
        )
        # held: deferred at dead.test, then "postsuper -h"
        rec, res = self.via_submission(
            "held_by_postsuper",
            f"labdave@{L}",
            ["later@dead.test"],
            {
                "later@dead.test": rcpt_truth(
                    "held", None, None, deferrals=[{"category": "network", "dsn": "4.4.1"}]
                )
            },
        )
        lab.wait_in_queue(res.queue_id, "deferred", timeout=30)
        lab.postsuper("-h", res.queue_id)
        rec["postsuper"] = "-h"
        self.ordinary(extra)

    def phase_day2(self, extra: int) -> None:
        lab, L = self.lab, LAB_HOSTNAME
        # expiry first: it drives the length of the whole run
        self.via_submission(
            "dead_expired",
            f"labcarol@{L}",
            ["ghost@dead.test"],
            {"ghost@dead.test": self.r_dead("expired")},
            bounce=True,
            delay_notice=True,
        )
        self.via_submission(
            "forward_to_remote",
            f"labdave@{L}",
            [f"labbob@{L}"],
            {
                f"labbob@{L}": self.r_local(
                    forwarded_to=["bob.remote@ok.test"],
                    forward={"bob.remote@ok.test": self.r_remote("ok.test")},
                )
            },
            expect_forward=True,
        )
        self.via_mx(
            "filter_inbound_outside",
            "newsletter@ok.test",
            [f"labcarol@{L}"],
            {f"labcarol@{L}": self.r_local()},
            source_ip=OUTSIDE_IP,
            helo="mx.ok.test",
            starttls=True,
        )
        self.via_mx(
            "filter_then_size_bounce",
            "sales@ok.test",
            ["buyer@big.test"],
            {"buyer@big.test": self.r_remote("big.test")},
            helo="app1.lab.test",
            body_kb=20,
            bounce=True,
        )
        self.via_mx(
            "mixed_recipients",
            f"labdave@{L}",
            [
                "mix1@ok.test",
                "mix2@nouser.test",
                "mix3@grey.test",
                f"labalice@{L}",
                f"nosuchuser@{L}",
                "mix4@dead.test",
                "mix5@full.test",
            ],
            {
                "mix1@ok.test": self.r_remote("ok.test"),
                "mix2@nouser.test": self.r_remote("nouser.test"),
                "mix3@grey.test": self.r_remote("grey.test"),
                f"labalice@{L}": self.r_local(),
                f"nosuchuser@{L}": rcpt_truth(
                    "rejected", "unknown_user", "5.1.1", code=550, stage="RCPT"
                ),
                "mix4@dead.test": self.r_dead("expired"),
                "mix5@full.test": self.r_remote("full.test"),
            },
            helo="app1.lab.test",
            bounce=True,
            delay_notice=True,
        )
        self.via_sendmail(
            "alias_expansion",
            f"labdave@{L}",
            [f"team@{L}"],
            {f"team@{L}": self.r_local(expands_to=[f"labalice@{L}", f"labcarol@{L}"])},
        )
        self.via_submission(
            "remote_mailbox_full",
            f"labalice@{L}",
            ["stuffed@full.test"],
            {"stuffed@full.test": self.r_remote("full.test")},
            bounce=True,
        )
        # deleted: deferred at dead.test, then "postsuper -d"
        rec, res = self.via_submission(
            "deleted_by_postsuper",
            f"labdave@{L}",
            ["trash@dead.test"],
            {
                "trash@dead.test": rcpt_truth(
                    "deleted", None, None, deferrals=[{"category": "network", "dsn": "4.4.1"}]
                )
            },
        )
        lab.wait_in_queue(res.queue_id, "deferred", timeout=30)
        lab.postsuper("-d", res.queue_id)
        rec["postsuper"] = "-d"
        # rate limit: the 4th message within a minute from BULK_IP is refused at MAIL FROM
        for i in range(BULK_RATE_LIMIT + 1):
            limited = i == BULK_RATE_LIMIT
            truth = {
                f"labcarol@{L}": (
                    rcpt_truth(
                        "rejected",
                        "rate_limit",
                        "4.7.1",
                        code=450,
                        stage="MAIL",
                        note="logged as smtpd 'warning: Message delivery"
                        " request rate limit exceeded'",
                    )
                    if limited
                    else self.r_local()
                )
            }
            self.via_mx(
                f"bulk_{i + 1}{'_rate_limited' if limited else ''}",
                "promo@ok.test",
                [f"labcarol@{L}"],
                truth,
                source_ip=BULK_IP,
                helo="bulk.ok.test",
                want_accept=not limited,
            )
        self.ordinary(extra)

    def phase_day3(self, extra: int) -> None:
        lab, L = self.lab, LAB_HOSTNAME
        lab.reload()  # e.g. the admin changed something in the morning
        self.via_submission(
            "unknown_local_user",
            f"labalice@{L}",
            [f"nosuch@{L}"],
            {
                f"nosuch@{L}": rcpt_truth(
                    "rejected", "unknown_user", "5.1.1", code=550, stage="RCPT"
                )
            },
            want_accept=False,
        )
        # no SIZE= in MAIL FROM: the limit hits while the message is received (end of DATA)
        self.via_submission(
            "local_size_limit_data",
            f"labdave@{L}",
            ["huge2@ok.test"],
            {"huge2@ok.test": rcpt_truth("rejected", "size", "5.3.4", code=552, stage="DATA")},
            body_kb=MESSAGE_SIZE_LIMIT / 1024 + 40,
            want_accept=False,
            declare_size=False,
            logged=True,
            note="cleanup logs the message-id, then smtpd/cleanup log "
            "'warning: QID: queue file size limit exceeded'; no reject line",
        )
        self.via_mx(
            "filter_inbound_remote_bounce",
            "billing@ok.test",
            [f"labalice@{L}", "x@nouser.test"],
            {f"labalice@{L}": self.r_local(), "x@nouser.test": self.r_remote("nouser.test")},
            helo="app1.lab.test",
            bounce=True,
        )
        self.postmaster_questions()
        self.via_submission(
            "greylisted_then_sent_2",
            f"labcarol@{L}",
            ["again1@grey.test", "again2@grey.test"],
            {
                "again1@grey.test": self.r_remote("grey.test"),
                "again2@grey.test": self.r_remote("grey.test"),
            },
        )
        self.ordinary(extra)

    def postmaster_questions(self) -> None:
        """The cases a postmaster asks about (issue 12): every original recipient of an alias
        expansion, mail held, discarded or refused by header_checks, a full local mailbox, two
        messages that remote servers gave the same queue ID, a client only ever refused."""
        lab, L = self.lab, LAB_HOSTNAME
        # Postfix logs one to= line per ORIGINAL recipient: four lines, alice three times
        self.via_submission(
            "alias_member_and_postmaster",
            f"labdave@{L}",
            [f"team@{L}", f"labalice@{L}", f"postmaster@{L}"],
            {
                f"team@{L}": self.r_local(expands_to=[f"labalice@{L}", f"labcarol@{L}"]),
                f"labalice@{L}": self.r_local(),
                f"postmaster@{L}": self.r_local(expands_to=[f"labalice@{L}"]),
            },
            one_row_per_original_recipient=True,
        )
        check = {"one_row_per_original_recipient": True}
        rec, res = self.via_submission(
            "header_hold_then_deleted",
            f"checks@{L}",
            [f"labcarol@{L}"],
            {f"labcarol@{L}": rcpt_truth("deleted", None, None)},
            headers={"X-Lab-Check": "HOLD"},
            **check,
        )
        lab.wait_in_queue(res.queue_id, "hold", timeout=30)
        lab.postsuper("-d", res.queue_id)
        rec["postsuper"] = "-d"
        self.via_submission(
            "header_hold_left_held",
            f"checks@{L}",
            [f"labdave@{L}"],
            {f"labdave@{L}": rcpt_truth("held", None, None)},
            headers={"X-Lab-Check": "HOLD"},
            **check,
        )
        self.via_submission(
            "header_discard",
            f"checks@{L}",
            [f"labalice@{L}"],
            {f"labalice@{L}": rcpt_truth("discarded", None, None)},
            headers={"X-Lab-Check": "DISCARD"},
            **check,
        )
        self.via_submission(
            "header_reject_two_recipients",
            f"checks@{L}",
            [f"labcarol@{L}", f"labdave@{L}"],
            {
                # cleanup's reject line names one recipient only, the last one given: nothing
                # in the log says the message was for labcarol too
                f"labcarol@{L}": rcpt_truth(
                    "rejected", "policy", "5.7.1", code=550, not_in_log=True
                ),
                f"labdave@{L}": rcpt_truth("rejected", "policy", "5.7.1", code=550),
            },
            headers={"X-Lab-Check": "REJECT"},
            want_accept=False,
            logged=True,
            **check,
        )
        self.via_submission(
            "local_mailbox_size_limit",
            f"labalice@{L}",
            [f"{SMALL_MAILBOX_USER}@{L}"],
            {
                f"{SMALL_MAILBOX_USER}@{L}": rcpt_truth(
                    "bounced", "mailbox_full", "5.2.2", relay="local"
                )
            },
            body_kb=20,
            bounce=True,
            **check,
        )
        self.via_submission(
            "forwarded_copy_too_big",
            f"labcarol@{L}",
            [f"labgina@{L}"],
            {
                f"labgina@{L}": self.r_local(
                    forwarded_to=["gina@big.test"],
                    forward={"gina@big.test": self.r_remote("big.test")},
                )
            },
            body_kb=20,
            bounce=True,
            expect_forward=True,
            **check,
        )
        for who in ("first", "second"):
            self.via_submission(
                f"same_remote_queue_id_{who}",
                f"labcarol@{L}",
                [f"{who}@same.test"],
                {f"{who}@same.test": self.r_remote("same.test")},
                **check,
            )
        self.via_mx(
            "client_only_refused",
            "stranger@outside.test",
            ["relay-me@ok.test"],
            {
                "relay-me@ok.test": rcpt_truth(
                    "rejected", "relay_denied", "5.7.1", code=554, stage="RCPT"
                )
            },
            source_ip=REFUSED_IP,
            helo="mail.stranger.test",
            want_accept=False,
            refused_client=True,
        )

    def still_deferred_at_end(self) -> str:
        rec, res = self.via_submission(
            "left_deferred",
            f"labalice@{LAB_HOSTNAME}",
            ["pending@dead.test"],
            {"pending@dead.test": self.r_dead("deferred")},
        )
        self.lab.wait_in_queue(res.queue_id, "deferred", timeout=30)
        return res.queue_id


def run_scenarios(
    lab: PostfixLab, extra_traffic: int = 0, seed: int = 20241127, settle_timeout: float = 180
) -> list[dict]:
    """Send all scenarios in three phases ("days"), wait for the queue to settle after each.

    ``lab.phase_marks`` gets the maillog byte range of each phase. ``extra_traffic`` ordinary
    messages are spread over the phases. Returns the ground truth (one dict per message).
    """
    sc = Scenarios(lab, seed)
    per_phase = [extra_traffic // 3 + (1 if i < extra_traffic % 3 else 0) for i in range(3)]
    held = set()
    start = 0
    for phase, fn in enumerate((sc.phase_day1, sc.phase_day2, sc.phase_day3)):
        sc.phase = phase
        t0 = time.monotonic()
        fn(per_phase[phase])
        allow: set[str] = set(held)
        if phase == 2:
            allow.add(sc.still_deferred_at_end())
        q = lab.wait_settled(allow=allow, timeout=settle_timeout)
        held |= {e["queue_id"] for e in q if e["queue_name"] == "hold"}
        end = lab.log_size()
        lab.phase_marks.append((start, end))
        lab.log(
            f"phase {phase + 1} settled after {time.monotonic() - t0:.1f}s "
            f"({len(sc.truth)} messages so far)"
        )
        start = end
    _attach_remote_receipts(lab, sc.truth)
    return sc.truth


def _attach_remote_receipts(lab: PostfixLab, truth: list[dict]) -> None:
    """Mark which recipients the fake remote servers actually received (for the self-check)."""
    got: dict[tuple[str, str], dict] = {}
    for r in lab.remotes.values():
        for item in r.handler.received:
            for rc in item["rcpts"]:
                got[(item["message_id"], rc.lower())] = item
    for rec in truth:
        for addr, rt in rec["recipients"].items():
            for a, t in [(addr, rt)] + list(rt.get("forward", {}).items()):
                if "@" in a and a.split("@")[1] in lab.remotes:
                    item = got.get((rec["message_id"], a.lower()))
                    t["remote_received"] = item is not None
                    if item:
                        t["remote_queue_id"] = item["queue_id"]


# ---------------------------------------------------------------------------------------------
# self-check of the ground truth against the log (deliberately simple regexes)
# ---------------------------------------------------------------------------------------------

_LINE = re.compile(
    r"^(?P<ts>\w{3} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)?) (?P<host>\S+) "
    r"(?P<prog>[\w/.-]+)\[(?P<pid>\d+)\]: (?P<msg>.*)$"
)
_QID = re.compile(r"^(?P<qid>[0-9A-Za-z]{6,}): (?P<rest>.*)$")
_TO = re.compile(
    r"to=<(?P<to>[^>]*)>,(?: orig_to=<(?P<orig>[^>]*)>,)? relay=(?P<relay>[^,]+),.*"
    r" status=(?P<status>\w+)(?: \((?P<text>.*)\))?$"
)


def check_ground_truth(log_text: str, truth: list[dict]) -> list[str]:
    """Return a list of mismatches between the ground truth and the log (empty = consistent)."""
    mid_qids: dict[str, list[str]] = {}
    deliveries: dict[str, list[dict]] = {}
    expired: set[str] = set()
    held: set[str] = set()
    discarded: set[str] = set()
    removed_by_postsuper: set[str] = set()
    bounces: dict[str, str] = {}
    delays: set[str] = set()
    rejects: list[str] = []
    warnings: list[str] = []
    next_ids: dict[str, list[str]] = {}
    for line in log_text.splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        msg, prog = m.group("msg"), m.group("prog")
        if msg.startswith("NOQUEUE: reject:") or ": reject:" in msg:
            rejects.append(msg)
        if msg.startswith("warning: "):
            warnings.append(msg)
        q = _QID.match(msg)
        if not q:
            continue
        qid, rest = q.group("qid"), q.group("rest")
        if rest.startswith("message-id=<"):
            mid_qids.setdefault(rest[len("message-id=<") :].rstrip(">"), []).append(qid)
        elif "status=expired" in rest:
            expired.add(qid)
        elif (rest == "placed on hold" and prog.endswith("postsuper")) or (
            rest.startswith("hold: ") and prog.endswith("cleanup")
        ):
            held.add(qid)
        elif rest.startswith("discard: ") and prog.endswith("cleanup"):
            discarded.add(qid)
        elif rest == "removed" and prog.endswith("postsuper"):
            removed_by_postsuper.add(qid)
        elif rest.startswith("sender non-delivery notification: "):
            bounces[qid] = rest.split(": ", 1)[1]
        elif rest.startswith("sender delay notification: "):
            delays.add(qid)
        else:
            t = _TO.search(rest)
            if t:
                deliveries.setdefault(qid, []).append(t.groupdict())
                nm = re.search(r"(?:queued as|forwarded as) ([0-9A-Za-z]+)\)?$", t["text"] or "")
                if nm and (t["relay"] != "local" or "forwarded as" in (t["text"] or "")):
                    next_ids.setdefault(qid, []).append(nm.group(1))

    problems: list[str] = []
    for rec in truth:
        name = rec["name"]
        qids = list(mid_qids.get(rec["message_id"], []))
        if rec["logged_message_id"] and not qids:
            problems.append(f"{name}: message-id not in log")
            continue
        if not rec["logged_message_id"] and qids:
            problems.append(f"{name}: message-id unexpectedly in log")
        # follow queued as / forwarded as
        i = 0
        while i < len(qids):
            for n in next_ids.get(qids[i], []):
                if n not in qids:
                    qids.append(n)
            i += 1
        if rec["expect_filter_hop"]:
            hop = [
                d
                for q in qids
                for d in deliveries.get(q, [])
                if d["relay"] == rec.get("filter_relay") and d["status"] == "sent"
            ]
            if not hop:
                problems.append(f"{name}: no filter hop delivery")
        if rec["expect_bounce_notification"] and not any(q in bounces for q in qids):
            problems.append(f"{name}: no non-delivery notification")
        if rec["expect_delay_notification"] and not any(q in delays for q in qids):
            problems.append(f"{name}: no delay notification")
        targets: list[tuple[str, dict]] = []
        for addr, rt in rec["recipients"].items():
            targets.append((addr, rt))
            targets += list(rt.get("forward", {}).items())
        for addr, rt in targets:
            final = rt["final"]
            if rt.get("not_in_log"):
                if any(f"to=<{addr}>" in r for r in rejects):
                    problems.append(f"{name}: {addr} is in a reject line after all")
                continue
            if final == "discarded":
                if not any(q in discarded for q in qids):
                    problems.append(f"{name}: {addr} not discarded by cleanup")
                continue
            if final == "rejected":
                stage, dsn = rt.get("stage"), rt["dsn"]
                if stage == "DATA" and rt["category"] == "size":
                    ok = any(
                        f"warning: {q}: queue file size limit exceeded" in w
                        for q in qids
                        for w in warnings
                    )
                elif rt["category"] == "rate_limit":
                    ok = any(
                        "rate limit exceeded" in w and f"[{rec['client_ip']}]" in w
                        for w in warnings
                    )
                elif stage == "MAIL":
                    ok = any(
                        "reject: MAIL from " in r and f"from=<{rec['sender']}>" in r and dsn in r
                        for r in rejects
                    )
                else:
                    ok = any(f"to=<{addr}>" in r and dsn in r for r in rejects)
                if not ok:
                    problems.append(f"{name}: no reject/warning line for {addr} ({stage} {dsn})")
                continue
            lines = [
                (q, d)
                for q in qids
                for d in deliveries.get(q, [])
                # a .forward's copy names the address as orig_to=: its outcome is the forward's
                if (addr == d["to"] or (addr == d["orig"] and not rt.get("forward")))
                and d["relay"] != rec.get("filter_relay")
            ]
            if final in ("held", "deleted"):
                want = held if final == "held" else removed_by_postsuper
                if not any(q in want for q in qids):
                    problems.append(f"{name}: {addr} not {final} by postsuper")
                continue
            if not lines:
                problems.append(f"{name}: no delivery line for {addr}")
                continue
            q, last = lines[-1]
            if final == "expired":
                if last["status"] != "deferred" or q not in expired:
                    problems.append(f"{name}: {addr} not expired (last {last['status']})")
            elif last["status"] != final:
                problems.append(f"{name}: {addr} final {last['status']} != {final}")
            if (
                rt.get("deferrals")
                and final in ("sent", "expired")
                and not any(d["status"] == "deferred" for _, d in lines)
            ):
                problems.append(f"{name}: {addr} expected an earlier deferral")
            if rt.get("remote_received") is False and final == "sent":
                problems.append(f"{name}: {addr} never reached the fake remote server")
    return problems


if __name__ == "__main__":  # quick smoke run: python -m tests.realpostfix.harness [--keep]
    import sys

    keep = "--keep" in sys.argv
    with PostfixLab(verbose=True, keep=keep) as _lab:
        _truth = run_scenarios(_lab)
        _lab.shutdown()
        _problems = check_ground_truth(_lab.read_log(), _truth)
        print(
            f"{len(_truth)} messages, maillog {_lab.maillog} ({_lab.log_size()} bytes)"
            + (" [kept]" if keep else " [removed on exit]")
        )
        for _p in _problems:
            print("MISMATCH:", _p)
    sys.exit(1 if _problems else 0)
