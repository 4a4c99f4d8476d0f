"""The send queue (SPEC §2.4) against real aiosmtpd peers: retries, failures, drops, limits, leases."""
import datetime

import dkim
import dns.exception

from addons_mail.mail_server.api import queue_mail, queue_mails
from addons_mail.mail_server.dkim_keys import setup_dkim
from addons_mail.mail_server.dns_check import make_resolver
from addons_mail.mail_server.models import OutgoingMail
from addons_mail.mail_server.queue import process_queue


def _mail(env, n=0, **fields):
    fields.setdefault("email_from", "Sales <sales@mycompany.com>")
    fields.setdefault("email_to", f"customer{n}@example.org")
    fields.setdefault("subject", f"Quotation {n}")
    fields.setdefault("body_html", f"<p>Hello {n}</p>")
    fields.setdefault("send_now", False)
    fields.setdefault("auto_delete", False)
    return queue_mail(env, **fields)


def _state(mail):
    return OutgoingMail.get_by_id(mail.id)


def test_a_mail_is_received_with_its_headers_and_bodies(mail_env, add_server, smtp_peer):
    add_server("company", smtp_peer, from_filter="mycompany.com")
    mail = _mail(mail_env, email_cc=["Boss <boss@example.org>"], email_bcc="hidden@example.org",
                 attachments=[("devis.pdf", b"%PDF-1.4 fake", "application/pdf")])
    assert process_queue(mail_env).sent == 1
    (received,) = smtp_peer.messages
    assert sorted(received.rcpt_tos) == ["boss@example.org", "customer0@example.org", "hidden@example.org"]
    assert received.mail_from.startswith("bounce+") and received.mail_from.endswith("@mycompany.com")
    message = received.message
    assert message["Message-Id"] == mail.message_id
    assert "Bcc" not in message and "hidden" not in received.content.decode()
    assert message.get_body(("plain",)).get_content().strip() == "Hello 0"
    assert message.get_body(("html",)).get_content().strip() == "<p>Hello 0</p>"
    (attachment,) = list(message.iter_attachments())
    assert (attachment.get_filename(), attachment.get_content()) == ("devis.pdf", b"%PDF-1.4 fake")
    assert _state(mail).state == "sent"


def test_temporary_failure_then_success_sends_once(mail_env, add_server, smtp_peer, clock):
    add_server("company", smtp_peer)
    smtp_peer.fail_next(1, "451 4.3.0 Try again later")
    mail = _mail(mail_env)
    stats = process_queue(mail_env)
    assert (stats.sent, stats.retried) == (0, 1)
    waiting = _state(mail)
    assert (waiting.state, waiting.attempts, waiting.failure_type) == ("outgoing", 1, "mail_smtp")
    assert waiting.next_retry_at == clock.now() + datetime.timedelta(minutes=1)
    assert process_queue(mail_env).sent == 0, "not due before its backoff"
    clock.advance(minutes=1)
    assert process_queue(mail_env).sent == 1
    assert smtp_peer.message_ids() == [mail.message_id]
    assert _state(mail).state == "sent"


def test_backoff_grows_and_gives_up_after_ten_attempts(mail_env, add_server, smtp_peer, clock):
    add_server("company", smtp_peer)
    smtp_peer.fail_next(20, "452 4.3.1 Insufficient system storage")
    mail = _mail(mail_env)
    delays = []
    for _ in range(10):
        process_queue(mail_env)
        row = _state(mail)
        delays.append(round((row.next_retry_at - clock.now()).total_seconds() / 60))
        clock.set(row.next_retry_at)
    assert delays[:5] == [1, 5, 15, 60, 60]
    row = _state(mail)
    assert (row.state, row.attempts) == ("exception", 10)
    assert "gave up after 10 attempts" in row.failure_reason


def test_permanent_failure_is_recorded_per_recipient(mail_env, add_server, smtp_peer):
    add_server("company", smtp_peer)
    smtp_peer.reject_recipient("gone@example.org", "550 5.1.1 Mailbox does not exist")
    both = _mail(mail_env, email_to=["gone@example.org", "here@example.org"])
    only = _mail(mail_env, 1, email_to="gone@example.org")
    stats = process_queue(mail_env)
    assert (stats.sent, stats.failed) == (1, 1)
    failed = _state(only)
    assert (failed.state, failed.failure_type) == ("exception", "mail_smtp")
    assert failed.recipient_failures == {"gone@example.org": "550 5.1.1 Mailbox does not exist"}
    assert "refused the recipient gone@example.org" in failed.failure_reason
    partial = _state(both)
    assert partial.state == "sent"
    assert partial.recipient_failures == {"gone@example.org": "550 5.1.1 Mailbox does not exist"}


