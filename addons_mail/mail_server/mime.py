"""Serializing outgoing mails to RFC 5322 / MIME bytes, fast.

The body of a mail (its parts, their headers and transfer encoding, the generated text part, the
attachments) is serialized once per content and cached; each mail only adds its own header fields.
Output uses CRLF, folds header lines at 78 characters, RFC 2047-encodes non-ASCII header text,
RFC 2231-encodes non-ASCII file names, and uses 7bit, quoted-printable or base64 transfer encodings.
"""
import base64
import binascii
import email.quoprimime
import html
import os
import re
from collections import OrderedDict
from email.utils import format_datetime

from addons_mail.mail_server.addresses import idna_domain

CRLF = "\r\n"
MAX_LINE = 78
_ENCODED_WORD_BYTES = 45  # 45 bytes -> 60 base64 characters -> 72-character encoded word
_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')
_BLOCK_TAGS = {"p", "div", "tr", "table", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
               "pre", "section", "article", "header", "footer"}


# -- header fields ---------------------------------------------------------------------------------

def _encoded_words(text: str) -> list[str]:
    words, chunk, size = [], [], 0
    for char in text:
        length = len(char.encode("utf-8"))
        if size + length > _ENCODED_WORD_BYTES:
            words.append("".join(chunk))
            chunk, size = [], 0
        chunk.append(char)
        size += length
    if chunk:
        words.append("".join(chunk))
    return ["=?utf-8?b?" + base64.b64encode(word.encode("utf-8")).decode("ascii") + "?=" for word in words]


def fold(name: str, tokens: list[str]) -> str:
    """``Name: tok tok ...`` folded before a token when the line would pass 78 characters."""
    lines, line = [], name + ":"
    for token in tokens:
        if len(line) + 1 + len(token) > MAX_LINE and line.strip() != name + ":":
            lines.append(line)
            line = " " + token
        else:
            line += " " + token
    lines.append(line)
    return CRLF.join(lines) + CRLF


def encode_text_header(name: str, value: str) -> str:
    """An unstructured header field (Subject, custom ones): RFC 2047 when not ASCII, folded."""
    value = " ".join(value.split()) if ("\n" in value or "\r" in value or "\t" in value) else value
    if value.isascii():
        if len(name) + 2 + len(value) <= MAX_LINE:
            return f"{name}: {value}{CRLF}"
        return fold(name, value.split(" "))
    return fold(name, _encoded_words(value))


def _display_name_tokens(name: str) -> list[str]:
    if not name:
        return []
    if not name.isascii():
        return _encoded_words(name)
    if _SPECIALS.search(name):
        return ['"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"']
    return name.split()


def address_tokens(name: str, address: str) -> list[str]:
    """Tokens of ``Name <local@domain>``; the domain in IDNA (an encoded word may not be in an address)."""
    local, _, domain = address.rpartition("@")
    addr = f"{local}@{idna_domain(domain)}"
    tokens = _display_name_tokens(name)
    return tokens + [f"<{addr}>"] if tokens else [addr]


def encode_address_header(name: str, pairs: list[tuple[str, str]]) -> str:
    """An address list header field (From, To, Cc, Reply-To), folded between addresses."""
    tokens: list[str] = []
    for index, (display, address) in enumerate(pairs):
        part = address_tokens(display, address)
        if index < len(pairs) - 1:
            part[-1] += ","
        tokens.extend(part)
    return fold(name, tokens)


_date_cache: dict[int, str] = {}


def date_header(moment) -> str:
    """RFC 5322 date of a naive UTC datetime (cached per second: it is built for every mail)."""
    key = int(moment.timestamp())
    text = _date_cache.get(key)
    if text is None:
        _date_cache.clear()
        import datetime

        text = format_datetime(moment.replace(tzinfo=datetime.timezone.utc, microsecond=0))
        _date_cache[key] = text
    return text


# -- body ------------------------------------------------------------------------------------------

_INVISIBLE = re.compile(r"<(script|style|head|title)\b.*?</\1\s*>", re.S | re.I)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_LINK = re.compile(r"<a\b[^>]*?\bhref\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+))[^>]*>(.*?)</a\s*>", re.S | re.I)
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)\b[^>]*>")
_SPACES = re.compile(r"[ \t\u00a0]+")


def _link_text(match: re.Match) -> str:
    href = match.group(1) or match.group(2) or match.group(3) or ""
    if href and not href.startswith(("#", "mailto:", "javascript:")):
        return f"{match.group(4)} [{href}]"
    return match.group(4)


