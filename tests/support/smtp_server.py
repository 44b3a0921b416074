"""An SMTP server on loopback (aiosmtpd), as an operator's mail relay would be: it takes the
mail taskloom sends, checks the login when one is set, and answers with scripted replies."""

from __future__ import annotations

import socket
import ssl
import threading
from collections import deque
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass(frozen=True)
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return "" if part is None else str(part.get_content())

    @property
    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        return "" if part is None else str(part.get_content())


@dataclass
class SmtpServer:
    """Answers DATA with the scripted replies (then `250 OK`); with `login` set, only that
    (user, password) may send."""

    login: tuple[str, str] | None = None
    # offer STARTTLS with this context, and require it before AUTH and MAIL
    tls: ssl.SSLContext | None = None
    replies: deque[str] = field(default_factory=deque)
    received: list[Mail] = field(default_factory=list)  # accepted
    tried: list[Mail] = field(default_factory=list)  # every DATA, refused ones too
    logins: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.port = _free_port()
        self._controller = Controller(
            self,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self._authenticate,
            auth_require_tls=self.tls is not None,
            tls_context=self.tls,
            require_starttls=self.tls is not None,
        )

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            reply = self.replies.popleft() if self.replies else "250 OK"
            parsed = message_from_bytes(envelope.content, policy=policy.default)
            mail = Mail(envelope.mail_from, list(envelope.rcpt_tos), parsed)
            self.tried.append(mail)
            if reply.startswith("250"):
                self.received.append(mail)
        return reply

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword) or self.login is None:
            return AuthResult(success=False, handled=False)
        user, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append(user)
        return AuthResult(success=(user, password) == self.login, handled=False)

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._controller.stop()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
