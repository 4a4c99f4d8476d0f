"""Dovecot (IMAP, IMAPS, POP3, POP3S) on 127.0.0.1 from a self-contained config in a short temp dir."""

import imaplib
import os
import pwd
import shutil
import signal
import ssl
import subprocess
import tempfile
import time

from tests.peers.ports import free_ports, wait_until_accepting
from tests.peers.tls import LoopbackCA

DOVECOT_PATH = shutil.which("dovecot") or "/usr/sbin/dovecot"
INSTALL_HINT = "apt-get install dovecot-imapd dovecot-pop3d"
PROTOCOLS = ("imap", "imaps", "pop3", "pop3s")

CONFIG_TEMPLATE = """\
protocols = imap pop3
listen = {host}
base_dir = {directory}/run
state_dir = {directory}/state
log_path = {directory}/dovecot.log
info_log_path = {directory}/dovecot.log
instance_name = {instance_name}
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1
auth_failure_delay = 0
auth_mechanisms = plain login
disable_plaintext_auth = no
mail_location = maildir:~/Maildir
ssl = yes
ssl_cert = <{cert_path}
ssl_key = <{key_path}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {directory}/passwd
}}
userdb {{
  driver = passwd-file
  args = {directory}/passwd
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = {imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = {pop3s}
    ssl = yes
  }}
}}
"""


def dovecot_available() -> bool:
    return os.access(DOVECOT_PATH, os.X_OK)


# The anvil-auth-penalty listener is switched off (mode 0): otherwise every failed login from
# 127.0.0.1 delays the next logins by up to 15 s, whatever auth_failure_delay says.


