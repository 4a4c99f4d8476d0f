"""Incoming mail throughput: Juniper's fetch (IMAP, routing included) against a bare imaplib loop.

Loads N messages (default 2,000) into a Dovecot started from the test peer's config (IMAP APPEND),
then, alternating R times (default 3):

* Juniper: ``fetch_server`` on a fresh database, every message handed to the installed gateway in its
  own committed transaction, then ``\\Seen`` set by UID STORE. The gateway is the chatter with the
  ``crm`` plugin (the server's model is ``crm.lead``: every message creates a lead and is posted on
  it) when those addons install, else (or with ``--gateway test``) the throwaway gateway of the
  fetchmail tests, which measures the transport alone (said on output).
* Bare: imaplib login, SELECT, UID FETCH of BODY.PEEK[] in chunks of the same size, and
  ``email.message_from_bytes(policy=email.policy.default)`` of each message.

Between runs the ``\\Seen`` flags are cleared so both sides read the same unseen mailbox. Prints
messages/second for both sides (medians) and the ratio Juniper / bare (target >= 0.3).

Usage: python3 bench/incoming.py [--messages 2000] [--runs 3] [--db postgresql://...] [--gateway chatter|test]
"""
import argparse
import email
import email.policy
import imaplib
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from email.message import EmailMessage
from email.utils import make_msgid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The script's own folder comes first on sys.path, and bench/dkim.py would shadow dkimpy's `dkim`.
BENCH = os.path.join(ROOT, "bench")
sys.path[:] = [ROOT] + [entry for entry in sys.path if os.path.abspath(entry or ".") != BENCH]

from tests.peers.dovecot import Dovecot  # noqa: E402

TEST_ADDONS = os.path.join(ROOT, "tests", "fetchmail", "addons")
USER, PASSWORD = "bench", "bench-secret"
BODY = ("Hello,\n\nPlease find below the details of our request for a quotation. We would need "
        "twelve units delivered before the end of the month, with installation.\n\n") * 4


def make_message(number: int) -> bytes:
    message = EmailMessage()
    message["From"] = f"Customer {number % 300} <customer{number % 300}@client{number % 37}.example>"
    message["To"] = "sales@mycompany.example"
    message["Subject"] = f"Request for quotation #{number}"
    message["Message-Id"] = make_msgid(f"rfq{number}", domain="client.example")
    message.set_content(BODY + f"Reference {number}\n")
    html = BODY.replace("\n", "<br>")
    message.add_alternative(f"<html><body><p>{html}</p><p>Ref {number}</p></body></html>", subtype="html")
    return message.as_bytes()


def load_mailbox(dovecot: Dovecot, count: int) -> None:
    connection = dovecot.imap_login(USER)
    for number in range(count):
        connection.append("INBOX", None, None, make_message(number))
    connection.logout()


def clear_seen(dovecot: Dovecot) -> None:
    connection = dovecot.imap_login(USER)
    connection.select("INBOX")
    connection.uid("STORE", "1:*", "-FLAGS.SILENT", r"(\Seen)")
    connection.logout()


def bare_imaplib_run(dovecot: Dovecot, chunk: int) -> tuple[int, float]:
    started = time.perf_counter()
    connection = imaplib.IMAP4(dovecot.host, dovecot.ports["imap"], timeout=60)
    connection.login(USER, PASSWORD)
    connection.select("INBOX", readonly=True)
    _, data = connection.uid("SEARCH", None, "UNSEEN")
    uids = data[0].split()
    parsed = 0
    for start in range(0, len(uids), chunk):
        uid_set = b",".join(uids[start:start + chunk]).decode()
        _, response = connection.uid("FETCH", uid_set, "(UID BODY.PEEK[])")
        for part in response:
            if isinstance(part, tuple):
                message = email.message_from_bytes(part[1], policy=email.policy.default)
                parsed += bool(message["Message-Id"])
    connection.logout()
    return parsed, time.perf_counter() - started


def fresh_database_url(base_url: str | None, folder: str) -> tuple[str, object]:
    if not base_url:
        return os.path.join(folder, f"bench-{uuid.uuid4().hex[:8]}.db"), None
    from playhouse.db_url import connect

    schema = "bench_" + uuid.uuid4().hex[:10]
    admin = connect(base_url)
    admin.execute_sql(f"CREATE SCHEMA {schema}")
    admin.close()
    separator = "&" if "?" in base_url else "?"

    def drop():
        admin = connect(base_url)
        admin.execute_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.close()

    return f"{base_url}{separator}options=-csearch_path%3D{schema}", drop


