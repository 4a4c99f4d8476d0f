"""Bounces through the gateway on the real-world corpus: the notification that carried the mail is marked
``bounce``, hard bounces are counted on the address, nothing is posted; malformed mail never crashes."""
import csv
from pathlib import Path

import pytest

from kernel import hookimpl

from addons_mail.chatter.bounce_effects import hard_bounce_count
from addons_mail.chatter.bounces import detect_bounce
from addons_mail.chatter.incoming import parse_incoming
from addons_mail.chatter.models import BounceRecord, Message, Notification
from addons_mail.chatter.notify import failed_deliveries
from addons_mail.chatter.thread import follow, message_post
from addons_mail.fetchmail.models import DeadLetter
from addons_mail.mail_server.addresses import tagged_bounce_address
from tests.chatter.chatter_fixtures import chatter_env, raw_email  # noqa: F401

from tests.corpus import CORPUS  # noqa: E402

CORPUS = CORPUS or Path("/nonexistent")
MANIFEST = CORPUS / "manifest.tsv"
ROWS = list(csv.DictReader(MANIFEST.open(encoding="utf-8"), delimiter="\t")) if MANIFEST.exists() else []
BOUNCES = [row for row in ROWS if row["category"] == "bounces"]
MALFORMED = [row for row in ROWS if row["category"] != "bounces"]
# Reported with Action: failed but status 4.4.7 (delivery time expired): the address is not known bad.
EXPLICITLY_SOFT = {"bounces/flufl__dsn_02.eml"}
ROUTES = {"bounce", "reply", "alias", "default_model", "catchall_refused", "refused", "duplicate", "loop",
          "dead_letter"}

needs_corpus = pytest.mark.skipif(not ROWS, reason="the shared email corpus is missing (set JUNIPER_CORPUS)")


def _with_header(raw: bytes, header: bytes) -> bytes:
    """``raw`` with one more header line (after an mbox ``From `` line, which must stay first)."""
    if raw.startswith(b"From "):
        first, _, rest = raw.partition(b"\n")
        return first + b"\n" + header + b"\n" + rest
    return header + b"\r\n" + raw


def _process(env, raw):
    return env.pm.hook.process_incoming_message(env=env, raw=raw, server=None)


@needs_corpus
@pytest.mark.parametrize("row", BOUNCES, ids=lambda row: Path(row["file"]).stem)
def test_corpus_bounce_marks_the_notification_and_counts_hard_bounces(chatter_env, row):
    env = chatter_env
    raw = (CORPUS / row["file"]).read_bytes()
    expected = sorted({address.lower() for address in row["expected_recipient"].split(";")})
    bounced_id = detect_bounce(parse_incoming(raw)).bounced_message_id
    ticket = env["test.ticket"].create(name="Quote 42")
    follow(env, ticket, expected)
    post = message_post(env, ticket, "Your quote", author="agent@example.com", message_id=bounced_id,
                        send_now=False)
    if bounced_id is None:  # as the MTA delivers it: to our tagged envelope sender (VERP)
        notification = Notification.get(Notification.email == expected[0])
        raw = _with_header(raw, f"Delivered-To: {tagged_bounce_address(env, notification.mail_id)}".encode())
        expected = expected[:1]
    messages_before = Message.select().count()

    result = _process(env, raw)

    assert result["route"] == "bounce"
    assert sorted(r["email"] for r in result["bounce"]["recipients"]) == expected
    assert (result["model"], result["res_id"]) == ("test.ticket", ticket.id)
    failed = {n.email: (n.status, n.failure_type) for n in failed_deliveries(post)}
    assert failed == {email: ("bounce", "mail_bounce") for email in expected}
    hard = row["expected_kind"] == "hard" and row["file"] not in EXPLICITLY_SOFT
    assert [hard_bounce_count(email) for email in expected] == [1 if hard else 0] * len(expected)
    assert BounceRecord.select().where(BounceRecord.email_normalized.in_(expected)).count() == len(expected)
    assert Message.select().count() == messages_before


class _BounceListener:
    def __init__(self):
        self.events = []

    @hookimpl
    def after_mail_bounced(self, env, bounce):
        self.events.append(bounce)


