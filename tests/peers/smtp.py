"""aiosmtpd test peers that record every accepted message and inject faults on the wire.

Modes: ``plain``, ``starttls`` (STARTTLS required before MAIL), ``ssl`` (implicit TLS, SMTPS);
any mode offers AUTH PLAIN/LOGIN and requires it before MAIL when ``user`` is given.
"""

import asyncio
import email
import email.message
import email.policy
import logging
import threading
import time
from dataclasses import dataclass

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.peers.ports import free_port
from tests.peers.tls import LoopbackCA

MODES = ("plain", "starttls", "ssl")
RATE_LIMIT_TEXT = "4.7.0 Too many messages, slow down"
# Long enough for any test; the wait ends as soon as the client side is gone.
_WAIT_FOR_DISCONNECT_SECONDS = 30


class _DropLoginDataDeprecation(logging.Filter):
    """aiosmtpd 1.4 logs a deprecation warning of its own making on every successful AUTH."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()


_login_data_filter = _DropLoginDataDeprecation()
logging.getLogger("mail.log").addFilter(_login_data_filter)


@dataclass(frozen=True)
class ReceivedMessage:
    """One message the peer accepted (answered 250 at the end of DATA)."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    message: email.message.EmailMessage
    session_number: int
    tls: bool
    login: str | None


class RecordingHandler:
    """aiosmtpd handler: records accepted envelopes and answers with faults configured at runtime.

    Every public method is thread-safe: tests call them from the main thread while the server
    runs in the controller's thread.
    """

    def __init__(self, credentials: dict[str, str] | None = None, implicit_tls: bool = False):
        self.credentials = dict(credentials or {})
        self.implicit_tls = implicit_tls
        self._condition = threading.Condition()
        self._messages: list[ReceivedMessage] = []
        self._session_count = 0
        self.clear_faults()

    # Fault configuration (called from tests).

    def clear_faults(self) -> None:
        with self._condition:
            self._data_failures: list[str] = []
            self._rejected_senders: dict[str, str] = {}
            self._rejected_recipients: dict[str, str] = {}
            self._drop_after: int | None = None
            self._rate_limit: dict | None = None

    def fail_next(self, count: int, reply: str) -> None:
        with self._condition:
            self._data_failures.extend([reply] * count)

    def reject_sender(self, address: str, reply: str) -> None:
        with self._condition:
            self._rejected_senders[address.lower()] = reply

    def reject_recipient(self, address: str, reply: str) -> None:
        with self._condition:
            self._rejected_recipients[address.lower()] = reply

    def drop_connection_after(self, accepted: int) -> None:
        with self._condition:
            self._drop_after = accepted

    def rate_limit_reply(self, code: int, after: int, times: int | None) -> None:
        with self._condition:
            self._rate_limit = {"reply": f"{code} {RATE_LIMIT_TEXT}", "after": after, "times": times}

    # Recorded messages.

    @property
    def messages(self) -> list[ReceivedMessage]:
        with self._condition:
            return list(self._messages)

    def forget_messages(self) -> None:
        with self._condition:
            self._messages.clear()

    def wait_for(self, count: int, timeout: float) -> list[ReceivedMessage]:
        with self._condition:
            if not self._condition.wait_for(lambda: len(self._messages) >= count, timeout):
                raise TimeoutError(f"expected {count} messages within {timeout} s, got {len(self._messages)}")
            return list(self._messages)

    # aiosmtpd hooks.

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        if login in self.credentials and self.credentials[login] == password:
            return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if not hasattr(session, "juniper_number"):
            with self._condition:
                self._session_count += 1
                session.juniper_number = self._session_count
        if self.credentials and not session.authenticated:
            return "530 5.7.0 Authentication required"
        with self._condition:
            reply = self._rejected_senders.get(address.lower())
            rate_limited = self._take_rate_limit()
        if rate_limited:
            if rate_limited.startswith("421"):
                await self._reply_and_close(server, rate_limited)
            return rate_limited
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self._condition:
            reply = self._rejected_recipients.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self._condition:
            if self._drop_after == 0:
                self._drop_after = None
                drop = True
            else:
                drop = False
            failure = None if drop else (self._data_failures.pop(0) if self._data_failures else None)
        if drop:
            server.transport.abort()
            await asyncio.sleep(_WAIT_FOR_DISCONNECT_SECONDS)
            return "421 4.4.2 Connection dropped"
        if failure:
            return failure
        content = envelope.original_content or envelope.content
        received = ReceivedMessage(
            mail_from=envelope.mail_from,
            rcpt_tos=list(envelope.rcpt_tos),
            content=content,
            message=email.message_from_bytes(content, policy=email.policy.default),
            session_number=getattr(session, "juniper_number", 0),
            tls=self.implicit_tls or session.ssl is not None,
            login=session.auth_data if session.authenticated else None,
        )
        with self._condition:
            self._messages.append(received)
            if self._drop_after is not None:
                self._drop_after -= 1
            if self._rate_limit is not None and self._rate_limit["after"] > 0:
                self._rate_limit["after"] -= 1
            self._condition.notify_all()
        return "250 2.0.0 OK queued"

    def _take_rate_limit(self) -> str | None:
        limit = self._rate_limit
        if limit is None or limit["after"] > 0:
            return None
        if limit["times"] is not None:
            limit["times"] -= 1
            if limit["times"] <= 0:
                self._rate_limit = None
        return limit["reply"]

    @staticmethod
    async def _reply_and_close(server, reply: str) -> None:
        # A 421 means "closing the channel": send it, close, and let connection_lost cancel us
        # before aiosmtpd could write a second reply.
        await server.push(reply)
        server.transport.close()
        await asyncio.sleep(_WAIT_FOR_DISCONNECT_SECONDS)