class Dovecot:
    """A Dovecot instance with its own config, users, Maildirs and CA.

    Users map to the uid/gid of ``nobody`` (mail processes refuse root); passwords are stored
    ``{PLAIN}`` in a passwd-file that Dovecot re-reads, so ``add_user`` works before or after
    ``start()``. ``ca_pem`` is the CA certificate clients must trust for IMAPS/POP3S.
    """

    def __init__(self, ca: LoopbackCA | None = None):
        self.host = "127.0.0.1"
        # Unix socket paths under base_dir must stay below 108 bytes, and the dovecot user must be
        # able to traverse every parent: pytest's tmp_path fails both.
        self.directory = tempfile.mkdtemp(prefix="dc", dir="/tmp")
        os.chmod(self.directory, 0o755)
        self.ca = ca or LoopbackCA(os.path.join(self.directory, "ca"))
        self.ports = dict(zip(PROTOCOLS, free_ports(len(PROTOCOLS))))
        self.config_path = os.path.join(self.directory, "dovecot.conf")
        self.passwd_path = os.path.join(self.directory, "passwd")
        self.log_path = os.path.join(self.directory, "dovecot.log")
        self.start_seconds: float | None = None
        self._passwords: dict[str, str] = {}
        self._process: subprocess.Popen | None = None
        mail_account = pwd.getpwnam("nobody")
        self._uid, self._gid = mail_account.pw_uid, mail_account.pw_gid
        self._write_config()

    @property
    def ca_pem(self) -> str:
        return self.ca.ca_pem

    def _write_config(self) -> None:
        for name in ("run", "state", "home"):
            os.makedirs(os.path.join(self.directory, name), mode=0o755, exist_ok=True)
        cert_path, key_path = self.ca.write_server_files(self.directory)
        with open(self.config_path, "w") as config:
            config.write(CONFIG_TEMPLATE.format(
                host=self.host,
                directory=self.directory,
                instance_name=os.path.basename(self.directory),
                cert_path=cert_path,
                key_path=key_path,
                **self.ports,
            ))
        self._write_passwd()

    def _write_passwd(self) -> None:
        lines = []
        for user, password in self._passwords.items():
            home = os.path.join(self.directory, "home", user)
            lines.append(f"{user}:{{PLAIN}}{password}:{self._uid}:{self._gid}::{home}::\n")
        temporary = self.passwd_path + ".new"
        with open(temporary, "w") as passwd:
            passwd.writelines(lines)
        os.chmod(temporary, 0o644)
        os.replace(temporary, self.passwd_path)

    def add_user(self, name: str, password: str) -> None:
        """Create a mail user with an empty Maildir (INBOX)."""
        if ":" in name or ":" in password or "\n" in name + password:
            raise ValueError("Dovecot test users cannot contain ':' or newlines")
        home = os.path.join(self.directory, "home", name)
        for sub in ("", "Maildir", "Maildir/cur", "Maildir/new", "Maildir/tmp"):
            path = os.path.join(home, sub)
            os.makedirs(path, mode=0o700, exist_ok=True)
            os.chown(path, self._uid, self._gid)
        self._passwords[name] = password
        self._write_passwd()

    def start(self, timeout: float = 10.0) -> "Dovecot":
        """Start ``dovecot -F`` in its own process group; return once every port sends a greeting."""
        if not dovecot_available():
            raise FileNotFoundError(f"dovecot not found at {DOVECOT_PATH}; {INSTALL_HINT}")
        stale_pid = os.path.join(self.directory, "run", "master.pid")
        if os.path.exists(stale_pid):
            os.remove(stale_pid)
        started = time.perf_counter()
        self._process = subprocess.Popen(
            [DOVECOT_PATH, "-F", "-c", self.config_path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        verified = ssl.create_default_context(cafile=self.ca_pem)
        try:
            for protocol, port in self.ports.items():
                if self._process.poll() is not None:
                    raise TimeoutError("dovecot exited")
                wait_until_accepting(
                    self.host,
                    port,
                    max(0.1, deadline - time.monotonic()),
                    greeting=True,
                    tls=verified if protocol.endswith("s") else None,
                )
        except TimeoutError as error:
            exited = self._process.poll() is not None
            errors = self._process.stderr.read().decode(errors="replace").strip() if exited else ""
            self.stop()
            raise RuntimeError(f"Dovecot did not start ({error}); see {self.log_path}. {errors}") from None
        self.start_seconds = time.perf_counter() - started
        return self

    def stop(self) -> None:
        """Kill the whole process group at once (SIGTERM would take 1-3 s)."""
        process, self._process = self._process, None
        if process is None:
            return
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=5)
        if process.stderr:
            process.stderr.close()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def cleanup(self) -> None:
        """Stop and delete the instance directory."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> "Dovecot":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.cleanup()

    # Mailbox access through IMAP, as a client would.

    def imap_login(self, user: str) -> imaplib.IMAP4_SSL:
        """An IMAPS connection, verified against ``ca_pem``, logged in as ``user``."""
        context = ssl.create_default_context(cafile=self.ca_pem)
        connection = imaplib.IMAP4_SSL(self.host, self.ports["imaps"], ssl_context=context, timeout=10)
        connection.login(user, self._passwords[user])
        return connection

    def append(self, user: str, raw: bytes, folder: str = "INBOX") -> None:
        """Store ``raw`` in ``folder`` of ``user`` with IMAP APPEND (the folder is created if missing)."""
        connection = self.imap_login(user)
        try:
            if folder.upper() != "INBOX":
                connection.create(folder)
            status, detail = connection.append(folder, None, None, raw)
            if status != "OK":
                raise RuntimeError(f"APPEND to {folder} of {user} failed: {detail}")
        finally:
            connection.logout()

    def messages(self, user: str, folder: str = "INBOX") -> list[bytes]:
        """The raw bytes of every message in ``folder`` of ``user``, in sequence order."""
        connection = self.imap_login(user)
        try:
            status, detail = connection.select(folder, readonly=True)
            if status != "OK":
                raise RuntimeError(f"cannot select {folder} of {user}: {detail}")
            count = int(detail[0])
            if count == 0:
                return []
            _, data = connection.fetch(f"1:{count}", "(BODY.PEEK[])")
            return [part[1] for part in data if isinstance(part, tuple)]
        finally:
            connection.logout()
