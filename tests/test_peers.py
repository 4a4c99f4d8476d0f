"""Each real-protocol peer, and each fault it injects, observed through the plain stdlib clients."""

import imaplib
import poplib
import smtplib
import ssl

import dns.resolver
import pytest

from tests.peers.fixtures import SMTP_PASSWORD, SMTP_USER
from tests.peers.require import require_peer


def build_message(number: int = 1) -> bytes:
    return (
        f"From: sender@example.test\r\nTo: rcpt@example.test\r\nSubject: test {number}\r\n"
        f"Message-Id: <{number}@example.test>\r\n\r\nbody {number}\r\n"
    ).encode()


def connect(peer) -> smtplib.SMTP:
    return smtplib.SMTP(peer.host, peer.port, timeout=5)


def send(client: smtplib.SMTP, number: int = 1) -> None:
    client.sendmail("sender@example.test", ["rcpt@example.test"], build_message(number))


def test_plain_peer_records_envelope_and_parsed_message(smtp_peer):
    with connect(smtp_peer) as client:
        send(client, 7)
    received = smtp_peer.wait_for(1)[0]
    assert received.mail_from == "sender@example.test"
    assert received.rcpt_tos == ["rcpt@example.test"]
    assert received.content.endswith(b"body 7\r\n")
    assert received.message["Subject"] == "test 7"
    assert smtp_peer.message_ids() == ["<7@example.test>"]


def test_auth_peer_refuses_mail_before_login_and_accepts_after(smtp_auth_peer):
    with connect(smtp_auth_peer) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            send(client)
        assert refused.value.smtp_code == 530
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login(SMTP_USER, "wrong")
        client.login(SMTP_USER, SMTP_PASSWORD)
        send(client, 2)
    assert [m.login for m in smtp_auth_peer.messages] == [SMTP_USER]


def test_starttls_peer_requires_starttls_then_verifies_with_ca(smtp_starttls_peer, tls_ca_pem):
    with connect(smtp_starttls_peer) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            send(client)
        assert refused.value.smtp_code == 530
        client.starttls(context=ssl.create_default_context(cafile=tls_ca_pem))
        client.login(SMTP_USER, SMTP_PASSWORD)
        send(client)
    assert smtp_starttls_peer.messages[0].tls is True


def test_ssl_peer_offers_auth_over_implicit_tls(smtp_ssl_peer, tls_ca_pem):
    context = ssl.create_default_context(cafile=tls_ca_pem)
    with smtplib.SMTP_SSL(smtp_ssl_peer.host, smtp_ssl_peer.port, context=context, timeout=5) as client:
        client.login(SMTP_USER, SMTP_PASSWORD)
        send(client)
    received = smtp_ssl_peer.messages[0]
    assert (received.tls, received.login) == (True, SMTP_USER)


def test_untrusted_ca_peer_fails_certificate_verification(untrusted_ca_ssl_peer, tls_ca_pem):
    context = ssl.create_default_context(cafile=tls_ca_pem)
    with pytest.raises(ssl.SSLCertVerificationError):
        smtplib.SMTP_SSL(untrusted_ca_ssl_peer.host, untrusted_ca_ssl_peer.port, context=context, timeout=5)


def test_fail_next_answers_451_at_data_then_accepts(smtp_peer):
    smtp_peer.fail_next(1, "451 4.3.0 try later")
    with connect(smtp_peer) as client:
        with pytest.raises(smtplib.SMTPDataError) as failed:
            send(client, 1)
        assert failed.value.smtp_code == 451
        assert b"try later" in failed.value.smtp_error
        send(client, 2)
    assert smtp_peer.message_ids() == ["<2@example.test>"]


def test_reject_sender_answers_at_mail_from(smtp_peer):
    smtp_peer.reject_sender("sender@example.test", "553 5.7.1 Sender not allowed")
    with connect(smtp_peer) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            send(client)
    assert refused.value.smtp_code == 553
    assert smtp_peer.messages == []


def test_reject_recipient_answers_at_rcpt_and_keeps_the_others(smtp_peer):
    smtp_peer.reject_recipient("gone@example.test", "550 5.1.1 No such user")
    with connect(smtp_peer) as client:
        refused = client.sendmail(
            "sender@example.test", ["gone@example.test", "rcpt@example.test"], build_message()
        )
    assert refused == {"gone@example.test": (550, b"5.1.1 No such user")}
    assert smtp_peer.wait_for(1)[0].rcpt_tos == ["rcpt@example.test"]


def test_drop_connection_after_n_messages(smtp_peer):
    smtp_peer.drop_connection_after(2)
    with connect(smtp_peer) as client:
        send(client, 1)
        send(client, 2)
        with pytest.raises(smtplib.SMTPServerDisconnected):
            send(client, 3)
    with connect(smtp_peer) as client:
        send(client, 4)
    assert smtp_peer.message_ids() == ["<1@example.test>", "<2@example.test>", "<4@example.test>"]
    assert [m.session_number for m in smtp_peer.messages] == [1, 1, 2]


def test_rate_limit_421_closes_the_session(smtp_peer):
    smtp_peer.rate_limit_reply(421, after=1)
    with connect(smtp_peer) as client:
        send(client, 1)
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            send(client, 2)
        assert refused.value.smtp_code == 421
        assert b"Too many messages, slow down" in refused.value.smtp_error
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.noop()
    with connect(smtp_peer) as client:
        send(client, 3)
    assert smtp_peer.message_ids() == ["<1@example.test>", "<3@example.test>"]


