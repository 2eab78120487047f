"""`mailidx report --mail-to`: the mail goes through a real Postfix (the lab's private instance
on loopback, tests/realpostfix/) and arrives in a local Maildir with both parts intact: the text
part is `mailidx summary`'s report, the HTML part the page `--html` wrote in the same run."""

from __future__ import annotations

import email
import email.policy
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import Mailidx

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
WINDOW = ("--since", "2026-11-27", "--until", "2026-11-28", "--tz", "UTC")


def test_report_mailed_through_real_postfix_arrives_with_both_parts(tmp_path):
    from tests.realpostfix.harness import LAB_HOSTNAME, PostfixLab, unavailable_reason

    reason = unavailable_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the real-Postfix mail test: {reason}")
        pytest.skip(reason)
    idx = Mailidx(tmp_path / "index.duckdb", tmp_path)
    idx.build(*sorted(EXAMPLES.glob("maillog*")), "--year", "2026")
    page = tmp_path / "report.html"
    with PostfixLab() as lab:
        # the lab keeps messages small; a report mail is ~200 KB (Postfix's default limit: 10 MB;
        # mailbox_size_limit may not be below it, or local delivery stops)
        subprocess.run(
            [
                "postconf",
                *("-c", str(lab.etc), "-e"),
                "message_size_limit=10240000",
                "mailbox_size_limit=51200000",
            ],
            check=True,
        )
        lab.reload()
        # Postfix's own sendmail, pointed at the lab's configuration by MAIL_CONFIG
        idx.run(
            "report",
            *WINDOW,
            "--html",
            str(page),
            "--mail-to",
            f"labalice@{LAB_HOSTNAME}",
            "--mail-from",
            "reports@lab.test",
            "--subject",
            "mail report <yesterday>",
            env=idx.env(MAIL_CONFIG=str(lab.etc)),
        )
        maildir = lab.home("labalice") / "Maildir" / "new"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not (maildir.is_dir() and any(maildir.iterdir())):
            time.sleep(0.5)
        arrived = sorted(maildir.iterdir()) if maildir.is_dir() else []
        assert len(arrived) == 1, "the report did not arrive in labalice's Maildir"
        raw = arrived[0].read_bytes()
        lab.shutdown()
        log = lab.maillog.read_text()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"] == "mail report <yesterday>"
    assert msg["From"] == "reports@lab.test" and msg["To"] == f"labalice@{LAB_HOSTNAME}"
    assert msg.get_content_type() == "multipart/alternative"
    parts = [p for p in msg.iter_parts()]
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    summary = idx.run("summary", *WINDOW).stdout.decode()
    assert parts[0].get_content().rstrip("\n") == summary.rstrip("\n")
    assert parts[1].get_content().rstrip("\n") == page.read_text().rstrip("\n")
    assert log.count(f"to=<labalice@{LAB_HOSTNAME}>, relay=local") == 1  # delivered once
    assert "from=<reports@lab.test>" in log  # the envelope sender is the From: address
