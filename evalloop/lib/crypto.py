"""Encryption at rest for secrets evalloop must read back (LLM provider keys).

Fernet (AES-128-CBC with an HMAC-SHA256, from the `cryptography` package) under a key
derived with HKDF-SHA256 from the setting `EVALLOOP_ENCRYPTION_KEY`, which defaults to
`SECRET_KEY`. A token made under another key, or altered, is refused with `Undecryptable`.
"""

from __future__ import annotations

import base64
from functools import cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

# Fixed, public inputs of the derivation: they separate this use of the secret from others.
_SALT = b"evalloop-encryption-at-rest"
_INFO = b"evalloop provider keys v1"


class Undecryptable(ValueError):
    """A token this installation's encryption key did not make (or one that was altered)."""


@cache
def _fernet(secret: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=_INFO).derive(
        secret.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def _current() -> Fernet:
    # Read on every call, so a changed setting (in tests, or after a restart) takes effect.
    return _fernet(str(settings.EVALLOOP_ENCRYPTION_KEY))


def encrypt(text: str) -> str:
    """Answer an opaque token holding `text`, readable only with this installation's key."""
    return _current().encrypt(text.encode()).decode("ascii")


def decrypt(token: str) -> str:
    """Answer the text `encrypt` put in `token`; Undecryptable when the key differs."""
    try:
        return _current().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError) as exc:
        raise Undecryptable(
            "The stored secret cannot be decrypted: it was encrypted under another "
            "EVALLOOP_ENCRYPTION_KEY (or SECRET_KEY). Enter the secret again."
        ) from exc
