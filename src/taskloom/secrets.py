"""Named secrets: provider keys an organization stores once and agents refer to by name.

Values are encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256) under a key derived
from the server's `TASKLOOM_SECRET_KEY`; they are decrypted only when a model call needs
them, and never returned by the API.
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING

from pydantic import SecretStr

from taskloom import errors
from taskloom.clock import utcnow
from taskloom.store import secrets as secret_store
from taskloom.store.database import Database

if TYPE_CHECKING:
    from cryptography.fernet import Fernet


class SecretsUnavailable(errors.InvalidRequest):
    """The server was started without a secret key: it cannot store or read secrets."""


class CredentialsMissing(errors.NodeFailed):
    """A node names a secret this server cannot give it."""

    reason = "credentials_missing"


class Secrets:
    def __init__(self, db: Database, key: SecretStr | None) -> None:
        self._db = db
        self._key = key
        self._fernet: Fernet | None = None

    def seal(self, value: str) -> str:
        """`value` encrypted for storage beside other data (a channel's bot token in a
        notification delivery), to be opened with `unseal` just before it is used."""
        return self._cipher().encrypt(value.encode()).decode()

    def unseal(self, sealed: str) -> str:
        from cryptography.fernet import InvalidToken

        try:
            return self._cipher().decrypt(sealed.encode()).decode()
        except InvalidToken as exc:  # sealed under another TASKLOOM_SECRET_KEY
            raise SecretsUnavailable(
                "a credential sealed under another TASKLOOM_SECRET_KEY cannot be opened"
            ) from exc

    def _cipher(self) -> Fernet:
        if self._key is None:
            raise SecretsUnavailable(
                "this server stores no secrets: start it with TASKLOOM_SECRET_KEY set"
            )
        if self._fernet is None:
            # cryptography costs ~7 MiB: loaded when a secret is first stored or used
            from cryptography.fernet import Fernet

            digest = hashlib.sha256(self._key.get_secret_value().encode()).digest()
            self._fernet = Fernet(base64.urlsafe_b64encode(digest))
        return self._fernet

    async def store(self, *, organization_id: str, name: str, value: str) -> None:
        ciphertext = self._cipher().encrypt(value.encode()).decode()
        async with self._db.write() as conn:
            await secret_store.put_secret(
                conn,
                organization_id=organization_id,
                name=name,
                ciphertext=ciphertext,
                now=utcnow(),
            )

    async def reveal(self, *, organization_id: str, name: str) -> str:
        """The value, for a node about to use it; a node failure when it cannot be had."""
        try:
            cipher = self._cipher()
            async with self._db.read() as conn:
                ciphertext = await secret_store.get_ciphertext(
                    conn, organization_id=organization_id, name=name
                )
        except (errors.NotFound, SecretsUnavailable) as exc:
            raise CredentialsMissing(str(exc)) from exc
        from cryptography.fernet import InvalidToken

        try:
            return cipher.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:  # stored under another TASKLOOM_SECRET_KEY
            raise CredentialsMissing(
                f"secret {name!r} cannot be decrypted with this server's TASKLOOM_SECRET_KEY"
            ) from exc
