"""`juniper demo` run as a newcomer runs it: a real subprocess, its own database and SMTP server."""
import os
import re
import shutil
import subprocess
import sys
import time

DEMO_BUDGET_SECONDS = 10


def _juniper_command() -> list[str]:
    installed = shutil.which("juniper")
    return [installed] if installed else [sys.executable, "-m", "kernel"]


def test_juniper_demo_walks_through_notifications_reply_bounce_and_thread(tmp_path):
    environment = {**os.environ, "TMPDIR": str(tmp_path)}
    environment.pop("JUNIPER_DB", None)
    started = time.perf_counter()
    result = subprocess.run([*_juniper_command(), "demo"], cwd=tmp_path, env=environment,
                            capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - started
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout
    assert elapsed < DEMO_BUDGET_SECONDS, f"the demo took {elapsed:.1f} s"
    headings = re.findall(r"^== (.+) ==$", output, re.MULTILINE)
    assert len(headings) == 8, headings
    # Bob's post: two notifications (Alice and Dave), none to Bob, Reply-To the catchall.
    notifications = output.split("== Step 4/7")[1].split("== Step 5/7")[0]
    assert notifications.count("  Mail ") == 2
    assert "To:          Alice Buyer <alice@customer.example>" in notifications
    assert "To:          Dave Partner <dave@old-partner.example>" in notifications
    assert not any("bob@" in line for line in re.findall(r"^    To: .*$", notifications, re.MULTILINE))
    assert notifications.count("catchall@mycompany.example") == 2
    assert notifications.count("-juniper-1-crm.lead@") == 2
    # The reply is posted on the lead, the DSN recognised as a hard bounce for Dave.
    assert "route=reply, document=crm.lead #1" in output
    assert "route=bounce" in output and "bounced=dave@old-partner.example (hard, 5.1.1)" in output
    # The relay goes to Bob and Dave, not to Alice who wrote it.
    relay = output.split("== Step 6/7")[1].split("== Step 7/7")[0]
    relay_to = re.findall(r"^    To: .*$", relay, re.MULTILINE)
    assert len(relay_to) == 2
    assert any("bob@mycompany.example" in line for line in relay_to)
    assert not any("alice@" in line for line in relay_to)
    assert "route=alias, document=crm.lead #2" in output
    # The thread, with the failed-delivery marker on Bob's message.
    thread = output.split("juniper thread show crm.lead 1 ==")[1]
    assert thread.count("[failed delivery]") == 1, "only the first notification to Dave bounced"
    assert "not delivered to Dave Partner <dave@old-partner.example>: bounce" in thread
    assert "Tuesday is perfect" in thread
    # Nothing left behind, and no traceback.
    assert list(tmp_path.iterdir()) == []
    assert "Traceback" not in result.stderr
