"""Postfix smtp-sink on 127.0.0.1: a fast SMTP server that accepts and discards everything.

Used by benchmarks as the raw protocol limit, and by tests that only need "the mail was accepted".
"""

import os
import shutil
import signal
import subprocess
import time

from tests.peers.ports import free_port, wait_until_accepting

SMTP_SINK_PATH = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
INSTALL_HINT = "apt-get install postfix (smtp-sink is part of Postfix)"


def smtp_sink_available() -> bool:
    return os.access(SMTP_SINK_PATH, os.X_OK)


class SmtpSink:
    """Run ``smtp-sink`` on a free loopback port; ``start()`` returns once it accepts connections.

    ``-a`` stops it announcing AUTH (its fake 250 reply would make smtplib.login raise), ``-u nobody``
    is required when running as root, 256 is the listen backlog.
    """

    def __init__(self, port: int | None = None, backlog: int = 256):
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.backlog = backlog
        self.start_seconds: float | None = None
        self._process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        command = [SMTP_SINK_PATH, "-4"]
        if os.geteuid() == 0:
            command += ["-u", "nobody"]
        return command + ["-a", f"{self.host}:{self.port}", str(self.backlog)]

    def start(self, timeout: float = 5.0) -> "SmtpSink":
        if not smtp_sink_available():
            raise FileNotFoundError(f"smtp-sink not found at {SMTP_SINK_PATH}; {INSTALL_HINT}")
        started = time.perf_counter()
        self._process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            wait_until_accepting(self.host, self.port, timeout, greeting=True)
        except TimeoutError:
            self.stop()
            raise
        self.start_seconds = time.perf_counter() - started
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
        if process.stderr:
            process.stderr.close()

    def __enter__(self) -> "SmtpSink":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
