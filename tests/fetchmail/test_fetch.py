"""Fetching from Dovecot over IMAP, IMAPS, POP3 and POP3S and handing messages to the gateway."""
import pytest

from addons_mail.fetchmail.fetch import fetch_all, fetch_server
from addons_mail.fetchmail.models import DeadLetter, ImapCheckpoint, IncomingServer
from tests.fetchmail.conftest import make_message, received_subjects

PROTOCOLS = ["imap", "imaps", "pop3", "pop3s"]


def unseen_count(dovecot, user):
    connection = dovecot.imap_login(user)
    try:
        connection.select("INBOX", readonly=True)
        _, data = connection.search(None, "UNSEEN")
        return len(data[0].split())
    finally:
        connection.logout()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_fetch_hands_every_message_to_the_gateway_and_acknowledges_it(
        gateway_env, dovecot, dovecot_user, make_incoming_server, protocol):
    user, _ = dovecot_user
    for number in range(3):
        dovecot.append(user, make_message(number))
    server = make_incoming_server(gateway_env, protocol)

    run = fetch_server(gateway_env, server)

    assert (run.fetched, run.stored, run.dead_lettered, run.error) == (3, 3, 0, None)
    assert received_subjects() == ["Message 0", "Message 1", "Message 2"]
    if protocol.startswith("imap"):
        assert len(dovecot.messages(user)) == 3 and unseen_count(dovecot, user) == 0
    else:
        assert dovecot.messages(user) == []
    server = IncomingServer.get_by_id(server.id)
    assert server.last_error is None and server.last_fetch_at == gateway_env.clock.now()
    assert fetch_server(gateway_env, server).fetched == 0


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_message_the_gateway_fails_on_is_dead_lettered_and_the_rest_are_stored(
        gateway_env, dovecot, dovecot_user, make_incoming_server, protocol):
    user, _ = dovecot_user
    dovecot.append(user, make_message(1))
    dovecot.append(user, make_message(2, subject="please explode"))
    dovecot.append(user, make_message(3))
    server = make_incoming_server(gateway_env, protocol)

    run = fetch_server(gateway_env, server)

    assert (run.fetched, run.stored, run.dead_lettered) == (3, 2, 1)
    assert received_subjects() == ["Message 1", "Message 3"]
    letter = DeadLetter.get()
    assert letter.subject == "please explode"
    assert "explode" in letter.error and letter.server_id == server.id
    assert b"Subject: please explode" in letter.raw_bytes
    assert fetch_server(gateway_env, server).fetched == 0


def test_without_a_gateway_messages_are_dead_lettered_not_lost(fetch_env, dovecot, dovecot_user,
                                                                make_incoming_server):
    user, _ = dovecot_user
    dovecot.append(user, make_message(1))
    run = fetch_server(fetch_env, make_incoming_server(fetch_env, "imap"))
    assert run.dead_lettered == 1
    assert DeadLetter.get().error == "No mail gateway is installed."


def test_pop_fetches_in_rounds_of_fifty_until_empty(gateway_env, dovecot, dovecot_user, make_incoming_server):
    user, _ = dovecot_user
    connection = dovecot.imap_login(user)
    for number in range(120):
        connection.append("INBOX", None, None, make_message(number))
    connection.logout()
    server = make_incoming_server(gateway_env, "pop3")

    run = fetch_server(gateway_env, server)

    assert run.stored == 120
    assert len(received_subjects()) == 120
    assert dovecot.messages(user) == []
    log = open(dovecot.log_path, errors="replace").read()
    assert log.count("pop3(" + user) >= 3 or log.count("Disconnected: Logged out") >= 3


def test_imap_resumes_from_the_checkpoint_and_honours_seen_flags(gateway_env, dovecot, dovecot_user,
                                                                 make_incoming_server):
    user, _ = dovecot_user
    dovecot.append(user, make_message(1))
    server = make_incoming_server(gateway_env, "imaps")
    fetch_server(gateway_env, server)
    checkpoint = ImapCheckpoint.get(ImapCheckpoint.server == server.id)
    assert checkpoint.folder == "INBOX" and checkpoint.last_uid == 1

    dovecot.append(user, make_message(2))
    read_elsewhere = make_message(3, subject="read in another client")
    connection = dovecot.imap_login(user)
    connection.append("INBOX", r"(\Seen)", None, read_elsewhere)
    connection.logout()

    run = fetch_server(gateway_env, server)

    assert run.fetched == 1
    assert received_subjects() == ["Message 1", "Message 2"]
    assert ImapCheckpoint.get(ImapCheckpoint.server == server.id).last_uid == 2


def test_a_changed_uidvalidity_restarts_the_checkpoint(gateway_env, dovecot, dovecot_user,
                                                        make_incoming_server):
    user, _ = dovecot_user
    dovecot.append(user, make_message(1))
    server = make_incoming_server(gateway_env, "imap")
    ImapCheckpoint.create(server=server, folder="INBOX", uidvalidity=1, last_uid=999)

    run = fetch_server(gateway_env, server)

    assert run.stored == 1
    checkpoint = ImapCheckpoint.get(ImapCheckpoint.server == server.id)
    assert checkpoint.uidvalidity != 1 and checkpoint.last_uid == 1


