"""Sanitize the HTML body of an incoming email so it can be shown in a thread.

Contract of :func:`sanitize_html`: the result keeps ordinary formatting (text styles, paragraphs,
lists, tables, links, images) and nothing that can run code or send data without a click:

- removed with their content: ``script``, ``style`` blocks whose CSS could run code or fetch
  through a non-http(s) URL, ``svg``, ``math``, ``iframe``, ``object``, ``embed``, ``form``,
  ``textarea``, ``select``, ``noscript``, ``template``, ``title``, ``head`` metadata;
- removed (tag only, text kept): every tag not in the allow-list, including ``meta``, ``base``,
  ``link``, ``input`` and ``button``;
- attributes: an allow-list per tag, never event handlers (``on*``); ``style`` attributes are
  dropped when their CSS carries ``expression(``, ``javascript:``/``vbscript:``, ``behavior``,
  ``-moz-binding``, ``@import`` or a ``url()`` whose scheme is not http, https or cid;
- URLs (``href``, ``src``, ``cite``): only ``http:``, ``https:``, ``mailto:``, ``cid:`` and
  relative URLs survive. ``data:`` is refused even for images: a ``data:`` URL can carry HTML or
  SVG, inline images of an email arrive as ``cid:`` parts anyway, and the browser-side rules for
  which ``data:`` types are safe are not ours to guess.

Links get ``rel="noopener noreferrer"``. The sanitizer is built once at import (nh3/ammonia, a
Rust parser that follows the HTML5 parsing algorithm, so obfuscations such as entity-encoded or
whitespace-split ``javascript:`` are decoded before the scheme is checked).
"""
from __future__ import annotations

import re

import nh3

__all__ = ["sanitize_html", "is_dangerous_css"]

ALLOWED_URL_SCHEMES = frozenset({"http", "https", "mailto", "cid"})

_FORMATTING_TAGS = {
    "a", "abbr", "acronym", "address", "b", "bdi", "bdo", "big", "blockquote", "br", "caption",
    "center", "cite", "code", "col", "colgroup", "dd", "del", "dfn", "div", "dl", "dt", "em",
    "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark",
    "ol", "p", "pre", "q", "s", "samp", "small", "span", "strike", "strong", "style", "sub",
    "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul", "var", "wbr",
    "article", "aside", "footer", "header", "section", "figure", "figcaption", "details", "summary",
}

_REMOVED_WITH_CONTENT = {
    "script", "svg", "math", "iframe", "frame", "frameset", "object", "embed", "applet", "form",
    "textarea", "select", "noscript", "noembed", "noframes", "template", "title", "xml",
}

_COMMON_ATTRIBUTES = {
    "style", "class", "id", "title", "align", "valign", "dir", "lang", "width", "height",
    "bgcolor", "color", "border",
}

_TAG_ATTRIBUTES = {
    "*": _COMMON_ATTRIBUTES,
    "a": {"href", "name", "target"},
    "img": {"src", "alt", "hspace", "vspace"},
    "font": {"face", "size"},
    "table": {"cellpadding", "cellspacing", "summary", "frame", "rules"},
    "td": {"colspan", "rowspan", "nowrap", "headers", "scope"},
    "th": {"colspan", "rowspan", "nowrap", "headers", "scope"},
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start", "type"},
    "ul": {"type"},
    "li": {"value"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "del": {"cite", "datetime"},
    "ins": {"cite", "datetime"},
    "style": {"type", "media"},
}

_CSS_ESCAPE = re.compile(r"\\([0-9a-fA-F]{1,6})\s?|\\(.)", re.DOTALL)
_CSS_COMMENT = re.compile(r"/\*.*?(\*/|$)", re.DOTALL)
_CSS_DANGER = re.compile(
    r"expression\s*\(|javascript\s*:|vbscript\s*:|livescript\s*:|behaviou?r\s*:|-moz-binding|"
    r"@import|@charset|<\s*/?\s*(script|style|svg)",
    re.IGNORECASE,
)
_CSS_URL = re.compile(r"url\s*\(\s*['\"]?\s*([^'\")\s]*)", re.IGNORECASE)
_STYLE_BLOCK = re.compile(r"<style\b[^>]*>(.*?)</style>", re.IGNORECASE | re.DOTALL)
_CONTROL_CHARS = re.compile(r"[\x00-\x20\x7f]+")


def _unescape_css_char(match: re.Match[str]) -> str:
    if match.group(1):
        try:
            return chr(int(match.group(1), 16))
        except (ValueError, OverflowError):
            return "\ufffd"
    return match.group(2)


def is_dangerous_css(css: str) -> bool:
    """True when CSS text could run script or load through a scheme other than http/https/cid.

    CSS escapes (``\\65 xpression``), comments (``ex/**/pression``) and control characters are
    removed before matching, as browsers do when they tokenise CSS.
    """
    plain = _CSS_ESCAPE.sub(_unescape_css_char, css)
    plain = _CSS_COMMENT.sub("", plain)
    squeezed = _CONTROL_CHARS.sub("", plain)
    if _CSS_DANGER.search(plain) or _CSS_DANGER.search(squeezed):
        return True
    for url in _CSS_URL.findall(plain):
        scheme, colon, _ = _CONTROL_CHARS.sub("", url).partition(":")
        if colon and scheme.lower() not in {"http", "https", "cid"}:
            return True
    return False


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "style" and is_dangerous_css(value):
        return None
    if attribute == "target":
        return "_blank"
    return value


_CLEANER = nh3.Cleaner(
    tags=_FORMATTING_TAGS,
    clean_content_tags=_REMOVED_WITH_CONTENT,
    attributes=_TAG_ATTRIBUTES,
    attribute_filter=_filter_attribute,
    url_schemes=set(ALLOWED_URL_SCHEMES),
    strip_comments=True,
    link_rel="noopener noreferrer",
)


def _drop_dangerous_style_block(match: re.Match[str]) -> str:
    return "" if is_dangerous_css(match.group(1)) else match.group(0)


def sanitize_html(html: str) -> str:
    """Return ``html`` with everything executable removed and formatting kept (see module doc).

    Never raises for a ``str``; an empty or whitespace-only input gives ``""``.
    """
    if not html or html.isspace():
        return ""
    cleaned = _CLEANER.clean(html)
    if "<style" in cleaned:
        # nh3 serialises the raw CSS text of a <style> element unchanged and a raw-text element
        # cannot contain "</style", so this match on its own output finds exactly the real blocks.
        cleaned = _STYLE_BLOCK.sub(_drop_dangerous_style_block, cleaned)
    return cleaned