class _LoopbackController(Controller):
    def __init__(self, handler, *, implicit_tls: bool, **kwargs):
        super().__init__(handler, **kwargs)
        self.implicit_tls = implicit_tls

    def factory(self):
        server = super().factory()
        if self.implicit_tls:
            # aiosmtpd only offers AUTH after STARTTLS (aio-libs/aiosmtpd#281); on SMTPS the channel
            # is already encrypted, so lift the requirement without the warning auth_require_tls=False
            # would raise per connection.
            server._auth_require_tls = False
        return server


class SmtpPeer:
    """An aiosmtpd server on 127.0.0.1 that records what it accepts and injects faults on demand.

    ``mode`` is ``plain``, ``starttls`` or ``ssl``; TLS modes need ``ca`` (a LoopbackCA) whose
    ``ca_pem`` clients must trust. Giving ``user`` and ``password`` enables AUTH and requires it
    before MAIL FROM.
    """

    def __init__(
        self,
        mode: str = "plain",
        *,
        user: str | None = None,
        password: str | None = None,
        ca: LoopbackCA | None = None,
        port: int | None = None,
    ):
        if mode not in MODES:
            raise ValueError(f"unknown SMTP peer mode {mode!r}; choose one of {', '.join(MODES)}")
        if mode != "plain" and ca is None:
            raise ValueError(f"SMTP peer mode {mode!r} needs a LoopbackCA (ca=...)")
        self.mode = mode
        self.user = user
        self.password = password
        self.ca = ca
        self.host = "127.0.0.1"
        self.port = port or free_port()
        credentials = {user: password} if user is not None else {}
        self.handler = RecordingHandler(credentials, implicit_tls=mode == "ssl")
        self._controller: Controller | None = None
        self.start_seconds: float | None = None

    @property
    def ca_pem(self) -> str | None:
        """Path of the CA certificate that signed this peer's certificate (None for plain)."""
        return self.ca.ca_pem if self.ca else None

    def _build_controller(self) -> Controller:
        options: dict = {
            "hostname": self.host,
            "port": self.port,
            "implicit_tls": self.mode == "ssl",
            "auth_require_tls": self.mode != "plain",
        }
        if self.user is not None:
            options["authenticator"] = self.handler.authenticate
        if self.mode == "starttls":
            options["tls_context"] = self.ca.server_context()
            options["require_starttls"] = True
        elif self.mode == "ssl":
            options["ssl_context"] = self.ca.server_context()
        return _LoopbackController(self.handler, **options)

    def start(self) -> "SmtpPeer":
        started = time.perf_counter()
        self._controller = self._build_controller()
        self._controller.start()
        self.start_seconds = time.perf_counter() - started
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> "SmtpPeer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # What was received.

    @property
    def messages(self) -> list[ReceivedMessage]:
        """Every accepted message so far, oldest first."""
        return self.handler.messages

    def message_ids(self) -> list[str]:
        """The Message-Id header of every accepted message, oldest first."""
        return [str(received.message["Message-Id"]) for received in self.handler.messages]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedMessage]:
        """Block until at least ``count`` messages were accepted; raise TimeoutError otherwise."""
        return self.handler.wait_for(count, timeout)

    def forget_messages(self) -> None:
        self.handler.forget_messages()

    # Faults, all answered by the server on the wire.

    def fail_next(self, count: int = 1, reply: str = "451 4.3.0 Try again later") -> None:
        """Answer ``reply`` at the end of DATA for the next ``count`` messages (not recorded)."""
        self.handler.fail_next(count, reply)

    def reject_sender(self, address: str, reply: str = "550 5.7.1 Sender address rejected") -> None:
        """Answer ``reply`` to every ``MAIL FROM:<address>`` until clear_faults()."""
        self.handler.reject_sender(address, reply)

    def reject_recipient(self, address: str, reply: str = "550 5.1.1 Recipient address rejected") -> None:
        """Answer ``reply`` to every ``RCPT TO:<address>`` until clear_faults()."""
        self.handler.reject_recipient(address, reply)

    def drop_connection_after(self, accepted: int) -> None:
        """Accept ``accepted`` more messages, then abort the TCP connection at the end of the next
        DATA without replying (once)."""
        self.handler.drop_connection_after(accepted)

    def rate_limit_reply(self, code: int = 421, after: int = 0, times: int | None = 1) -> None:
        """After ``after`` more accepted messages, answer MAIL FROM with
        ``"<code> 4.7.0 Too many messages, slow down"`` ``times`` times (None: until clear_faults()).
        With 421 the server closes the connection after the reply, as RFC 5321 requires."""
        self.handler.rate_limit_reply(code, after, times)

    def clear_faults(self) -> None:
        self.handler.clear_faults()
