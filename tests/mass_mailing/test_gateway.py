"""Mail arriving through the gateway: the mailto unsubscribe, and replies to mailing mails."""
from addons_mail.mass_mailing.blacklist import is_blacklisted
from addons_mail.mass_mailing.mailings import create_mailing
from addons_mail.mass_mailing.models import MailingList, MailingListMember, MailingTrace
from addons_mail.mass_mailing.recipients import add_list_members
from addons_mail.mass_mailing.unsubscribe_tokens import make_unsubscribe_token
from tests.mass_mailing.conftest import BODY, add_contacts
from tests.mass_mailing.dsn import deliver_to_gateway


def plain_mail(*, sender: str, to: str, subject: str = "unsubscribe", message_id: str = "<u1@customer.example>",
               extra: str = "") -> bytes:
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n{extra}"
            f"Date: Mon, 01 Jan 2024 10:00:00 +0000\r\n\r\nPlease remove me.\r\n").encode()


def test_a_mail_to_the_mailto_unsubscribe_address_opts_out(mailing_env):
    ada, bob = add_contacts([("Ada", "ada@customer.example"), ("Bob", "bob@customer.example")])
    news = MailingList.create(name="News")
    add_list_members(news, "email~customer.example")
    mailing = create_mailing(mailing_env, subject="News", email_from="news@example.com", body_template=BODY,
                             list_name="News")
    token = make_unsubscribe_token(mailing_env, mailing.id, ada.id)
    result = deliver_to_gateway(mailing_env, plain_mail(sender="ada@customer.example",
                                                        to=f"unsubscribe+{token}@example.com"))
    assert result["route"] == "unsubscribe" and result["res_id"] == mailing.id
    members = {m.contact_id: m.opt_out for m in MailingListMember.select()}
    assert members == {ada.id: True, bob.id: False}


def test_explaining_an_unsubscribe_mail_changes_nothing(mailing_env):
    (carl,) = add_contacts([("Carl", "carl@customer.example")])
    mailing = create_mailing(mailing_env, subject="News", email_from="news@example.com", body_template=BODY,
                             contacts_query="email~carl")
    token = make_unsubscribe_token(mailing_env, mailing.id, carl.id)
    raw = plain_mail(sender="carl@customer.example", to=f"unsubscribe+{token}@example.com")
    explained = mailing_env.pm.hook.explain_incoming_message(env=mailing_env, raw=raw)
    assert explained["route"] == "unsubscribe"
    assert not is_blacklisted("carl@customer.example")
    deliver_to_gateway(mailing_env, raw)
    assert is_blacklisted("carl@customer.example")


def test_a_forged_mailto_unsubscribe_is_refused(mailing_env):
    ada, bob = add_contacts([("Ada", "ada@customer.example"), ("Bob", "bob@customer.example")])
    mailing = create_mailing(mailing_env, subject="News", email_from="news@example.com", body_template=BODY,
                             contacts_query="email~customer.example")
    signature = make_unsubscribe_token(mailing_env, mailing.id, ada.id).rsplit("-", 1)[1]
    result = deliver_to_gateway(mailing_env, plain_mail(sender="mallory@evil.example",
                                                        to=f"unsubscribe+{mailing.id}-{bob.id}-{signature}@example.com"))
    assert result["route"] == "refused"
    assert not is_blacklisted("bob@customer.example")


def test_a_reply_to_a_mailing_mail_marks_its_trace(mailing_env):
    (ada,) = add_contacts([("Ada", "ada@customer.example")])
    mailing = create_mailing(mailing_env, subject="News", email_from="news@example.com", body_template=BODY,
                             contacts_query="email~customer.example")
    trace = MailingTrace.create(mailing=mailing, contact=ada, email="ada@customer.example", state="sent",
                                message_id="<m1.1-mailing@example.com>")
    deliver_to_gateway(mailing_env, plain_mail(sender="ada@customer.example", to="catchall@example.com",
                                               subject="Re: News", message_id="<r1@customer.example>",
                                               extra="In-Reply-To: <m1.1-mailing@example.com>\r\n"))
    assert MailingTrace.get_by_id(trace.id).state == "reply"
