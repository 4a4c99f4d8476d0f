"""The mail gateway (SPEC §5): replies, aliases and their contact policies, catchall refusal, default
model, dead letters, duplicates, loops, auto-replies, explain without writes, the resolver hook."""
import logging

from kernel.models import Contact

from addons_mail.chatter.aliases import create_alias
from addons_mail.chatter.gateway import explain_incoming
from addons_mail.chatter.models import Alias, LoopDrop, Message, MessageAttachment, Notification
from addons_mail.chatter.thread import follow, message_post
from addons_mail.fetchmail.models import DeadLetter, IncomingServer
from addons_mail.mail_server.api import OutgoingMail
from tests.chatter.chatter_fixtures import chatter_env, raw_email  # noqa: F401


def _process(env, raw, server=None):
    return env.pm.hook.process_incoming_message(env=env, raw=raw, server=server)


def _refusal_replies():
    return list(OutgoingMail.select().where(OutgoingMail.email_from.contains("MAILER-DAEMON")))


def test_reply_is_posted_on_its_document_and_relayed_to_other_followers(chatter_env):
    env = chatter_env
    tickets = env["test.ticket"]
    other, ticket = tickets.create(name="Other"), tickets.create(name="Broken printer")
    alice = Contact.create(name="Alice", email="alice@client.example")
    follow(env, ticket, [alice, "bob@client.example", "agent@example.com"])
    post = message_post(env, ticket, "We are on it", author="agent@example.com", send_now=False)
    message_post(env, other, "unrelated", author="agent@example.com", send_now=False)

    raw = raw_email(sender="Alice <ALICE@client.example>", to="catchall@example.com", subject="Re: Broken printer",
                    body="Still broken.", headers={"In-Reply-To": post.message_id, "References": post.message_id})
    result = _process(env, raw)

    assert (result["route"], result["model"], result["res_id"]) == ("reply", "test.ticket", ticket.id)
    reply = Message.get(Message.message_id == result["message_id"])
    assert (reply.model, reply.res_id, reply.parent_id, reply.author_id) == ("test.ticket", ticket.id, post.id, alice.id)
    assert reply.message_type == "email" and "Still broken." in reply.body_html
    relayed = {n.email for n in Notification.select().where(Notification.message == reply.id)}
    assert relayed == {"bob@client.example", "agent@example.com"}
    mail = OutgoingMail.get(OutgoingMail.email_to.contains("bob@client.example") & (OutgoingMail.message_id == reply.message_id))
    assert mail.email_from == "Alice <alice@client.example>"
    assert mail.in_reply_to == post.message_id


def test_reply_found_by_our_message_id_format_when_the_message_is_gone(chatter_env):
    env = chatter_env
    ticket = env["test.ticket"].create(name="Old")
    raw = raw_email(to="catchall@example.com", headers={"References": f"<abc-juniper-{ticket.id}-test.ticket@example.com>"})
    assert (_process(env, raw)["route"], Message.get().res_id) == ("reply", ticket.id)


def test_alias_creates_a_record_with_defaults_or_posts_on_its_fixed_record(chatter_env):
    env = chatter_env
    create_alias(env, "support", "test.ticket", defaults={"team": "north"})
    fixed = env["test.ticket"].create(name="Suggestions box")
    create_alias(env, "ideas", "test.ticket", record_id=fixed.id)

    result = _process(env, raw_email(sender="Zoe <zoe@client.example>", to="Support <support@example.com>",
                                     subject="Cannot log in"))
    ticket = env["test.ticket"].get_by_id(result["res_id"])
    assert result["route"] == "alias"
    assert (ticket.name, ticket.team, ticket.customer_email) == ("Cannot log in", "north", "zoe@client.example")
    assert Alias.get(Alias.name == "support").status == "valid"
    message = Message.get(Message.res_id == ticket.id)
    assert message.author_display == "zoe@client.example"

    posted = _process(env, raw_email(to="someone@else.example", headers={"Cc": "ideas@example.com"}))
    assert (posted["route"], posted["res_id"]) == ("alias", fixed.id)
    assert _process(env, raw_email(to="x@else.example", headers={"Delivered-To": "ideas@example.com"}))["res_id"] == fixed.id