def test_5xx_at_end_of_data_fails_the_mail(mail_env, add_server, smtp_peer):
    add_server("company", smtp_peer)
    smtp_peer.fail_next(1, "554 5.7.1 Message rejected as spam")
    mail = _mail(mail_env)
    assert process_queue(mail_env).failed == 1
    row = _state(mail)
    assert (row.state, row.failure_type) == ("exception", "mail_smtp")
    assert "554 5.7.1 Message rejected as spam" in row.failure_reason


def test_dropped_connection_mid_batch_reconnects_and_loses_nothing(mail_env, add_server, smtp_peer):
    add_server("company", smtp_peer)
    mails = [_mail(mail_env, n) for n in range(6)]
    smtp_peer.drop_connection_after(3)
    assert process_queue(mail_env).sent == 6
    assert sorted(smtp_peer.message_ids()) == sorted(m.message_id for m in mails)
    assert len({r.session_number for r in smtp_peer.messages}) == 2


def test_one_session_per_server_and_envelope(mail_env, add_server, smtp_peer):
    add_server("company", smtp_peer)
    for n in range(5):
        _mail(mail_env, n)
    mail_env.params.set("mail.session.batch.size", 2)
    assert process_queue(mail_env).sent == 5
    assert [r.session_number for r in smtp_peer.messages] == [1, 1, 2, 2, 3]


def test_rate_limit_reply_slows_the_server_instead_of_failing(mail_env, add_server, smtp_peer, clock):
    server = add_server("company", smtp_peer)
    mails = [_mail(mail_env, n) for n in range(4)]
    smtp_peer.rate_limit_reply(421, after=2, times=1)
    stats = process_queue(mail_env)
    assert (stats.sent, stats.failed, stats.retried, stats.deferred) == (2, 0, 0, 2)
    waiting = [_state(m) for m in mails[2:]]
    assert all(m.state == "outgoing" and m.attempts == 0 for m in waiting)
    assert type(server).get_by_id(server.id).throttled_until == clock.now() + datetime.timedelta(seconds=60)
    clock.advance(seconds=61)
    assert process_queue(mail_env).sent == 2
    assert sorted(smtp_peer.message_ids()) == sorted(m.message_id for m in mails)


def test_expired_lease_is_recovered_with_the_same_message_id(mail_env, add_server, smtp_peer, clock):
    add_server("company", smtp_peer)
    mail = _mail(mail_env)
    OutgoingMail.update(state="sending", lease_owner="dead-worker",
                        lease_until=clock.now() + datetime.timedelta(minutes=10)).execute()
    assert process_queue(mail_env).sent == 0
    clock.advance(minutes=11)
    assert process_queue(mail_env).sent == 1
    assert smtp_peer.message_ids() == [mail.message_id]


def test_daily_limit_keeps_the_rest_for_the_next_utc_day(mail_env, add_server, smtp_peer, clock):
    add_server("company", smtp_peer)
    clock.set(datetime.datetime(2024, 3, 1, 22, 0))
    mail_env.params.set("mail.daily.limit", 3)
    mails = [_mail(mail_env, n) for n in range(5)]
    stats = process_queue(mail_env)
    assert (stats.sent, stats.deferred) == (3, 2)
    waiting = [_state(m) for m in mails[3:]]
    assert {(m.state, m.failure_type) for m in waiting} == {("outgoing", "mail_limit")}
    assert waiting[0].failure_reason == "Daily email limit of 3 reached; sending resumes at 00:00 UTC"
    clock.advance(hours=1)
    assert process_queue(mail_env).sent == 0
    clock.set(datetime.datetime(2024, 3, 2, 0, 0))
    assert process_queue(mail_env).sent == 2
    assert len(smtp_peer.messages) == 5


