"""The report as one mail: multipart/alternative with `mailidx summary`'s text and the HTML
page (base64, so no line of the page is too long for SMTP), handed to `sendmail -t -oi`
(Postfix's, or any program that takes a message on stdin the same way)."""

from __future__ import annotations

import subprocess
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from mailidx.errors import MailidxError

DEFAULT_SENDMAIL = "/usr/sbin/sendmail"


class MailError(MailidxError):
    """The mail could not be handed over; the message is one line for the user."""


def message(
    to: list[str], subject: str, text: str, html: str, sender: str | None = None
) -> EmailMessage:
    msg = EmailMessage()
    msg["To"] = ", ".join(to)
    if sender:
        msg["From"] = sender
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain="mailidx.report")
    msg.set_content(text, cte="quoted-printable")
    msg.add_alternative(html, subtype="html", cte="base64")
    return msg


def send(msg: EmailMessage, sendmail: str = DEFAULT_SENDMAIL) -> None:
    """`sendmail -t -oi [-f FROM]`: the recipients from the To: header, a lone dot is not the
    end, and the envelope sender is the From: address when there is one."""
    command = [sendmail, "-t", "-oi"]
    if msg["From"]:
        command += ["-f", msg["From"]]
    try:
        proc = subprocess.run(command, input=msg.as_bytes(), capture_output=True, timeout=120)
    except FileNotFoundError:
        raise MailError(f"no sendmail at {sendmail}; install Postfix or pass --sendmail") from None
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MailError(f"{sendmail} failed: {exc}") from None
    if proc.returncode != 0:
        said = proc.stderr.decode(errors="replace").strip().splitlines()
        raise MailError(
            f"{sendmail} exited {proc.returncode}: {said[-1] if said else 'no message'}"
        )
