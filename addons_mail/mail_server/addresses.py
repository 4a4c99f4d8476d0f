"""Addresses of the database (default From, catchall, bounce) and the From rules of SPEC §2.3.

Everything here is pure: it reads parameters but writes nothing, so ``explain`` can show it.
"""
import functools
import hashlib
import hmac
import re
from dataclasses import dataclass
from email.utils import getaddresses, parseaddr

from kernel.errors import UserError

_TOKEN_PATTERN = re.compile(r"^(\d+)-([0-9a-f]{12})$")
_HEADER_INJECTION = re.compile(r"[\r\n]")


@functools.lru_cache(maxsize=8192)
def split_address(text: str | None) -> tuple[str, str]:
    """(display name, address) of one address text; the address is '' when there is none."""
    if not text:
        return "", ""
    name, address = parseaddr(text)
    if "@" not in address:
        return name, ""
    return name, address


_SIMPLE_ADDRESS = re.compile(r"^\s*(?:([^\"<>@,;:()\[\]\\]*?)\s*<([^<>@\s,;:()\"]+@[^<>@\s,;:()\"]+)>"
                             r"|([^<>@\s,;:()\"]+@[^<>@\s,;:()\"]+))\s*$")


def split_addresses(value) -> list[tuple[str, str]]:
    """Every (display name, address) of a string (comma-separated) or a list of strings."""
    if not value:
        return []
    if isinstance(value, str):
        value = [value]
    if not any('"' in item or "(" in item for item in value):
        # Plain "Name <a@b>" or "a@b" lists (nearly all mails) skip the full RFC 5322 parser.
        pairs = []
        for item in value:
            for part in item.split(","):
                match = _SIMPLE_ADDRESS.match(part)
                if match is None:
                    if part.strip():
                        break
                    continue
                pairs.append((match.group(1) or "", match.group(2) or match.group(3)))
            else:
                continue
            break
        else:
            return pairs
    return [(name, address) for name, address in getaddresses(list(value)) if address]


def format_address(name: str, address: str) -> str:
    """``Name <address>`` as stored text (quoted when the name has specials; never RFC 2047-encoded)."""
    if not name:
        return address
    if re.search(r'[()<>\[\]:;@\\,."]', name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address}>"


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


def idna_domain(domain: str) -> str:
    """The ASCII (IDNA) form of a domain, as it is sent in the SMTP envelope."""
    if domain.isascii():
        return domain
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise UserError(f"{domain!r} is not a valid domain name.") from None


def envelope_address(address: str) -> str:
    """``address`` with its domain IDNA-encoded (the local part is sent as it is)."""
    local, _, domain = address.rpartition("@")
    return f"{local}@{idna_domain(domain)}" if domain else address


def check_no_header_injection(field: str, value) -> None:
    """Refuse CR or LF in a header value: they would let the text add header fields."""
    values = value if isinstance(value, (list, tuple)) else [value]
    for item in values:
        if isinstance(item, str) and _HEADER_INJECTION.search(item):
            raise UserError(f"The {field} contains a line break, which is not allowed in an email header.",
                            hint="Remove the line break from the value.")


# -- derived addresses (SPEC §1) -------------------------------------------------------------------

def alias_domain(env) -> str | None:
    domain = (env.params.get("mail.catchall.domain") or "").strip().lower()
    return domain or None


def default_from_address(env) -> str | None:
    """``mail.default.from`` when it is a full address, else ``<it>@<alias domain>``; None without domain."""
    value = (env.params.get("mail.default.from") or "").strip()
    if "@" in value:
        return value.lower()
    domain = alias_domain(env)
    if not value or not domain:
        return None
    return f"{value}@{domain}".lower()


def catchall_address(env) -> str | None:
    domain = alias_domain(env)
    alias = (env.params.get("mail.catchall.alias") or "").strip()
    return f"{alias}@{domain}".lower() if domain and alias else None


def bounce_address(env) -> str | None:
    domain = alias_domain(env)
    alias = (env.params.get("mail.bounce.alias") or "").strip()
    return f"{alias}@{domain}".lower() if domain and alias else None


# -- bounce tokens (VERP) --------------------------------------------------------------------------

def _token_signature(env, mail_id: int) -> str:
    return token_signature((env.params.get("database.secret") or "").encode(), mail_id)


