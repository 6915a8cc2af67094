"""Provider credentials at rest: Fernet (AES-128-CBC + HMAC-SHA256) with a key derived from the deployment's
SECRET_KEY, so a copy of the database alone does not reveal a business's SMS API key."""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    digest = hashlib.sha256(b"vafa.messaging.credentials:" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode() if plain else ""


def decrypt(token: str) -> str:
    """The stored key, or "" when there is none or SECRET_KEY changed since it was stored (enter it again)."""
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        return ""


def last4(plain: str) -> str:
    return plain[-4:] if plain else ""
