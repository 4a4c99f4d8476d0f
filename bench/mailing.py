"""Mass mailing throughput: a mailing to N contacts (default 100,000) rendered, queued and sent to
Postfix smtp-sink through Juniper, against a bare loop that renders the same template and sends over
one smtplib connection to the same sink.

Prints recipients/second of each, their ratio (target >= 0.4) and the peak memory of the mailing
run (target < 300 MB: ru_maxrss, plus tracemalloc's peak of Python allocations when --tracemalloc).
Run: python3 bench/mailing.py [--recipients 100000] [--db postgresql://...] [--batch-size 1000]
"""
import argparse
import os
import resource
import smtplib
import sys
import tempfile
import time
import tracemalloc
from email.utils import formataddr
from pathlib import Path

# Running this file puts bench/ first on sys.path, where bench/dkim.py would shadow the dkim package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from addons_mail.mass_mailing.body_template import BodyTemplate, recipient_fields  # noqa: E402
from addons_mail.mass_mailing.unsubscribe_tokens import UnsubscribeLinks  # noqa: E402
from kernel.env import open_environment  # noqa: E402
from kernel.installer import install_addons  # noqa: E402
from kernel.models import Contact  # noqa: E402
from tests.peers.sink import SmtpSink  # noqa: E402

TEMPLATE = """<html><body>
<h1>Spring news</h1>
<p>Hello {{ recipient.first_name }},</p>
<p>Here is what is new at {{ recipient.company or "our company" }} this season: new products, better prices,
and a few stories from our customers. We hope you enjoy reading it as much as we enjoyed writing it.</p>
<ul>{% for n in range(5) %}<li>Story number {{ n + 1 }} for {{ recipient.name }}</li>{% endfor %}</ul>
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</body></html>"""


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def create_contacts(count: int) -> None:
    chunk = 2000
    for start in range(0, count, chunk):
        rows = [{"name": f"Reader {n} Smith", "email": f"reader{n}@customer{n % 97}.example",
                 "email_normalized": f"reader{n}@customer{n % 97}.example"}
                for n in range(start, min(count, start + chunk))]
        Contact.insert_many(rows).execute()


def run_mailing(env, batch_size: int) -> tuple[int, float]:
    from addons_mail.mail_server.api import process_queue
    from addons_mail.mass_mailing.mailings import create_mailing, mailing_status
    from addons_mail.mass_mailing.sending import send_mailing

    mailing = create_mailing(env, subject="Spring news", email_from="news@example.com", body_template=TEMPLATE,
                             contacts_query="email~reader")
    started = time.perf_counter()
    report = send_mailing(env, mailing.id, batch_size=batch_size)
    while process_queue(env).sent:
        pass
    seconds = time.perf_counter() - started
    status = mailing_status(mailing.id)
    if status["state"] != "done":
        print(f"warning: the mailing ended {status['state']}: {status['traces']}", file=sys.stderr)
    return status["traces"]["sent"] or report.queued, seconds


def run_bare_loop(env, host: str, port: int) -> tuple[int, float]:
    """Render the same template per recipient and send over one smtplib connection."""
    template = BodyTemplate(TEMPLATE)
    contacts = Contact.select(Contact.id, Contact.name, Contact.email_normalized).where(
        Contact.email_normalized.contains("reader")).order_by(Contact.id).tuples()
    links = UnsubscribeLinks(env, 1)
    started = time.perf_counter()
    sent = 0
    with smtplib.SMTP(host, port) as smtp:
        for contact_id, name, email in contacts.iterator():
            url = links.url(links.token(contact_id))
            body = template.render(recipient_fields(name, email, ""), {"subject": "Spring news"}, url)
            message = (f"From: news@example.com\r\nTo: {formataddr((name, email))}\r\nSubject: Spring news\r\n"
                       f"Message-Id: <{contact_id}.bare@example.com>\r\nMIME-Version: 1.0\r\n"
                       f"List-Unsubscribe: <{url}>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
                       f"Precedence: bulk\r\nContent-Type: text/html; charset=utf-8\r\n"
                       f"Content-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n").encode("utf-8")
            smtp.sendmail("bounce@example.com", [email], message)
            sent += 1
    return sent, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--db", help="Database URL (default: a SQLite file in a temporary folder).")
    parser.add_argument("--tracemalloc", action="store_true", help="Also trace Python allocations (slower).")
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="juniper-bench-")
    env = open_environment(args.db or os.path.join(folder, "bench.db"))
    env.ensure_initialized("Bench Company", "admin@example.com")
    install_addons(env, ["mass_mailing"])
    env.params.set("mail.catchall.domain", "example.com")
    env.params.set("web.base.url", "https://news.example.com")
    started = time.perf_counter()
    create_contacts(args.recipients)
    print(f"{args.recipients:,} contacts created in {time.perf_counter() - started:.1f} s")

    with SmtpSink() as sink:
        server = env["ir.mail_server"].create(name="sink", host=sink.host, port=sink.port, encryption="none",
                                             authentication="login", priority=10)
        env.params.set("mass_mailing.outgoing_mail_server", True)
        env.params.set("mass_mailing.mail_server_id", server.id)
        rss_before = peak_rss_mb()
        if args.tracemalloc:
            tracemalloc.start()
        mailing_sent, mailing_seconds = run_mailing(env, args.batch_size)
        traced_peak = tracemalloc.get_traced_memory()[1] / 2**20 if args.tracemalloc else None
        tracemalloc.stop()
        rss_mailing = peak_rss_mb()
        bare_sent, bare_seconds = run_bare_loop(env, sink.host, sink.port)

    mailing_rate = mailing_sent / mailing_seconds
    bare_rate = bare_sent / bare_seconds
    print(f"mailing (render, queue, send through Juniper): {mailing_sent:,} in {mailing_seconds:.1f} s = "
          f"{mailing_rate:,.0f} recipients/s")
    print(f"bare loop (render, one smtplib connection):    {bare_sent:,} in {bare_seconds:.1f} s = "
          f"{bare_rate:,.0f} recipients/s")
    print(f"peak memory (ru_maxrss) before the mailing {rss_before:.0f} MB, after it {rss_mailing:.0f} MB "
          "(target < 300 MB)" + (f"; tracemalloc peak during the mailing {traced_peak:.0f} MB" if traced_peak else ""))
    print(f"ratio mailing / bare loop: {mailing_rate / bare_rate:.2f} (target >= 0.4)")
    env.close()


if __name__ == "__main__":
    main()