def test_online_hosting_limits_to_200_and_refuses_port_25(mail_env, add_server):
    import pytest

    from addons_mail.mail_server.daily_limit import daily_limit
    from kernel.errors import UserError

    mail_env.params.set("hosting", "online")
    assert daily_limit(mail_env) == 200
    with pytest.raises(UserError, match="Port 25 is blocked on this hosting for security reasons; use port 465"):
        add_server("relay", host="smtp.example.com", port=25)


def test_send_now_goes_after_the_commit(mail_env, add_server, smtp_peer):
    add_server("company", smtp_peer)
    with mail_env.atomic():
        mail = _mail(mail_env, send_now=True)
        assert smtp_peer.messages == []
    assert smtp_peer.message_ids() == [mail.message_id]
    assert _state(mail).state == "sent"


def test_send_now_rolled_back_sends_nothing(mail_env, add_server, smtp_peer):
    add_server("company", smtp_peer)
    try:
        with mail_env.atomic():
            _mail(mail_env, send_now=True)
            raise RuntimeError("the document could not be saved")
    except RuntimeError:
        pass
    assert smtp_peer.messages == [] and OutgoingMail.select().count() == 0


def test_auto_deleted_mails_go_once_sent_and_bodies_are_stored_once(mail_env, add_server, smtp_peer):
    from addons_mail.mail_server.models import MailContent

    add_server("company", smtp_peer)
    ids = queue_mails(mail_env, [dict(email_from="news@mycompany.com", email_to=f"c{n}@example.org",
                                      subject="News", body_html="<p>Same body</p>", send_now=False)
                                 for n in range(50)])
    assert ids == sorted(ids) and len(set(ids)) == 50
    assert MailContent.select().count() == 1
    assert process_queue(mail_env).sent == 50
    assert OutgoingMail.select().count() == 0


def test_header_injection_is_refused(mail_env):
    import pytest

    from kernel.errors import UserError

    with pytest.raises(UserError, match="line break"):
        _mail(mail_env, subject="Hello\r\nBcc: victim@example.org")


def test_non_ascii_names_and_domains(mail_env, add_server, smtp_peer):
    add_server("company", smtp_peer)
    _mail(mail_env, email_from="Zoë Müller <zoe@mycompany.com>", email_to="Jürgen <j@bücher.example>",
          subject="Grüße aus Köln")
    process_queue(mail_env)
    (received,) = smtp_peer.messages
    assert received.rcpt_tos == ["j@xn--bcher-kva.example"]
    raw = received.content.decode("ascii")
    assert "=?utf-8?b?" in raw and "Grüße" not in raw
    assert str(received.message["Subject"]) == "Grüße aus Köln"
    assert received.message["From"].addresses[0].display_name == "Zoë Müller"


def test_dkim_signed_mail_verifies_against_the_local_dns(mail_env, add_server, smtp_peer, dns_server):
    add_server("company", smtp_peer)
    record = setup_dkim(mail_env, "mycompany.com", "juniper1", bits=2048)
    dns_server.add("juniper1._domainkey.mycompany.com", "TXT", record["public_txt"])
    resolver = make_resolver(f"127.0.0.1:{dns_server.port}")

    def dnsfunc(name, timeout=5):
        try:
            answer = resolver.resolve(name.decode(), "TXT")
        except dns.exception.DNSException:
            return None
        return b"".join(b"".join(rdata.strings) for rdata in answer)

    _mail(mail_env, subject="Signed quotation")
    process_queue(mail_env)
    (received,) = smtp_peer.messages
    assert received.content.startswith(b"DKIM-Signature: v=1; a=rsa-sha256")
    assert dkim.verify(received.content, dnsfunc=dnsfunc)


def test_ids_of_deleted_mails_are_never_reused(env, install):
    """A bounce tag carries the mail id; a later mail must not inherit the id of a deleted one."""
    from addons_mail.mail_server.api import queue_mail
    from addons_mail.mail_server.models import OutgoingMail

    install(env, "mail_server")
    first = queue_mail(env, email_from="a@example.com", email_to="b@example.com", subject="1",
                       body_html="<p>1</p>", send_now=False)
    OutgoingMail.delete().where(OutgoingMail.id == first.id).execute()
    second = queue_mail(env, email_from="a@example.com", email_to="b@example.com", subject="2",
                        body_html="<p>2</p>", send_now=False)
    assert second.id > first.id