def test_rate_limit_451_keeps_the_session_open(smtp_peer):
    smtp_peer.rate_limit_reply(451, times=2)
    with connect(smtp_peer) as client:
        for attempt in range(2):
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                send(client, attempt)
            assert refused.value.smtp_code == 451
        send(client, 9)
    assert smtp_peer.message_ids() == ["<9@example.test>"]


def test_two_peers_at_once_keep_separate_records(make_smtp_peer):
    transactional, mass_mailing = make_smtp_peer(), make_smtp_peer()
    with connect(transactional) as client:
        send(client, 1)
    with connect(mass_mailing) as client:
        send(client, 2)
    assert transactional.message_ids() == ["<1@example.test>"]
    assert mass_mailing.message_ids() == ["<2@example.test>"]


def test_smtp_sink_accepts_100_messages(smtp_sink):
    with connect(smtp_sink) as client:
        for number in range(100):
            assert client.sendmail("sender@example.test", ["rcpt@example.test"], build_message(number)) == {}


def pop3_login(dovecot, user: str, password: str, context: ssl.SSLContext | None = None) -> poplib.POP3:
    if context is None:
        connection = poplib.POP3(dovecot.host, dovecot.ports["pop3"], timeout=5)
    else:
        connection = poplib.POP3_SSL(dovecot.host, dovecot.ports["pop3s"], context=context, timeout=5)
    try:
        connection.user(user)
        connection.pass_(password)
    except poplib.error_proto:
        connection.close()
        raise
    return connection


def test_dovecot_login_over_all_four_protocols(dovecot, dovecot_user, tls_ca_pem):
    user, password = dovecot_user
    context = ssl.create_default_context(cafile=tls_ca_pem)
    with imaplib.IMAP4(dovecot.host, dovecot.ports["imap"], timeout=5) as imap:
        assert imap.login(user, password)[0] == "OK"
    with imaplib.IMAP4_SSL(dovecot.host, dovecot.ports["imaps"], ssl_context=context, timeout=5) as imaps:
        assert imaps.login(user, password)[0] == "OK"
    for pop3_context in (None, context):
        connection = pop3_login(dovecot, user, password, pop3_context)
        assert connection.stat() == (0, 0)
        connection.quit()


def test_dovecot_wrong_password_fails(dovecot, dovecot_user):
    user, _ = dovecot_user
    with imaplib.IMAP4(dovecot.host, dovecot.ports["imap"], timeout=5) as imap:
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            imap.login(user, "wrong password")
    with pytest.raises(poplib.error_proto):
        pop3_login(dovecot, user, "wrong password")


def test_dovecot_appended_message_is_fetched_back_over_imap_and_pop3(dovecot, dovecot_user):
    user, password = dovecot_user
    dovecot.append(user, build_message(5))
    dovecot.append(user, build_message(6), folder="Archive")
    assert dovecot.messages(user) == [build_message(5)]
    assert dovecot.messages(user, "Archive") == [build_message(6)]
    pop3 = pop3_login(dovecot, user, password)
    _, lines, _ = pop3.retr(1)
    pop3.quit()
    assert b"Message-Id: <5@example.test>" in lines


def test_dovecot_stopped_mid_run_refuses_then_serves_again(dovecot, dovecot_user):
    user, password = dovecot_user
    dovecot.stop()
    with pytest.raises(ConnectionRefusedError):
        imaplib.IMAP4(dovecot.host, dovecot.ports["imap"], timeout=5)
    dovecot.start()
    with imaplib.IMAP4(dovecot.host, dovecot.ports["imap"], timeout=5) as imap:
        assert imap.login(user, password)[0] == "OK"


def test_dovecot_user_added_while_running_can_log_in(dovecot):
    dovecot.add_user("latecomer", "late-password")
    with imaplib.IMAP4(dovecot.host, dovecot.ports["imap"], timeout=5) as imap:
        assert imap.login("latecomer", "late-password")[0] == "OK"


@pytest.fixture
def resolver(dns_server):
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = dns_server.port
    return resolver


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_dns_long_txt_is_split_and_read_back_joined(dns_server, resolver, tcp):
    value = "v=DKIM1; k=rsa; p=" + "A" * 382
    assert len(value) == 400
    dns_server.add("sel._domainkey.example.test", "TXT", value)
    answer = resolver.resolve("sel._domainkey.example.test", "TXT", tcp=tcp)
    assert [len(part) for part in answer[0].strings] == [255, 145]
    assert b"".join(answer[0].strings).decode() == value


def test_dns_mx_cname_and_nxdomain(dns_server, resolver):
    dns_server.add("example.test", "MX", (10, "mx.example.test"))
    dns_server.add("www.example.test", "CNAME", "host.example.test")
    dns_server.add("host.example.test", "A", "192.0.2.10")
    mx = resolver.resolve("example.test", "MX")[0]
    assert (mx.preference, str(mx.exchange)) == (10, "mx.example.test.")
    answer = resolver.resolve("www.example.test", "A")
    assert str(answer.canonical_name) == "host.example.test."
    assert [str(record) for record in answer] == ["192.0.2.10"]
    assert str(resolver.resolve("www.example.test", "CNAME")[0].target) == "host.example.test."
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver.resolve("unknown.example.test", "A")
    dns_server.clear()
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver.resolve("example.test", "MX")


def test_missing_peer_skips_outside_ci_and_fails_in_ci(monkeypatch):
    require_peer("Widget", True, "apt-get install widget")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Widget .*apt-get install widget"):
        require_peer("Widget", False, "apt-get install widget")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="Widget .*apt-get install widget"):
        require_peer("Widget", False, "apt-get install widget")


def test_free_ports_are_distinct_even_when_asked_together():
    from tests.peers.ports import free_ports

    for _ in range(50):
        ports = free_ports(4)
        assert len(set(ports)) == 4
