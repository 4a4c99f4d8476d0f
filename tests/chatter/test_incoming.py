"""parse_incoming reads any email tolerantly; auto-replies are recognised from headers and subject."""
from datetime import datetime, timezone
from pathlib import Path

import pytest

from addons_mail.chatter.autoreply import is_auto_reply
from addons_mail.chatter.incoming import normalize_email, parse_address_list, parse_incoming

from tests.corpus import CORPUS  # noqa: E402

CORPUS = CORPUS or Path("/nonexistent")
MALFORMED = sorted((CORPUS / "malformed").glob("*.eml"))

needs_corpus = pytest.mark.skipif(not MALFORMED, reason="the shared email corpus is missing (set JUNIPER_CORPUS)")


@needs_corpus
@pytest.mark.parametrize("path", MALFORMED, ids=lambda path: path.stem)
def test_malformed_corpus_parses_and_keeps_an_identity(path):
    raw = path.read_bytes()
    msg = parse_incoming(raw)
    assert msg.message_id.startswith("<") and msg.message_id.endswith(">")
    assert msg.raw == raw
    assert parse_incoming(raw).message_id == msg.message_id


@pytest.mark.parametrize("raw", [b"", b"\x00\xff\xfe", b"From \n\n", b"Subject: =?bogus?Q?x?=\n\n\xff",
                                 b"Content-Type: multipart/mixed\n\n--\n--"])
def test_garbage_never_raises(raw):
    msg = parse_incoming(raw)
    assert msg.message_id


def test_missing_message_id_is_generated_from_the_bytes():
    raw = b"From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n"
    first, again = parse_incoming(raw), parse_incoming(raw)
    other = parse_incoming(raw + b"more")
    assert first.message_id_generated
    assert first.message_id == again.message_id != other.message_id


def test_headers_are_decoded_and_addresses_normalized():
    raw = (
        b"From mbox-sender@example.com Mon May  2 16:07:05 2005\n"
        b"Message-ID: abc123@example.com\n"
        b"From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <Juergen.Mueller@Example.COM>\n"
        b"To: \"Smith, Jane\" <JANE@example.org>, bob@example.org\n"
        b"Cc: undisclosed-recipients:;\n"
        b"Delivered-To: Sales@MyCompany.com\n"
        b"Subject: =?iso-8859-1?q?R=E9union?= demain\n"
        b"In-Reply-To: <parent@example.com>\n"
        b"References: <root@example.com> garbage <parent@example.com>\n"
        b"Date: Mon, 2 May 2005 16:07:05 -0600\n"
        b"\n"
        b"Hello <world> & you\n"
    )
    msg = parse_incoming(raw)
    assert msg.message_id == "<abc123@example.com>"
    assert (msg.from_name, msg.from_email) == ("Jürgen Müller", "juergen.mueller@example.com")
    assert msg.to == ["jane@example.org", "bob@example.org"]
    assert msg.cc == []
    assert msg.delivered_to == ["sales@mycompany.com"]
    assert msg.subject == "Réunion demain"
    assert msg.in_reply_to == "<parent@example.com>"
    assert msg.references == ["<root@example.com>", "<parent@example.com>"]
    assert msg.date == datetime(2005, 5, 2, 22, 7, 5, tzinfo=timezone.utc)
    assert msg.body_text.strip() == "Hello <world> & you"
    assert msg.body_html == "<p>Hello &lt;world&gt; &amp; you</p>"


def test_eight_bit_headers_and_unknown_charset():
    raw = ("Subject: Säying Hello\nFrom: Jörg <jorg@example.com>\n"
           "Content-Type: text/plain; charset=x-unknown-charset\n\nGrüße\n").encode("utf-8")
    msg = parse_incoming(raw)
    assert msg.subject == "Säying Hello"
    assert msg.from_name == "Jörg"
    assert msg.body_text.strip() == "Grüße"


def test_bad_date_is_none_and_reported():
    msg = parse_incoming(b"Date: yesterday-ish\nSubject: x\n\nbody")
    assert msg.date is None
    assert any("Date" in defect for defect in msg.defects)


