"""Email: a plain-text mail (with an HTML part carrying the approve / deny buttons of a
wait) sent through the operator's SMTP server.

The standard library's `smtplib` runs in a worker thread: mail goes out a few times per task
at most, so a thread per attempt costs nothing that matters, and it spares a dependency.
Without an SMTP server configured, a delivery fails at once with that reason: it is never
dropped in silence. A 5xx reply is final (the server will refuse again), but for a refused
login; anything else (4xx, a lost connection, a timeout) is retried like any failed delivery.
"""

from __future__ import annotations

import asyncio
import html
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, ClassVar

from taskloom.config import SmtpConfig
from taskloom.engine.channels.base import Outcome, Outgoing
from taskloom.engine.channels.text import Message

NOT_CONFIGURED = "no SMTP server is configured (set TASKLOOM_SMTP_HOST and TASKLOOM_SMTP_FROM)"


def compose(to: list[str], message: Message) -> dict[str, Any]:
    """The delivery's payload: everything the mail will say."""
    return {
        "to": to,
        "subject": message.subject,
        "text": message.body,
        "links": [{"text": link.text, "url": link.url} for link in message.links],
    }


def mail(payload: dict[str, Any], *, sender: str, message_id: str) -> EmailMessage:
    """The MIME message. Its Message-ID is the delivery's id, the same on every attempt, so a
    mail system can drop a repeat."""
    links = payload.get("links") or []
    text = payload["text"]
    if links:
        text += "\n\n" + "\n".join(f"{link['text']}: {link['url']}" for link in links)
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(payload["to"])
    msg["Subject"] = payload["subject"]
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = f"<{message_id}@taskloom>"
    msg.set_content(text)
    if links:
        buttons = " ".join(
            f'<a href="{html.escape(link["url"])}" style="padding:8px 16px;border:1px solid;'
            f'text-decoration:none">{html.escape(link["text"])}</a>'
            for link in links
        )
        body = html.escape(payload["text"]).replace("\n", "<br>")
        msg.add_alternative(f"<p>{body}</p><p>{buttons}</p>", subtype="html")
    return msg


class EmailChannel:
    name: ClassVar[str] = "email"

    def __init__(self, config: SmtpConfig | None) -> None:
        self._config = config

    async def send(self, outgoing: Outgoing, timeout_s: float) -> Outcome:
        if self._config is None:
            return Outcome(ok=False, error=NOT_CONFIGURED, final=True)
        msg = mail(
            outgoing.delivery.payload, sender=self._config.sender, message_id=outgoing.delivery.id
        )
        try:
            refused = await asyncio.to_thread(_send, self._config, msg, timeout_s)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            return Outcome(
                ok=False,
                status_code=max(codes, default=None),
                error=f"every recipient was refused: {_said(exc.recipients)}",
                final=all(code >= 500 for code in codes),
            )
        except smtplib.SMTPResponseException as exc:
            said = (
                exc.smtp_error.decode(errors="replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            return Outcome(
                ok=False,
                status_code=exc.smtp_code,
                error=f"the SMTP server answered {exc.smtp_code}: {said}"[:1000],
                # a refused login is the server's setting to fix, not the mail's fault
                final=exc.smtp_code >= 500 and not isinstance(exc, smtplib.SMTPAuthenticationError),
            )
        if refused:
            # sent to the others: a retry would mail them twice
            return Outcome(ok=True, status_code=250, error=f"refused: {_said(refused)}")
        return Outcome(ok=True, status_code=250)


def _send(config: SmtpConfig, msg: EmailMessage, timeout_s: float) -> dict[str, tuple[int, bytes]]:
    """One SMTP session (blocking: runs in a worker thread)."""
    client: smtplib.SMTP
    if config.tls == "ssl":
        client = smtplib.SMTP_SSL(
            config.host, config.port, timeout=timeout_s, context=ssl.create_default_context()
        )
    else:
        client = smtplib.SMTP(config.host, config.port, timeout=timeout_s)
    with client:
        if config.tls == "starttls":
            client.starttls(context=ssl.create_default_context())
        if config.username is not None and config.password is not None:
            client.login(config.username, config.password.get_secret_value())
        return client.send_message(msg)


def _said(refused: dict[str, tuple[int, bytes]]) -> str:
    return ", ".join(f"{rcpt} ({code})" for rcpt, (code, _) in refused.items())
