"""Unsubscribe tokens: ``<mailing id>-<contact id>-<HMAC>`` signed with the database secret.

The HMAC is SHA-256 over ``"unsubscribe:<mailing>:<contact>"`` keyed by ``database.secret``,
truncated to 128 bits in lower-case hex, so the token fits in an address local part
(``unsubscribe+<token>@domain``, under 64 characters) and survives lower-casing. Tokens are
compared with :func:`hmac.compare_digest`.
"""
import hashlib
import hmac
import re
from typing import NamedTuple

from kernel.errors import UserError

TOKEN_PATTERN = re.compile(r"^(\d+)-(\d+)-([0-9a-f]{32})$")
MAILTO_LOCAL_PREFIX = "unsubscribe+"


class UnsubscribeTarget(NamedTuple):
    mailing_id: int
    contact_id: int


def _secret(env) -> bytes:
    secret = env.params.get("database.secret")
    if not secret:
        raise UserError("This database has no secret to sign unsubscribe links.", hint="Run `juniper init`.")
    return secret.encode()


def _sign(secret: bytes, mailing_id: int, contact_id: int) -> str:
    message = f"unsubscribe:{mailing_id}:{contact_id}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]


def _signature(env, mailing_id: int, contact_id: int) -> str:
    return _sign(_secret(env), mailing_id, contact_id)


def make_unsubscribe_token(env, mailing_id: int, contact_id: int) -> str:
    return f"{mailing_id}-{contact_id}-{_signature(env, mailing_id, contact_id)}"


def read_unsubscribe_token(env, token: str) -> UnsubscribeTarget | None:
    """The (mailing, contact) a token was made for, or None when it is malformed or forged."""
    match = TOKEN_PATTERN.match((token or "").strip().lower())
    if not match:
        return None
    mailing_id, contact_id = int(match[1]), int(match[2])
    if not hmac.compare_digest(match[3], _signature(env, mailing_id, contact_id)):
        return None
    return UnsubscribeTarget(mailing_id, contact_id)


def unsubscribe_url(env, token: str) -> str:
    base = (env.params.get("web.base.url") or "http://127.0.0.1:8069").rstrip("/")
    return f"{base}/mail/unsubscribe/{token}"


def unsubscribe_mailto(env, token: str) -> str | None:
    """``unsubscribe+<token>@<catchall domain>``, or None when ``mail.catchall.domain`` is unset."""
    domain = env.params.get("mail.catchall.domain")
    return f"{MAILTO_LOCAL_PREFIX}{token}@{domain}" if domain else None


def token_from_mailto(address: str, domain: str | None) -> str | None:
    """The token of an ``unsubscribe+<token>@<domain>`` address, or None for any other address."""
    local, _, address_domain = (address or "").lower().rpartition("@")
    if not local.startswith(MAILTO_LOCAL_PREFIX) or not domain or address_domain != domain.lower():
        return None
    return local[len(MAILTO_LOCAL_PREFIX):]


class UnsubscribeLinks:
    """Token, URL and mailto of each recipient of one mailing, with the secret and the settings read
    once (a mailing makes one per recipient)."""

    def __init__(self, env, mailing_id: int):
        self.mailing_id = mailing_id
        self.secret = _secret(env)
        self.base_url = (env.params.get("web.base.url") or "http://127.0.0.1:8069").rstrip("/")
        self.domain = env.params.get("mail.catchall.domain")

    def token(self, contact_id: int) -> str:
        return f"{self.mailing_id}-{contact_id}-{_sign(self.secret, self.mailing_id, contact_id)}"

    def url(self, token: str) -> str:
        return f"{self.base_url}/mail/unsubscribe/{token}"

    def mailto(self, token: str) -> str | None:
        return f"{MAILTO_LOCAL_PREFIX}{token}@{self.domain}" if self.domain else None