def _dsn(to: str, status: str = "5.1.1", action: str = "failed") -> bytes:
    return (f"From: MAILER-DAEMON@mx.client.example\r\nTo: {to}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
            "Message-ID: <dsn-{0}@mx.client.example>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/report; report-type=delivery-status; boundary=R\r\n\r\n"
            "--R\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
            "--R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.client.example\r\n\r\n"
            f"Final-Recipient: rfc822; gone@client.example\r\nAction: {action}\r\nStatus: {status}\r\n"
            f"Diagnostic-Code: smtp; 550 {status} User unknown\r\n\r\n--R--\r\n").replace(
        "{0}", status + action).encode()


def test_verp_bounce_fires_the_hook_and_a_normal_mail_resets_the_counter(chatter_env):
    env = chatter_env
    listener = _BounceListener()
    env.pm.register(listener, name="test-bounce-listener")
    try:
        ticket = env["test.ticket"].create(name="T")
        follow(env, ticket, ["gone@client.example", "fine@client.example"])
        post = message_post(env, ticket, "hello", author="agent@example.com", send_now=False)
        mail_id = Notification.get(Notification.email == "gone@client.example").mail_id
        result = _process(env, _dsn(tagged_bounce_address(env, mail_id)))
        assert result["bounce"] == {"recipients": [{"email": "gone@client.example", "kind": "hard", "status": "5.1.1"}],
                                    "bounced_message_id": post.message_id}
        (event,) = listener.events
        assert (event.email, event.kind, event.mail_id, event.message_id) == (
            "gone@client.example", "hard", mail_id, post.message_id)
        assert "User unknown" in event.reason
        assert Notification.get(Notification.email == "fine@client.example").status == "ready"
        _process(env, _dsn(tagged_bounce_address(env, mail_id), status="4.2.2", action="delayed"))
        assert [e.kind for e in listener.events] == ["hard", "soft"]
        assert hard_bounce_count("gone@client.example") == 1
        _process(env, _dsn(tagged_bounce_address(env, mail_id)).replace(b"dsn-5.1.1failed", b"dsn-again"))
        assert hard_bounce_count("GONE@client.example") == 2

        _process(env, raw_email(sender="gone@client.example", to="nobody@else.example"))
        assert hard_bounce_count("gone@client.example") == 0
    finally:
        env.pm.unregister(name="test-bounce-listener")


def test_a_forged_bounce_tag_is_not_trusted(chatter_env):
    env = chatter_env
    ticket = env["test.ticket"].create(name="T")
    follow(env, ticket, ["gone@client.example"])
    post = message_post(env, ticket, "hello", author="agent@example.com", send_now=False)
    mail_id = Notification.get().mail_id
    result = _process(env, _dsn(f"bounce+{mail_id}-000000000000@example.com"))
    assert result["route"] == "bounce"  # still a bounce (to the bounce address), but tied to no mail
    assert failed_deliveries(post) == []


@needs_corpus
@pytest.mark.parametrize("row", MALFORMED, ids=lambda row: Path(row["file"]).stem)
def test_malformed_corpus_goes_through_the_gateway_without_a_crash(chatter_env, row):
    env = chatter_env
    raw = (CORPUS / row["file"]).read_bytes()
    result = _process(env, raw)
    assert result["route"] in ROUTES
    stored = (Message.select().count() + DeadLetter.select().count() + BounceRecord.select().count())
    assert stored >= 1 or result["route"] in ("bounce", "catchall_refused", "refused", "loop", "duplicate")


def test_a_reused_mail_id_bounces_only_the_notification_of_the_quoted_message(chatter_env):
    """A bounce tag naming two notifications (a mail id reused by a database older than monotonic ids):
    the Message-Id quoted in the DSN says which one bounced."""
    env = chatter_env
    ticket = env["test.ticket"].create(name="T")
    follow(env, ticket, ["gone@client.example"])
    first = message_post(env, ticket, "first", author="agent@example.com", send_now=False)
    second = message_post(env, ticket, "second", author="agent@example.com", send_now=False)
    reused = Notification.get(Notification.message == first.id).mail_id
    Notification.update(mail_id=reused).where(Notification.message == second.id).execute()
    dsn = _dsn(tagged_bounce_address(env, reused)).replace(
        b"--R--", f"--R\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {first.message_id}\r\n\r\n--R--".encode())
    assert _process(env, dsn)["res_id"] == ticket.id
    assert [n.status for n in failed_deliveries(first)] == ["bounce"]
    assert failed_deliveries(second) == []