def token_signature(secret: bytes, mail_id: int) -> str:
    return hmac.new(secret, f"bounce:{mail_id}".encode(), hashlib.sha256).hexdigest()[:12]


def bounce_token(env, mail_id: int) -> str:
    """The tag of ``bounce+<token>@domain`` for one outgoing mail: its id and an HMAC of it."""
    return f"{mail_id}-{_token_signature(env, mail_id)}"


def mail_id_from_bounce_token(env, token: str) -> int | None:
    """The outgoing mail id a bounce token names, or None when the token is not ours."""
    match = _TOKEN_PATTERN.match((token or "").strip().lower())
    if not match:
        return None
    mail_id = int(match.group(1))
    if not hmac.compare_digest(match.group(2), _token_signature(env, mail_id)):
        return None
    return mail_id


def tagged_bounce_address(env, mail_id: int) -> str | None:
    bounce = bounce_address(env)
    if bounce is None:
        return None
    local, _, domain = bounce.partition("@")
    return f"{local}+{bounce_token(env, mail_id)}@{domain}"


# -- from_filter (SPEC §2) -------------------------------------------------------------------------

def parse_from_filter(from_filter: str | None) -> list[str]:
    return [part.strip().lower() for part in (from_filter or "").split(",") if part.strip()]


def matches_from_filter(address: str, from_filter: str | None) -> bool:
    """True when ``address`` matches the filter: a full address exactly, or exactly its domain.

    An empty filter matches every address; display names are ignored; no subdomain match.
    """
    parts = parse_from_filter(from_filter)
    if not parts:
        return True
    _name, bare = split_address(address)
    bare = (bare or address).lower()
    domain = domain_of(bare)
    return any(part == bare if "@" in part else part == domain for part in parts)


# -- header From and envelope sender (SPEC §2.3) ---------------------------------------------------

@dataclass(frozen=True)
class SenderDecision:
    """What goes into the header From and the MAIL FROM of a mail sent through a given filter."""

    header_from: str
    envelope_from: str
    encapsulated: bool
    verp: bool
    warning: str | None = None


def encapsulate_from(original: str, default_from: str) -> str:
    """Keep the display name (or the local part when there is none) and use the default From address."""
    name, address = split_address(original)
    if not name:
        name = (address or original).partition("@")[0]
    return format_address(name, default_from)


def decide_sender(env, email_from: str, from_filter: str | None, mail_id: int | None = None) -> SenderDecision:
    """Header From, envelope sender and whether the From is encapsulated, for a server with ``from_filter``.

    ``mail_id`` lets the envelope carry the VERP tag; without it the untagged bounce address is shown.
    """
    _name, address = split_address(email_from)
    default_from = default_from_address(env)
    filter_parts = parse_from_filter(from_filter)
    warning = None
    header_from = email_from
    encapsulated = False
    exclusive_default = default_from is not None and default_from in filter_parts
    must_encapsulate = (not matches_from_filter(address, from_filter)
                        or (exclusive_default and address.lower() != default_from))
    if must_encapsulate:
        if default_from is None:
            warning = ("The From address does not match the server's from_filter and no default From is "
                       "configured (set mail.catchall.domain), so it is sent unchanged.")
        elif address.lower() != default_from:
            header_from = encapsulate_from(email_from, default_from)
            encapsulated = True
    bounce = bounce_address(env)
    verp = False
    if bounce and address.lower() == bounce and default_from and not encapsulated:
        header_from, encapsulated = encapsulate_from(email_from, default_from), True
    if bounce and matches_from_filter(bounce, from_filter):
        envelope = bounce
        if mail_id is not None and env.params.get("mail.bounce.verp"):
            tagged = tagged_bounce_address(env, mail_id)
            if matches_from_filter(tagged, from_filter):
                envelope, verp = tagged, True
    else:
        envelope = split_address(header_from)[1] or address
    return SenderDecision(header_from, envelope, encapsulated, verp, warning)


def format_reply_to(company: str | None, document: str | None, address: str, limit: int = 68) -> str:
    """Reply-To of a document notification: ``"<Company> <Document>" <address>``, shortened to the
    document name, then the company name, then the bare address while the header exceeds ``limit``."""
    from email.utils import formataddr

    candidates = [" ".join(part for part in (company, document) if part), document, company]
    for name in candidates:
        if name:
            formatted = formataddr((name, address))
            if len("Reply-To: ") + len(formatted) <= limit:
                return formatted
    return address