def test_reply_to_an_alias_of_another_model_makes_a_new_document_there(chatter_env):
    env = chatter_env
    ticket = env["test.ticket"].create(name="T")
    post = message_post(env, ticket, "hello", author="agent@example.com")
    create_alias(env, "projects", "test.project")
    result = _process(env, raw_email(to="projects@example.com", subject="New project",
                                     headers={"In-Reply-To": post.message_id}))
    assert (result["route"], result["model"]) == ("alias", "test.project")
    assert env["test.project"].get_by_id(result["res_id"]).title == "New project"


def test_contact_policy_partners_refuses_unknown_senders_with_one_polite_reply(chatter_env):
    env = chatter_env
    create_alias(env, "vip", "test.ticket", contact_policy="partners")
    refused = _process(env, raw_email(sender="stranger@nowhere.example", to="vip@example.com", subject="Hi"))
    assert refused["route"] == "refused" and refused["replied"] is True
    assert env["test.ticket"].select().count() == 0
    (reply,) = _refusal_replies()
    assert reply.email_from == '"MAILER-DAEMON" <bounce@example.com>' or reply.email_from == "MAILER-DAEMON <bounce@example.com>"
    assert reply.email_to == "stranger@nowhere.example" and reply.subject == "Re: Hi"

    auto = raw_email(sender="stranger@nowhere.example", to="vip@example.com", subject="Out of office",
                     headers={"Auto-Submitted": "auto-replied"})
    assert _process(env, auto) | {} and len(_refusal_replies()) == 1
    daemon = raw_email(sender="postmaster@nowhere.example", to="vip@example.com")
    assert _process(env, daemon)["route"] in ("refused", "bounce") and len(_refusal_replies()) == 1

    Contact.create(name="Known", email="known@client.example")
    accepted = _process(env, raw_email(sender="known@client.example", to="vip@example.com"))
    assert accepted["route"] == "alias" and accepted["author_name"] == "Known"


def test_contact_policy_followers_accepts_only_followers_of_the_owner(chatter_env):
    env = chatter_env
    project = env["test.project"].create(title="Apollo")
    follow(env, project, ["member@client.example"])
    create_alias(env, "apollo", "test.ticket", contact_policy="followers", owner_model="test.project",
                 owner_id=project.id)
    assert _process(env, raw_email(sender="outsider@client.example", to="apollo@example.com"))["route"] == "refused"
    assert _process(env, raw_email(sender="member@client.example", to="apollo@example.com"))["route"] == "alias"


def test_contact_policy_everyone_accepts_anyone(chatter_env):
    env = chatter_env
    create_alias(env, "info", "test.ticket")
    assert _process(env, raw_email(sender="anyone@anywhere.example", to="info@example.com"))["route"] == "alias"


def test_mail_without_a_sender_is_not_attributed_to_the_current_user(chatter_env):
    env = chatter_env
    create_alias(env, "support", "test.ticket")
    raw = raw_email(to="support@example.com").replace(b"From: Customer <customer@client.example>", b"From: Nobody")
    result = _process(env, raw)
    message = Message.get(Message.message_id == result["message_id"])
    assert (message.author_id, message.author_email, message.author_display) == (None, None, "Nobody")


def test_mail_only_to_the_catchall_is_refused_with_a_reply(chatter_env):
    env = chatter_env
    result = _process(env, raw_email(sender="lost@client.example", to="catchall@example.com", subject="Hello?"))
    assert result["route"] == "catchall_refused"
    (reply,) = _refusal_replies()
    assert reply.email_to == "lost@client.example"
    assert Message.select().count() == 0 and DeadLetter.select().count() == 0


