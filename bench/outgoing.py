"""Outgoing throughput: the send queue against a bare smtplib loop, both into Postfix smtp-sink.

Queues N mails (default 20,000), drains them through ``process_queue`` (claim, build, send, mark
sent), and in the same run sends the same already-built messages with a bare smtplib loop over one
connection. Each side runs 3 times, alternating; medians are printed, then the ratio and peak memory.

    python3 bench/outgoing.py [--mails 20000] [--rounds 3] [--db sqlite|URL]
"""
import argparse
import os
import resource
import smtplib
import statistics
import sys
import tempfile
import time

# bench/ holds dkim.py, which would shadow the dkim package: put the repository first instead.
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from addons_mail.mail_server.api import queue_mails  # noqa: E402
from addons_mail.mail_server.models import OutgoingMail  # noqa: E402
from addons_mail.mail_server.queue import process_queue  # noqa: E402
from addons_mail.mail_server.servers import create_server  # noqa: E402
from kernel.env import open_environment  # noqa: E402
from kernel.installer import install_addons  # noqa: E402
from tests.peers.sink import SmtpSink  # noqa: E402

BODY = ("<p>Dear customer,</p><p>Please find our new offer for the coming season. " * 8) + "</p>"


def rows(count: int, round_number: int) -> list[dict]:
    return [dict(email_from="Sales <sales@mycompany.com>", email_to=f"Customer {n} <customer{n}@example.org>",
                 subject=f"Your offer {n}", body_html=BODY, send_now=False, auto_delete=True,
                 message_id=f"<bench-{round_number}-{n}@mycompany.com>") for n in range(count)]


def run_queue(env, count: int, round_number: int) -> tuple[float, list]:
    queue_mails(env, rows(count, round_number))
    captured = []
    started = time.perf_counter()
    stats = process_queue(env, limit=count)
    seconds = time.perf_counter() - started
    assert stats.sent == count, stats
    return count / seconds, captured


def build_messages(env, count: int) -> list[tuple[str, list[str], bytes]]:
    """The same messages the queue sends (its own builder), built before the bare loop is timed."""
    from addons_mail.mail_server.addresses import decide_sender
    from addons_mail.mail_server.message_builder import MessageBuilder

    ids = queue_mails(env, rows(count, 999))
    builder = MessageBuilder(env)
    messages = []
    columns = ("id", "email_from", "email_to", "email_cc", "email_bcc", "reply_to", "subject", "headers",
               "references", "in_reply_to", "content_id", "server_id", "server_forced", "message_id", "attempts")
    query = OutgoingMail.select(*[getattr(OutgoingMail, c if c not in ("content_id", "server_id") else c[:-3])
                                  for c in columns]).where(OutgoingMail.id.in_(ids)).tuples()
    for record in query:
        row = dict(zip(columns, record))
        decision = decide_sender(env, row["email_from"], "mycompany.com", mail_id=row["id"])
        messages.append((decision.envelope_from, [row["email_to"].split("<")[1].rstrip(">")],
                         builder.build(row, decision.header_from)))
    OutgoingMail.delete().where(OutgoingMail.id.in_(ids)).execute()
    return messages


def run_bare(sink: SmtpSink, messages) -> float:
    started = time.perf_counter()
    smtp = smtplib.SMTP(sink.host, sink.port, local_hostname="localhost")
    for envelope, recipients, data in messages:
        smtp.sendmail(envelope, recipients, data)
    smtp.quit()
    return len(messages) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--db", default="sqlite", help="sqlite (a temporary file) or a PostgreSQL URL")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-outgoing-")
    url = os.path.join(folder, "bench.db") if args.db == "sqlite" else args.db
    env = open_environment(url)
    env.ensure_initialized("Bench Company", "admin@mycompany.com")
    install_addons(env, ["mail_server"])
    env.params.set("mail.catchall.domain", "mycompany.com")
    env.params.set("mail.session.batch.size", args.mails)
    env.params.set("mail.queue.batch.size", args.mails)
    with SmtpSink() as sink:
        create_server(env, "sink", host=sink.host, port=sink.port, encryption="none", from_filter="mycompany.com")
        messages = build_messages(env, args.mails)
        queue_rates, bare_rates = [], []
        for round_number in range(args.rounds):
            queue_rates.append(run_queue(env, args.mails, round_number)[0])
            bare_rates.append(run_bare(sink, messages))
            print(f"round {round_number + 1}: queue {queue_rates[-1]:,.0f} mails/s, bare smtplib "
                  f"{bare_rates[-1]:,.0f} mails/s", flush=True)
    queue_rate, bare_rate = statistics.median(queue_rates), statistics.median(bare_rates)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"database: {'SQLite' if args.db == 'sqlite' else 'PostgreSQL'}, {args.mails:,} mails, "
          f"{args.rounds} rounds (medians)")
    print(f"queue (claim, build, send, mark sent): {queue_rate:,.0f} mails/s")
    print(f"bare smtplib loop, one connection:     {bare_rate:,.0f} mails/s")
    print(f"peak memory (max RSS of this process): {peak_mb:,.0f} MB (target < 200 MB)")
    print(f"ratio queue / bare: {queue_rate / bare_rate:.2f} (target >= 0.5)")


if __name__ == "__main__":
    main()
