"""Fan-out of a post: SQL statements and time to post on a thread with 10, 100 and 1,000 followers.

For each size, posts 5 messages on a thread (3 rounds, median), counting the SQL statements of each
post through peewee's query log; the baseline is the bare minimum a post must write, measured in the
same run: one INSERT of the message row and one multi-row INSERT of the notification rows. Statements
must not grow with the number of followers. Run: python3 bench/fanout.py [--db URL]
(a temporary SQLite file by default; a postgresql:// URL of an empty database works too).
"""
import argparse
import logging
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Running this file puts bench/ first on sys.path, where bench/dkim.py would shadow the dkim package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["JUNIPER_ADDONS_PATH"] = str(Path(__file__).resolve().parent.parent / "tests" / "chatter" / "addons")

from kernel.env import open_environment  # noqa: E402
from kernel.installer import install_addons  # noqa: E402
from kernel.models import Contact  # noqa: E402

from addons_mail.chatter.models import Message, Notification  # noqa: E402
from addons_mail.chatter.thread import follow, message_post  # noqa: E402

SIZES = (10, 100, 1000)
POSTS = 5
ROUNDS = 3


class StatementCounter(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record):
        self.count += 1


def prepare_thread(env, size: int):
    ticket = env["test.ticket"].create(name=f"Thread with {size} followers")
    rows = [{"name": f"Follower {i}", "email": f"f{i}.{size}@client.example",
             "email_normalized": f"f{i}.{size}@client.example"} for i in range(size)]
    with env.atomic():
        for start in range(0, size, 500):
            Contact.insert_many(rows[start:start + 500]).execute()
        follow(env, ticket, list(Contact.select().where(Contact.email.endswith(f".{size}@client.example"))))
    return ticket


def time_posts(env, ticket, author) -> tuple[float, int]:
    logger, counter = logging.getLogger("peewee"), StatementCounter()
    logger.setLevel(logging.DEBUG)
    logger.addHandler(counter)
    started = time.perf_counter()
    try:
        for i in range(POSTS):
            message_post(env, ticket, f"<p>Update {i}</p>", author=author, send_now=False)
    finally:
        logger.removeHandler(counter)
        logger.setLevel(logging.WARNING)
    return (time.perf_counter() - started) * 1000 / POSTS, counter.count // POSTS


def time_bare_inserts(env, ticket, size: int) -> float:
    contact_ids = [c.id for c in Contact.select(Contact.id).where(Contact.email.endswith(f".{size}@client.example"))]
    started = time.perf_counter()
    for i in range(POSTS):
        with env.atomic():
            message = Message.create(model="test.ticket", res_id=ticket.id, body_html=f"<p>bare {i}</p>",
                                     message_id=f"<bare-{time.perf_counter_ns()}@bench>", date=env.clock.now())
            rows = [{"message": message.id, "contact": cid, "email": "x@client.example"} for cid in contact_ids]
            for start in range(0, len(rows), 2000):
                Notification.insert_many(rows[start:start + 2000]).execute()
    return (time.perf_counter() - started) * 1000 / POSTS


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="fanout")
    env = open_environment(args.db or os.path.join(folder, "bench.db"))
    env.ensure_initialized("Bench Company", "admin@example.com")
    install_addons(env, ["chatter", "chatter_test_tickets"])
    env.params.set("mail.catchall.domain", "example.com")
    author = Contact.create(name="Author", email="author@example.com")
    threads = {size: prepare_thread(env, size) for size in SIZES}
    results = {size: {"post": [], "bare": [], "statements": set()} for size in SIZES}
    for _ in range(ROUNDS):
        for size in SIZES:
            ms, statements = time_posts(env, threads[size], author)
            results[size]["post"].append(ms)
            results[size]["statements"].add(statements)
            results[size]["bare"].append(time_bare_inserts(env, threads[size], size))
    backend = "PostgreSQL" if env.is_postgres else "SQLite"
    print(f"Post on a thread ({backend}, {POSTS} posts x {ROUNDS} rounds, medians; emails queued, not sent)")
    print(f"{'followers':>9}  {'SQL statements/post':>19}  {'ms/post':>8}  {'bare inserts ms':>15}  {'ratio':>5}")
    for size in SIZES:
        post, bare = statistics.median(results[size]["post"]), statistics.median(results[size]["bare"])
        statements = "/".join(str(s) for s in sorted(results[size]["statements"]))
        print(f"{size:>9}  {statements:>19}  {post:>8.1f}  {bare:>15.1f}  {post / bare:>5.1f}")
    print(f"peak memory (max RSS of this process): "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    env.close()


if __name__ == "__main__":
    main()