def test_imap_fetches_another_folder(gateway_env, dovecot, dovecot_user, make_incoming_server):
    user, _ = dovecot_user
    dovecot.append(user, make_message(1, subject="in the sales folder"), folder="Sales")
    run = fetch_server(gateway_env, make_incoming_server(gateway_env, "imap", folder="Sales"))
    assert run.stored == 1 and received_subjects() == ["in the sales folder"]


class StopDovecotAfter:
    """A plugin that lets the gateway work, but stops Dovecot while the N-th message is processed."""

    def __init__(self, dovecot, count):
        self.dovecot, self.count, self.seen = dovecot, count, 0

    from kernel import hookimpl

    @hookimpl(tryfirst=True)
    def process_incoming_message(self, env, raw, server):
        self.seen += 1
        if self.seen == self.count:
            self.dovecot.stop()
        return None


@pytest.mark.parametrize("protocol", ["imaps", "pop3s"])
def test_dovecot_stopped_mid_run_records_the_error_and_the_next_run_catches_up(
        gateway_env, dovecot, dovecot_user, make_incoming_server, protocol):
    user, _ = dovecot_user
    for number in range(5):
        dovecot.append(user, make_message(number))
    server = make_incoming_server(gateway_env, protocol)
    gateway_env.pm.register(StopDovecotAfter(dovecot, 2), name="stop-dovecot")
    try:
        run = fetch_server(gateway_env, server)
    finally:
        gateway_env.pm.unregister(name="stop-dovecot")

    assert run.error
    assert IncomingServer.get_by_id(server.id).last_error == run.error
    assert "the next run will try again" in run.error or "Nothing accepts connections" in run.error

    dovecot.start()
    second = fetch_server(gateway_env, server)

    assert second.error is None
    assert IncomingServer.get_by_id(server.id).last_error is None
    assert received_subjects() == [f"Message {n}" for n in range(5)]
    assert DeadLetter.select().count() == 0
    if protocol == "imaps":
        assert unseen_count(dovecot, user) == 0
    else:
        assert dovecot.messages(user) == []


def test_one_failing_server_does_not_stop_the_others(gateway_env, dovecot, dovecot_user,
                                                      make_incoming_server):
    user, _ = dovecot_user
    dovecot.append(user, make_message(1))
    broken = make_incoming_server(gateway_env, "imap", name="broken", password="wrong", priority=1)
    working = make_incoming_server(gateway_env, "pop3s", name="working", priority=2)
    make_incoming_server(gateway_env, "imap", name="draft one", state="draft")

    runs = fetch_all(gateway_env)

    assert [run.server for run in runs] == ["broken", "working"]
    assert "Authentication failed" in IncomingServer.get_by_id(broken.id).last_error
    assert runs[1].stored == 1 and IncomingServer.get_by_id(working.id).last_error is None


def test_the_fetch_job_is_scheduled_every_five_minutes(fetch_env):
    from kernel.models import ScheduledAction

    action = ScheduledAction.get(ScheduledAction.name == "Mail: Fetchmail Service")
    assert action.interval_seconds == 300 and action.addon == "fetchmail"
    assert action.function == "addons_mail.fetchmail.fetch:fetch_all"


def test_large_mailboxes_are_fetched_in_chunks_bounded_by_count_and_size(
        gateway_env, dovecot, dovecot_user, make_incoming_server, monkeypatch):
    from addons_mail.fetchmail import fetch

    monkeypatch.setattr(fetch, "IMAP_FETCH_CHUNK", 3)
    monkeypatch.setattr(fetch, "IMAP_FETCH_CHUNK_BYTES", 3000)
    user, _ = dovecot_user
    for number in range(7):
        dovecot.append(user, make_message(number, body="x" * (2500 if number == 4 else 10)))

    run = fetch_server(gateway_env, make_incoming_server(gateway_env, "imap"))

    assert run.stored == 7 and unseen_count(dovecot, user) == 0
    assert fetch.chunk_uids([1, 2, 3, 4, 5, 6, 7], {4: 1000, 5: 2600}) == [[1, 2, 3], [4], [5, 6, 7]]


def test_fetching_never_expunges_messages_flagged_deleted_by_another_client(
        gateway_env, dovecot, dovecot_user, make_incoming_server):
    user, _ = dovecot_user
    connection = dovecot.imap_login(user)
    connection.append("INBOX", r"(\Deleted \Seen)", None, make_message(1, subject="deleted elsewhere"))
    connection.logout()
    dovecot.append(user, make_message(2))
    server = make_incoming_server(gateway_env, "imaps")

    fetch_server(gateway_env, server)
    from addons_mail.fetchmail.servers import test_and_confirm
    test_and_confirm(gateway_env, server)

    assert len(dovecot.messages(user)) == 2