def _tag_text(match: re.Match) -> str:
    closing, tag = match.group(1), match.group(2).lower()
    if tag == "br":
        return "\n"
    if tag in _BLOCK_TAGS:
        if closing:
            return "\n"
        return "\n\n" if tag == "p" else ("\n* " if tag == "li" else "\n")
    return ""


def html_to_text(body_html: str) -> str:
    """The plain-text alternative of an HTML body: paragraphs, line breaks, list bullets, link targets.

    Regular expressions rather than an HTML parser: this runs once per mail of a mass mailing.
    """
    text = (body_html or "").replace("\r", "").replace("\n", " ")
    text = _COMMENT.sub("", _INVISIBLE.sub("", text))
    text = _TAG.sub(_tag_text, _LINK.sub(_link_text, text))
    text = html.unescape(text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def _text_part(subtype: str, text: str) -> bytes:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.isascii() and all(len(line) <= 998 for line in text.split("\n")):
        encoding, payload = "7bit", text.replace("\n", CRLF)
        charset = "us-ascii"
    else:
        encoding = "quoted-printable"
        charset = "utf-8"
        payload = email.quoprimime.body_encode(text.encode("utf-8").decode("latin-1"), 76, CRLF)
    if not payload.endswith(CRLF):
        payload += CRLF
    return (f"Content-Type: text/{subtype}; charset=\"{charset}\"{CRLF}"
            f"Content-Transfer-Encoding: {encoding}{CRLF}{CRLF}{payload}").encode("ascii")


def _filename_parameter(filename: str) -> str:
    filename = filename.replace("\r", " ").replace("\n", " ")
    if filename.isascii():
        return 'filename="' + filename.replace("\\", "\\\\").replace('"', '\\"') + '"'
    from urllib.parse import quote

    return "filename*=utf-8''" + quote(filename, safe="")


def _attachment_part(filename: str, mimetype: str, data: bytes) -> bytes:
    mimetype = mimetype if re.fullmatch(r"[\w.+-]+/[\w.+-]+", mimetype or "") else "application/octet-stream"
    encoded = binascii.b2a_base64(data, newline=False)
    lines = b"\r\n".join(encoded[i:i + 76] for i in range(0, len(encoded), 76))
    parameter = _filename_parameter(filename)
    return (f"Content-Type: {mimetype}{CRLF}Content-Transfer-Encoding: base64{CRLF}"
            f"Content-Disposition: attachment;{CRLF} {parameter}{CRLF}{CRLF}").encode("ascii") + lines + b"\r\n"


def _multipart(subtype: str, parts: list[bytes]) -> bytes:
    boundary = "===============" + os.urandom(12).hex() + "=="
    marker = f"--{boundary}\r\n".encode("ascii")
    return (f"Content-Type: multipart/{subtype};{CRLF} boundary=\"{boundary}\"{CRLF}{CRLF}".encode("ascii")
            + b"".join(marker + part for part in parts)
            + f"--{boundary}--\r\n".encode("ascii"))


def serialize_body(body_html: str | None, body_text: str | None, attachments=()) -> bytes:
    """``MIME-Version``, the top ``Content-*`` fields, an empty line and the encoded body.

    HTML gets a text alternative (``body_text`` or one generated from the HTML); attachments
    ``(filename, mimetype, data)`` wrap it in multipart/mixed.
    """
    if body_html:
        text = body_text if body_text else html_to_text(body_html)
        main = _multipart("alternative", [_text_part("plain", text), _text_part("html", body_html)])
    else:
        main = _text_part("plain", body_text or "")
    if attachments:
        main = _multipart("mixed", [main] + [_attachment_part(*item) for item in attachments])
    return b"MIME-Version: 1.0\r\n" + main


class BodyCache:
    """Serialized bodies by content id (least recently used ones are forgotten beyond ``size``)."""

    def __init__(self, size: int = 256):
        self.size = size
        self._bodies: OrderedDict[int, bytes] = OrderedDict()

    def get(self, content_id: int) -> bytes | None:
        body = self._bodies.get(content_id)
        if body is not None:
            self._bodies.move_to_end(content_id)
        return body

    def put(self, content_id: int, body: bytes) -> None:
        self._bodies[content_id] = body
        self._bodies.move_to_end(content_id)
        while len(self._bodies) > self.size:
            self._bodies.popitem(last=False)


def escape_for_html(text: str) -> str:
    """A plain-text body shown as HTML (``juniper mail send --body``)."""
    return "<p>" + html.escape(text).replace("\n", "<br>") + "</p>"
