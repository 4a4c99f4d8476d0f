"""DKIM keys and signing of outgoing mail (RFC 6376, rsa-sha256, relaxed/relaxed).

dkimpy signs with a pure-Python RSA implementation (~13 ms per message with RSA-2048), which
makes it the hot spot of outbound throughput. ``DkimSigner`` keeps dkimpy's parsing,
canonicalization and header hashing (so its signatures are exactly what dkimpy verifies) and
only replaces the RSA private-key operation with OpenSSL's, through ``cryptography``, with the
key loaded once per signer. ``bench/dkim.py`` measures both.
"""
from __future__ import annotations

import base64
import hashlib
import re
import time
from dataclasses import dataclass

import dkim
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from dkim.canonicalization import CanonicalizationPolicy

#: Header fields signed when present, in this order (RFC 6376 §5.4.1 recommendations plus the
#: List-Unsubscribe pair that RFC 8058 one-click unsubscribe requires to be signed).
SIGNED_HEADERS = (
    "From", "To", "Cc", "Subject", "Date", "Message-ID", "Reply-To", "References",
    "In-Reply-To", "List-Unsubscribe", "List-Unsubscribe-Post", "MIME-Version", "Content-Type",
)

_CANONICALIZATION = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
_DNS_LABEL = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")
_TXT_STRING_LIMIT = 255
_SIGNATURE_LINE = 72


@dataclass(frozen=True)
class DkimKey:
    """A DKIM key pair: the private key to keep secret, the public TXT value to publish."""

    private_pem: bytes
    public_txt: str


def generate_dkim_key(bits: int = 2048) -> DkimKey:
    """Generate an RSA key pair for DKIM.

    ``private_pem`` is the unencrypted PKCS#8 PEM private key; ``public_txt`` is the value of the
    selector's TXT record: ``v=DKIM1; k=rsa; p=<base64 DER SubjectPublicKeyInfo>``.
    """
    if bits < 1024:
        raise ValueError(f"A DKIM key of {bits} bits is too weak: use at least 1024 (2048 recommended).")
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public_txt = "v=DKIM1; k=rsa; p=" + base64.b64encode(public_der).decode("ascii")
    return DkimKey(private_pem=private_pem, public_txt=public_txt)


def dns_record(domain: str, selector: str, key: DkimKey) -> str:
    """The zone-file line that publishes ``key`` for ``selector`` of ``domain``.

    ``'<selector>._domainkey.<domain>. TXT "..." "..."'``: the value is split into quoted strings
    of at most 255 characters, as a single TXT string cannot be longer.
    """
    domain = _normalize_domain(domain)
    selector = _check_selector(selector)
    value = key.public_txt
    chunks = [value[i:i + _TXT_STRING_LIMIT] for i in range(0, len(value), _TXT_STRING_LIMIT)]
    quoted = " ".join(f'"{chunk}"' for chunk in chunks)
    return f"{selector}._domainkey.{domain}. TXT {quoted}"


class DkimSigner:
    """Signs messages for one domain and selector with an RSA private key (PEM, PKCS#1 or #8).

    The key is parsed once, here; a malformed key raises ``ValueError`` with one sentence.
    """

    def __init__(self, domain: str, selector: str, private_pem: bytes):
        self.domain = _normalize_domain(domain)
        self.selector = _check_selector(selector)
        try:
            key = serialization.load_pem_private_key(private_pem, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise ValueError(
                f"The DKIM private key for {self.domain} (selector {self.selector}) is not an "
                f"unencrypted PEM private key: {exc}"
            ) from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(
                f"The DKIM private key for {self.domain} (selector {self.selector}) is not an RSA key."
            )
        self._private_key = key
        self._domain_bytes = self.domain.encode("ascii")
        self._selector_bytes = self.selector.encode("ascii")

    def sign(self, message_bytes: bytes) -> bytes:
        """Return ``message_bytes`` with a ``DKIM-Signature`` header field prepended.

        Signs the fields of ``SIGNED_HEADERS`` that the message has (each occurrence), with
        relaxed/relaxed canonicalization. The message keeps its own line endings.
        """
        try:
            headers, body = dkim.rfc822_parse(message_bytes)
        except dkim.MessageFormatError as exc:
            raise ValueError(f"The message cannot be DKIM-signed: {exc}.") from None
        include_headers = _headers_to_sign(headers)
        if b"from" not in include_headers:
            raise ValueError("The message has no From header field, so it cannot be DKIM-signed.")
        body_hash = base64.b64encode(hashlib.sha256(_CANONICALIZATION.canonicalize_body(body)).digest())
        fields = [
            (b"v", b"1"),
            (b"a", b"rsa-sha256"),
            (b"c", b"relaxed/relaxed"),
            (b"d", self._domain_bytes),
            (b"s", self._selector_bytes),
            (b"t", str(int(time.time())).encode("ascii")),
            (b"h", b" : ".join(include_headers)),
            (b"bh", body_hash),
        ]
        # The tags before b= are folded once and reused verbatim in the hashed copy and in the
        # output, and b= starts its own line, so the two can only differ inside b=.
        tags = dkim.fold(b"; ".join(b"=".join(field) for field in fields) + b";",
                         namelen=len(b"DKIM-Signature: "))
        header_hash = hashlib.sha256()
        dkim.hash_headers(
            header_hash,
            _CANONICALIZATION,
            _CANONICALIZATION.canonicalize_headers(headers),
            include_headers,
            (b"DKIM-Signature", b" " + tags + b"\r\n b="),
            dict(fields),
        )
        signature = base64.b64encode(self._private_key.sign(
            header_hash.digest(), padding.PKCS1v15(), Prehashed(hashes.SHA256())
        ))
        linesep = b"\r\n" if b"\r\n" in message_bytes[:4096] else b"\n"
        signature_lines = (linesep + b" ").join(
            signature[i:i + _SIGNATURE_LINE] for i in range(0, len(signature), _SIGNATURE_LINE)
        )
        return (b"DKIM-Signature: " + tags.replace(b"\r\n", linesep) + linesep
                + b" b=" + signature_lines + linesep + message_bytes)


def _headers_to_sign(headers: list) -> list[bytes]:
    present: dict[bytes, int] = {}
    for name, _value in headers:
        lowered = name.lower()
        present[lowered] = present.get(lowered, 0) + 1
    include = []
    for name in SIGNED_HEADERS:
        lowered = name.lower().encode("ascii")
        include.extend([lowered] * present.get(lowered, 0))
    return include


def _normalize_domain(domain: str) -> str:
    normalized = domain.strip().rstrip(".").lower()
    try:
        normalized = normalized.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"{domain!r} is not a valid domain name.") from None
    if not normalized or not all(_DNS_LABEL.match(label) for label in normalized.split(".")):
        raise ValueError(f"{domain!r} is not a valid domain name.")
    return normalized


def _check_selector(selector: str) -> str:
    selector = selector.strip()
    if not selector or not all(_DNS_LABEL.match(label) for label in selector.split(".")):
        raise ValueError(
            f"{selector!r} is not a valid DKIM selector: use letters, digits and hyphens, e.g. 'juniper1'."
        )
    return selector
