"""One table from low-level connection errors to the sentence an administrator reads.

Each row is (phase, exception type, predicate on the error text, sentence template). The first row
whose phase (or ``*``) and type match wins. Templates see ``host``, ``port``, ``user``, ``folder``,
``timeout``, ``detail`` (the library's own words) and ``hint_tls`` (advice on the SSL setting).
"""
import imaplib
import poplib
import socket
import ssl

from kernel.errors import UserError


class MailboxError(UserError):
    """Connecting to, logging in to or reading an incoming mail server failed."""


class FolderMissing(Exception):
    """The IMAP server answered NO to SELECT."""


class ServerRefused(Exception):
    """The server answered a command with an error status (detail in the message)."""


PROTOCOL_ERRORS = (imaplib.IMAP4.error, poplib.error_proto, ServerRefused)


def _matches(*words):
    return lambda text: any(word in text for word in words)


def _always(_text):
    return True


ERROR_SENTENCES = [
    ("*", socket.gaierror, _always,
     "Cannot resolve the host name {host}; check the host name and this machine's DNS."),
    ("*", ssl.SSLCertVerificationError, _always,
     "The TLS certificate of {host} cannot be trusted ({detail}); check the host name, or give the "
     "server's CA with --ca-file."),
    ("*", ssl.SSLError, _matches("WRONG_VERSION_NUMBER", "record layer", "UNEXPECTED_EOF", "EOF occurred",
                                 "PACKET_LENGTH", "unknown protocol", "HTTP_REQUEST"),
     "TLS failed with {host}:{port}: the port does not speak TLS the way this server is configured "
     "({detail}); {hint_tls}"),
    ("*", ssl.SSLError, _always,
     "TLS failed with {host}:{port} ({detail}); {hint_tls}"),
    ("connect", TimeoutError, _always,
     "No greeting from {host}:{port} within {timeout} s; check the host and port, and {hint_tls}"),
    ("connect", ConnectionRefusedError, _always,
     "Nothing accepts connections on {host}:{port}; check the host and port, and that the mail "
     "server is running."),
    ("*", TimeoutError, _always,
     "{host}:{port} stopped answering for {timeout} s; the next run will try again."),
    ("*", (ConnectionError, EOFError, imaplib.IMAP4.abort), _always,
     "The connection to {host}:{port} was lost ({detail}); the next run will try again."),
    ("*", poplib.error_proto, _matches("-ERR EOF"),
     "The connection to {host}:{port} was lost ({detail}); the next run will try again."),
    ("starttls", PROTOCOL_ERRORS, _always,
     "{host}:{port} refused STARTTLS ({detail}); turn STARTTLS off or use the SSL port."),
    ("login", PROTOCOL_ERRORS,
     _matches("AUTHENTICATIONFAILED", "authentication", "Authentication", "LOGIN", "credentials", "password",
              "[AUTH]", "-ERR"),
     "Authentication failed for user {user} on {host}: the server refused the user name or password; "
     "check them."),
    ("select", FolderMissing, _always,
     "The folder {folder!r} does not exist on {host}; check its name (INBOX is the usual one)."),
    ("*", PROTOCOL_ERRORS, _always,
     "{host}:{port} answered with an error ({detail}); check the server settings."),
    ("*", OSError, _always,
     "Cannot talk to {host}:{port} ({detail}); check the host, port and network."),
]


def describe_connection_error(error: BaseException, server, phase: str) -> str:
    """The sentence for ``error`` raised while ``phase`` (connect, starttls, login, select, fetch,
    acknowledge) on ``server``; the library's message is kept in parentheses."""
    words = [a.decode(errors="replace") if isinstance(a, (bytes, bytearray)) else str(a) for a in error.args]
    if isinstance(error, OSError) and error.strerror:
        words = [getattr(error, "verify_message", None) or error.strerror]
    detail = " ".join(" ".join(words).split()) or type(error).__name__
    if server.ssl:
        hint_tls = "check that SSL is right for this port (IMAPS 993, POP3S 995 speak TLS at once)."
    else:
        hint_tls = "if this port speaks TLS at once (IMAPS 993, POP3S 995), turn SSL on."
    values = {
        "host": server.host, "port": server.effective_port, "user": server.user, "folder": server.folder,
        "timeout": server.timeout, "detail": detail.rstrip("."), "hint_tls": hint_tls,
    }
    for row_phase, kinds, predicate, template in ERROR_SENTENCES:
        if row_phase in ("*", phase) and isinstance(error, kinds) and predicate(detail):
            return template.format(**values)
    return f"Unexpected error with {server.host}:{server.effective_port} while {phase}: {detail}."
