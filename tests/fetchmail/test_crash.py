"""A fetch process killed with SIGKILL between storing and acknowledging loses nothing and, on the
next run, stores nothing twice."""
import os
import signal
import subprocess
import sys

import pytest

from addons_mail.fetchmail.fetch import fetch_server
from addons_mail.fetchmail.models import DeadLetter
from tests.fetchmail.conftest import make_message, received_subjects

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("protocol", ["imaps", "pop3"])
def test_sigkill_between_commit_and_acknowledgement_loses_nothing_and_stores_nothing_twice(
        gateway_env, db_url, dovecot, dovecot_user, make_incoming_server, protocol):
    user, _ = dovecot_user
    for number in range(8):
        dovecot.append(user, make_message(number))
    server = make_incoming_server(gateway_env, protocol)

    child_env = dict(os.environ, FETCHMAIL_TEST_KILL_AFTER="3")
    killed = subprocess.run(
        [sys.executable, "-c", "from kernel.cli import main; main()",
         "--db", db_url, "fetchmail", "fetch", server.name],
        env=child_env, cwd=ROOT, capture_output=True, timeout=60,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    # The chunk (all 8) was committed as one transaction, then the process died before acknowledging.
    assert received_subjects() == [f"Message {n}" for n in range(8)]
    assert len(dovecot.messages(user)) == 8  # committed, never acknowledged

    run = fetch_server(gateway_env, server)

    assert run.error is None and run.fetched == 8
    assert received_subjects() == [f"Message {n}" for n in range(8)]
    assert DeadLetter.select().count() == 0
    if protocol == "pop3":
        assert dovecot.messages(user) == []
    assert fetch_server(gateway_env, server).fetched == 0