def prepare_juniper(url: str, dovecot: Dovecot, gateway_choice: str = "chatter"):
    """A fresh environment with a gateway and a confirmed IMAP server: (env, server, gateway name)."""
    from kernel.addons import discover_addons
    from kernel.env import open_environment
    from kernel.installer import install_addons

    env = open_environment(url)
    env.ensure_initialized("Bench Company", "admin@mycompany.example")
    model = None
    reason = "chosen with --gateway test"
    if gateway_choice == "chatter":
        try:
            install_addons(env, ["crm"])
            gateway, model = "chatter + crm (default model crm.lead)", "crm.lead"
        except Exception as error:  # the chatter or crm is not installable yet: use the tests gateway
            reason = f"chatter/crm not installable: {error}"
    if model is None:
        os.environ["JUNIPER_ADDONS_PATH"] = TEST_ADDONS
        env.available_addons = discover_addons()
        install_addons(env, ["fetchmail", "fetchmail_test_gateway"])
        gateway = f"throwaway test gateway, transport only ({reason})"
    from addons_mail.fetchmail.models import IncomingServer

    server = IncomingServer.create(name="bench", server_type="imap", host=dovecot.host,
                                   port=dovecot.ports["imap"], user=USER, password=PASSWORD,
                                   state="confirmed", object_model=model)
    return env, server, gateway


def juniper_run(dovecot: Dovecot, base_url: str | None, folder: str,
                gateway_choice: str) -> tuple[int, float, str, dict]:
    from addons_mail.fetchmail.fetch import fetch_server

    url, drop = fresh_database_url(base_url, folder)
    env, server, gateway = prepare_juniper(url, dovecot, gateway_choice)
    try:
        started = time.perf_counter()
        run = fetch_server(env, server)
        seconds = time.perf_counter() - started
        if run.error:
            raise RuntimeError(run.error)
        routes = {}
        if server.object_model:
            from addons_mail.chatter.models import Message

            for row in Message.select(Message.gateway_route).where(Message.gateway_route.is_null(False)):
                routes[row.gateway_route] = routes.get(row.gateway_route, 0) + 1
        return run.stored + run.dead_lettered, seconds, gateway, routes
    finally:
        env.close()
        if drop:
            drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--db", help="PostgreSQL URL (a fresh schema per run); default: SQLite files.")
    parser.add_argument("--gateway", choices=["chatter", "test"], default="chatter",
                        help="chatter + crm (default, when installable) or the tests' throwaway gateway.")
    args = parser.parse_args()

    from addons_mail.fetchmail.fetch import IMAP_FETCH_CHUNK

    folder = tempfile.mkdtemp(prefix="bench-incoming-")
    with Dovecot() as dovecot:
        dovecot.add_user(USER, PASSWORD)
        started = time.perf_counter()
        load_mailbox(dovecot, args.messages)
        print(f"Loaded {args.messages} messages into Dovecot in {time.perf_counter() - started:.1f} s "
              f"(IMAP APPEND); database: {'PostgreSQL' if args.db else 'SQLite'}")
        juniper_rates, bare_rates = [], []
        for number in range(1, args.runs + 1):
            clear_seen(dovecot)
            count, seconds = bare_imaplib_run(dovecot, IMAP_FETCH_CHUNK)
            bare_rates.append(count / seconds)
            clear_seen(dovecot)
            count, seconds, gateway, routes = juniper_run(dovecot, args.db, folder, args.gateway)
            juniper_rates.append(count / seconds)
            print(f"run {number}: bare imaplib {bare_rates[-1]:8.0f} msgs/s | "
                  f"Juniper {juniper_rates[-1]:8.0f} msgs/s ({count} messages"
                  f"{', routes ' + str(routes) if routes else ''})")
        print(f"gateway: {gateway}")
        bare, juniper = statistics.median(bare_rates), statistics.median(juniper_rates)
        print(f"median bare imaplib fetch+parse: {bare:.0f} msgs/s")
        print(f"median Juniper fetch+route+store: {juniper:.0f} msgs/s")
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak memory (max RSS of this process): {peak_mb:.0f} MB")
        print(f"ratio Juniper / bare: {juniper / bare:.2f} (target >= 0.3)")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