def test_server_default_model_then_dead_letter(chatter_env):
    env = chatter_env
    server = IncomingServer.create(name="inbox", server_type="local", object_model="test.project")
    result = _process(env, raw_email(to="random@else.example", subject="Via server"), server)
    assert (result["route"], result["model"]) == ("default_model", "test.project")
    assert env["test.project"].get_by_id(result["res_id"]).title == "Via server"

    result = _process(env, raw_email(sender="who@client.example", to="random@else.example"))
    assert result["route"] == "dead_letter"
    assert result["error"] == "No route found for message from who@client.example to random@else.example"
    assert DeadLetter.get().error == result["error"]


def test_duplicate_message_id_is_ignored(chatter_env):
    env = chatter_env
    create_alias(env, "support", "test.ticket")
    raw = raw_email(to="support@example.com", message_id="<same-1@client.example>")
    assert _process(env, raw)["route"] == "alias"
    assert _process(env, raw)["route"] == "duplicate"
    assert env["test.ticket"].select().count() == 1 and Message.select().count() == 1


def test_loop_threshold_drops_mail_from_a_sender_creating_too_many_records(chatter_env, caplog):
    env = chatter_env
    env.params.set("mail.gateway.loop.threshold", 3)
    create_alias(env, "support", "test.ticket")
    with caplog.at_level(logging.INFO, logger="juniper.chatter.gateway"):
        routes = [_process(env, raw_email(sender="robot@loop.example", to="support@example.com"))["route"]
                  for _ in range(5)]
    assert routes == ["alias", "alias", "alias", "loop", "loop"]
    notices = [r for r in caplog.records if r.levelno == logging.WARNING and "loop" in r.getMessage()]
    assert len(notices) == 1 and "robot@loop.example" in notices[0].getMessage()
    assert LoopDrop.get(LoopDrop.email_normalized == "robot@loop.example").dropped == 2
    assert env["test.ticket"].select().count() == 3
    assert _process(env, raw_email(sender="human@client.example", to="support@example.com"))["route"] == "alias"
    env.params.set("mail.gateway.loop.allowlist", "partner.example, robot@loop.example")
    assert _process(env, raw_email(sender="robot@loop.example", to="support@example.com"))["route"] == "alias"
    env.clock.advance(minutes=121)
    assert _process(env, raw_email(sender="robot2@loop.example", to="support@example.com"))["route"] == "alias"


def test_loop_threshold_per_document_for_replies(chatter_env):
    env = chatter_env
    env.params.set("mail.gateway.loop.threshold", 2)
    ticket = env["test.ticket"].create(name="T")
    post = message_post(env, ticket, "hello", author="agent@example.com")
    routes = [_process(env, raw_email(sender="echo@loop.example", to="catchall@example.com",
                                      headers={"In-Reply-To": post.message_id}))["route"] for _ in range(3)]
    assert routes == ["reply", "reply", "loop"]


def test_auto_reply_is_posted_on_its_thread_but_not_relayed(chatter_env):
    env = chatter_env
    ticket = env["test.ticket"].create(name="T")
    follow(env, ticket, ["bob@client.example", "alice@client.example"])
    post = message_post(env, ticket, "hello", author="agent@example.com")
    result = _process(env, raw_email(sender="bob@client.example", to="catchall@example.com",
                                     subject="Automatic reply: hello", headers={"In-Reply-To": post.message_id}))
    assert result["route"] == "reply" and result["auto_reply"] is True
    reply = Message.get(Message.message_id == result["message_id"])
    assert reply.is_auto_reply and Notification.select().where(Notification.message == reply.id).count() == 0


