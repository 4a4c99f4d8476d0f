"""detect_bounce recognises the real-world bounce corpus and never mistakes ordinary mail for a bounce."""
import csv
from pathlib import Path

import pytest

from addons_mail.chatter.bounces import VerpTarget, classify_failure, detect_bounce
from addons_mail.chatter.incoming import parse_incoming

from tests.corpus import CORPUS  # noqa: E402

CORPUS = CORPUS or Path("/nonexistent")
MANIFEST = CORPUS / "manifest.tsv"
ROWS = list(csv.DictReader(MANIFEST.open(encoding="utf-8"), delimiter="\t")) if MANIFEST.exists() else []
BOUNCES = [row for row in ROWS if row["category"] == "bounces"]
MALFORMED = [row for row in ROWS if row["category"] != "bounces"]

# Expected "hard" in the corpus (flufl: permanent failure) but the DSN status is one of our soft
# classes: 4.4.7 "delivery time expired" reported with Action: failed. The address is not known bad.
EXPLICITLY_SOFT_STATUS = {"bounces/flufl__dsn_02.eml": "4.4.7"}
# Malformed-corpus files that really are bounces (MAILER-DAEMON delivery reports).
REAL_BOUNCES_IN_MALFORMED = {
    "malformed/cpython__msg_25.eml",
    "malformed/imaptools__raw_email_with_mimepart_without_content_type.eml",
}

needs_corpus = pytest.mark.skipif(not ROWS, reason="the shared email corpus is missing (set JUNIPER_CORPUS)")


@needs_corpus
@pytest.mark.parametrize("row", BOUNCES, ids=lambda row: Path(row["file"]).stem)
def test_corpus_bounce_is_recognised_with_its_recipients(row):
    report = detect_bounce(parse_incoming((CORPUS / row["file"]).read_bytes()))
    assert report is not None
    expected = {address.lower() for address in row["expected_recipient"].split(";")}
    assert {recipient.email for recipient in report.recipients} == expected
    kinds = {recipient.kind for recipient in report.recipients}
    if row["expected_kind"] == "soft":
        assert kinds == {"soft"}
    elif row["file"] in EXPLICITLY_SOFT_STATUS:
        assert {r.status for r in report.recipients} == {EXPLICITLY_SOFT_STATUS[row["file"]]}
    else:
        assert kinds == {"hard"}, [(r.status, r.reason) for r in report.recipients]


@needs_corpus
@pytest.mark.parametrize("row", MALFORMED, ids=lambda row: Path(row["file"]).stem)
def test_malformed_corpus_is_not_a_bounce_unless_it_is_one(row):
    report = detect_bounce(parse_incoming((CORPUS / row["file"]).read_bytes()))
    assert (report is not None) == (row["file"] in REAL_BOUNCES_IN_MALFORMED)


def _dsn(action: str, status: str, to: str = "bounce+42@mycompany.com") -> bytes:
    return (
        f"From: MAILER-DAEMON@mx.example.net\nTo: {to}\nSubject: Delivery Status Notification\n"
        "Message-ID: <dsn1@mx.example.net>\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=R\n\n"
        "--R\nContent-Type: text/plain\n\nYour message could not be delivered.\n"
        "--R\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n"
        f"Final-Recipient: rfc822; Customer@Example.com\nAction: {action}\nStatus: {status}\n"
        f"Diagnostic-Code: smtp; 550 {status} mailbox problem\n\n"
        "--R\nContent-Type: text/rfc822-headers\n\nMessage-ID: <orig-1@mycompany.com>\n"
        "X-Juniper-Message-Id: <juniper-7-crm.lead@mycompany.com>\nSubject: Your quote\n"
        "--R--\n"
    ).encode()


@pytest.mark.parametrize("action, status, kind", [
    ("failed", "5.1.1", "hard"),
    ("failed", "5.1.10", "hard"),
    ("failed", "5.2.1", "hard"),
    ("failed", "5.2.2", "soft"),
    ("failed", "5.3.4", "soft"),
    ("failed", "5.7.1", "soft"),
    ("delayed", "4.4.1", "soft"),
])
def test_dsn_status_gives_the_kind_and_reason(action, status, kind):
    report = detect_bounce(parse_incoming(_dsn(action, status)), {"bounce@mycompany.com"})
    (recipient,) = report.recipients
    assert (recipient.email, recipient.kind, recipient.status) == ("customer@example.com", kind, status)
    assert "mailbox problem" in recipient.reason
    assert report.bounced_message_id == "<juniper-7-crm.lead@mycompany.com>"
    assert report.verp_token == "42"
    assert report.recognised_by == ["bounce-address", "mailer-daemon", "delivery-status"]


def test_verp_tag_names_the_recipient_and_message():
    raw = (b"From: someone-robot@example.net\nTo: Bounce+t0k3n@MyCompany.com\nSubject: Undelivered\n\n"
           b"Sorry, it did not work.\n")
    seen = []

    def verp_parse(token):
        seen.append(token)
        return VerpTarget("Contact@Example.org", "<out-9@mycompany.com>")

    report = detect_bounce(parse_incoming(raw), {"bounce@mycompany.com"}, bounce_alias=None,
                           verp_parse=verp_parse)
    assert seen == ["t0k3n"]
    assert [(r.email, r.kind) for r in report.recipients] == [("contact@example.org", "hard")]
    assert report.bounced_message_id == "<out-9@mycompany.com>"


def test_bounce_alias_is_configurable():
    raw = b"From: x@example.net\nTo: returns+abc@other.example\nSubject: hello\n\nhi\n"
    assert detect_bounce(parse_incoming(raw)) is None
    report = detect_bounce(parse_incoming(raw), bounce_alias="returns")
    assert report.recognised_by == ["bounce-address"] and report.verp_token == "abc"


def test_ordinary_reply_is_not_a_bounce():
    raw = (b"From: Jane <jane@customer.example>\nTo: sales@mycompany.com\n"
           b"Subject: Re: your quote\nIn-Reply-To: <q1@mycompany.com>\n\nLooks good, thanks!\n")
    assert detect_bounce(parse_incoming(raw), {"bounce@mycompany.com"}) is None


def test_classify_failure_rule():
    assert classify_failure(False, "5.1.1") == "soft"
    assert classify_failure(True, "") == "hard"
    assert classify_failure(True, "4.4.7") == "soft"
    assert classify_failure(True, "5.4.4") == "hard"