def test_html_body_is_sanitized_and_inline_image_kept():
    raw = (
        b"Message-ID: <m1@example.com>\n"
        b"Content-Type: multipart/related; boundary=B\n\n"
        b"--B\nContent-Type: text/html; charset=utf-8\n\n"
        b"<p>Hi <img src=\"cid:logo@x\" onerror=\"alert(1)\"></p><script>alert(2)</script>\n"
        b"--B\nContent-Type: image/png\nContent-ID: <logo@x>\nContent-Transfer-Encoding: base64\n\n"
        b"iVBORw0KGgo=\n"
        b"--B\nContent-Type: application/pdf; name=\"=?utf-8?q?Rapport_=C3=A9t=C3=A9.pdf?=\"\n"
        b"Content-Disposition: attachment\nContent-Transfer-Encoding: base64\n\nJVBERi0=\n"
        b"--B--\n"
    )
    msg = parse_incoming(raw)
    assert "script" not in msg.body_html and "onerror" not in msg.body_html
    assert 'src="cid:logo@x"' in msg.body_html
    assert msg.body_text.startswith("Hi")
    image, pdf = msg.attachments
    assert (image.content_type, image.content, image.content_id) == ("image/png", b"\x89PNG\r\n\x1a\n", "logo@x")
    filename, content_type, content, content_id = pdf
    assert (filename, content_type, content, content_id) == ("Rapport été.pdf", "application/pdf", b"%PDF-", None)


def test_multipart_with_wrong_boundary_still_shows_its_text():
    raw = (b"Content-Type: multipart/alternative; boundary=NOT-THERE\n\n"
           b"--REAL\nContent-Type: text/plain\n\nthe real text\n--REAL--\n")
    msg = parse_incoming(raw)
    assert "the real text" in msg.body_text
    assert msg.defects


def test_embedded_message_is_an_attachment_not_the_body():
    raw = (b"Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nsee attached\n"
           b"--B\nContent-Type: message/rfc822\n\nSubject: inner\nMessage-ID: <inner@x>\n\ninner body\n--B--\n")
    msg = parse_incoming(raw)
    assert msg.body_text.strip() == "see attached"
    assert [a.content_type for a in msg.attachments] == ["message/rfc822"]
    assert b"inner body" in msg.attachments[0].content


def test_parse_address_list_recovers_broken_entries():
    assert parse_address_list('"Doe, J" <J@X.org>, broken@@y.com, good@z.com') == [
        ("Doe, J", "j@x.org"), ("", "good@z.com")
    ]
    assert parse_address_list("") == []
    assert normalize_email(" <Mailto:John@Example.COM> ") == "john@example.com"


AUTO_REPLIES = {
    "auto-submitted": b"Auto-Submitted: auto-replied\nSubject: Re: order\n\nx",
    "x-autoreply": b"X-Autoreply: yes\nSubject: Re: order\n\nx",
    "x-autorespond": b"X-Autorespond: 1\nSubject: Re: order\n\nx",
    "precedence bulk": b"Precedence: bulk\nSubject: news\n\nx",
    "precedence list": b"Precedence: list\nSubject: [list] topic\n\nx",
    "out of office": b"Subject: Out of Office: back Monday\n\nx",
    "automatic reply": b"Subject: Automatic reply: Re: order\n\nx",
    "german": b"Subject: Abwesenheitsnotiz: Re: Angebot\n\nx",
    "french": b"Subject: =?utf-8?q?R=C3=A9ponse_automatique?= : absent\n\nx",
    "spanish": b"Subject: Fuera de la oficina\n\nx",
    "absence": b"Subject: Absence du bureau\n\nx",
    "autoreply word": b"Subject: AW: Autoreply\n\nx",
}


@pytest.mark.parametrize("raw", AUTO_REPLIES.values(), ids=AUTO_REPLIES.keys())
def test_auto_reply_signals(raw):
    msg = parse_incoming(raw)
    assert is_auto_reply(msg), msg.subject
    assert msg.auto_submitted is not None


@pytest.mark.parametrize("raw", [
    b"Auto-Submitted: no\nSubject: Re: your office move\n\nThanks!",
    b"Subject: Re: Planning the office party\n\nx",
    b"Precedence: first-class\nSubject: Re: quote\n\nok",
], ids=["auto-submitted no", "office in a human subject", "other precedence"])
def test_human_reply_is_not_auto(raw):
    assert not is_auto_reply(parse_incoming(raw))