def test_stored_bodies_hold_nothing_executable(chatter_env):
    env = chatter_env
    create_alias(env, "support", "test.ticket")
    html = ('<p onmouseover="x()">Hi<script>alert(1)</script><a href="javascript:alert(2)">a</a>'
            '<img src="data:image/svg+xml;base64,PHN2Zz4=" onerror="y()"><svg><script>z()</script></svg>'
            '<div style="width: expression(alert(3))">d</div><form action="https://evil.example"><input></form></p>')
    result = _process(env, raw_email(to="support@example.com", html=html))
    body = Message.get(Message.message_id == result["message_id"]).body_html.lower()
    for bad in ("<script", "onmouseover", "onerror", "javascript:", "data:", "<svg", "expression(", "<form"):
        assert bad not in body, bad
    assert "hi" in body


def test_attachments_are_kept_unless_the_server_says_not_to(chatter_env):
    env = chatter_env
    create_alias(env, "support", "test.ticket")
    raw = (b"From: a@client.example\r\nTo: support@example.com\r\nSubject: file\r\nMessage-ID: <att-1@x>\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n"
           b"Content-Type: text/plain\r\n\r\nsee file\r\n--B\r\nContent-Type: application/pdf; name=a.pdf\r\n"
           b"Content-Disposition: attachment; filename=a.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           b"JVBERi0xLjQ=\r\n--B--\r\n")
    _process(env, raw)
    assert [(a.filename, bytes(a.content)) for a in MessageAttachment.select()] == [("a.pdf", b"%PDF-1.4")]
    server = IncomingServer.create(name="noatt", server_type="local", keep_attachments=False, keep_original=True)
    _process(env, raw.replace(b"<att-1@x>", b"<att-2@x>"), server)
    assert [a.filename for a in MessageAttachment.select().order_by(MessageAttachment.id)] == [
        "a.pdf", "original_email.eml"]


def test_explain_writes_nothing(chatter_env):
    env = chatter_env
    create_alias(env, "support", "test.ticket")
    before = (Message.select().count(), OutgoingMail.select().count(), DeadLetter.select().count())
    assert explain_incoming(env, raw_email(to="support@example.com"))["route"] == "alias"
    assert explain_incoming(env, raw_email(to="catchall@example.com"))["route"] == "catchall_refused"
    assert explain_incoming(env, raw_email(to="nobody@else.example"))["route"] == "dead_letter"
    assert env.pm.hook.explain_incoming_message(env=env, raw=raw_email(to="support@example.com"))["res_id"] is None
    assert (Message.select().count(), OutgoingMail.select().count(), DeadLetter.select().count()) == before
    assert env["test.ticket"].select().count() == 0


class _TicketTakingResolver:
    from kernel import hookimpl

    @hookimpl
    def route_incoming_message(self, env, message):
        if message.subject.startswith("[UNSUB]"):
            return {"route": "unsubscribe", "model": None, "res_id": None, "auto_reply": False,
                    "author": message.from_email, "message_id": message.message_id}
        return None


def test_resolver_hook_is_asked_first(chatter_env):
    env = chatter_env
    env.pm.register(_TicketTakingResolver(), name="test-resolver")
    try:
        create_alias(env, "support", "test.ticket")
        assert _process(env, raw_email(to="support@example.com", subject="[UNSUB] me"))["route"] == "unsubscribe"
        assert _process(env, raw_email(to="support@example.com", subject="normal"))["route"] == "alias"
    finally:
        env.pm.unregister(name="test-resolver")


def test_a_model_that_refuses_the_mail_marks_the_alias_invalid_and_keeps_the_mail(chatter_env):
    env = chatter_env
    alias = create_alias(env, "support", "test.ticket")
    Alias.update(defaults={"name": None}).where(Alias.id == alias.id).execute()  # the title is required
    result = _process(env, raw_email(to="support@example.com"))
    assert result["route"] == "dead_letter" and "IntegrityError" in result["error"]
    assert Alias.get_by_id(alias.id).status == "invalid"
    assert DeadLetter.select().count() == 1
