"""Opaque credentials: a readable prefix to find the record, an HMAC to check the secret."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from django.utils.crypto import salted_hmac

_SALT = "evalloop.lib.keys"


@dataclass(frozen=True)
class NewKey:
    plaintext: str  # shown to the user once, never stored
    prefix: str
    digest: str


def digest(secret: str) -> str:
    return salted_hmac(_SALT, secret, algorithm="sha256").hexdigest()


def generate(kind: str = "ev") -> NewKey:
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewKey(plaintext=f"{kind}_{prefix}_{secret}", prefix=prefix, digest=digest(secret))


def split(plaintext: str) -> tuple[str, str] | None:
    """Answer (prefix, secret) of a key in our format, or None."""
    parts = plaintext.strip().split("_", 2)
    if len(parts) != 3 or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def matches(secret: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(secret), stored_digest)
