"""Opening an SMTP session to an outgoing server, and the one table that turns low-level failures
into sentences an administrator can act on (SPEC §2.1)."""
import os
import smtplib
import socket
import ssl
import tempfile

from addons_mail.mail_server.models import DEFAULT_PORTS, MailServer

_LOCAL_HOSTNAME = socket.gethostname() or "localhost"

NO_RESPONSE = "No response received. Check server address and port number."
SSL_MISMATCH = "An SSL exception occurred. Check connection security type."


def default_server(env) -> MailServer:
    """The configured default server (an unsaved record built from the ``mail.smtp.*`` parameters)."""
    encryption = (env.params.get("mail.smtp.encryption") or "none").lower()
    return MailServer(
        name="default server", host=env.params.get("mail.smtp.host") or "localhost",
        port=env.params.get("mail.smtp.port") or DEFAULT_PORTS.get(encryption, 25), encryption=encryption,
        user=env.params.get("mail.smtp.user"), password=env.params.get("mail.smtp.password"),
        from_filter=env.params.get("mail.default.from_filter"), priority=0, active=True, verify_tls=True,
        timeout=60,
    )


def _reply_text(code, message) -> str:
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    return f"{code} {' '.join(str(message).split())}".strip()


def _recipients_refused(exc, server, context):
    parts = [f"{address} ({_reply_text(code, text)})" for address, (code, text) in exc.recipients.items()]
    return (f"The server {server.host} refused the recipient {', '.join(parts)}. "
            "Check the recipient address, or ask the server's administrator to allow relaying to it.")


#: (exception class, sentence) in order: the first class the exception is an instance of wins.
#: A sentence is a format string (``server``, ``exc``, ``context``) or a function of them.
FAILURE_SENTENCES = [
    (smtplib.SMTPAuthenticationError,
     lambda exc, server, context: f"Authentication failed: {server.host} refused the login "
                                  f"{server.user or ''!s} ({_reply_text(exc.smtp_code, exc.smtp_error)}). "
                                  "Check the user name and password."),
    (smtplib.SMTPSenderRefused,
     lambda exc, server, context: f"The server {server.host} refused the sender {exc.sender} "
                                  f"({_reply_text(exc.smtp_code, exc.smtp_error)}). Check the from_filter and "
                                  "that this server may send for that address."),
    (smtplib.SMTPRecipientsRefused, _recipients_refused),
    (smtplib.SMTPDataError,
     lambda exc, server, context: f"The server {server.host} refused the message data "
                                  f"({_reply_text(exc.smtp_code, exc.smtp_error)})."),
    (smtplib.SMTPNotSupportedError,
     lambda exc, server, context: f"The server {server.host} does not support {context.get('feature', 'it')}: "
                                  f"{exc}. Check the connection security type and authentication."),
    (smtplib.SMTPServerDisconnected,
     lambda exc, server, context: f"The server {server.host} closed the connection unexpectedly. "
                                  "Check connection security type and port number."),
    (smtplib.SMTPResponseException,
     lambda exc, server, context: f"The server {server.host} answered "
                                  f"{_reply_text(exc.smtp_code, exc.smtp_error)}."),
    (ssl.SSLCertVerificationError,
     lambda exc, server, context: f"The certificate of {server.host} could not be verified "
                                  f"({exc.verify_message or exc.reason}). Give the CA file of a private "
                                  "authority, or check the host name."),
    (ssl.SSLError, lambda exc, server, context: SSL_MISMATCH),
    (socket.gaierror, lambda exc, server, context: NO_RESPONSE),
    (TimeoutError, lambda exc, server, context: NO_RESPONSE),
    (ConnectionRefusedError, lambda exc, server, context: NO_RESPONSE),
    (ConnectionError,
     lambda exc, server, context: f"The connection to {server.host} was lost ({exc.strerror or exc}). "
                                  "Check connection security type and port number."),
    (OSError, lambda exc, server, context: NO_RESPONSE),
    (smtplib.SMTPException, lambda exc, server, context: f"SMTP error with {server.host}: {exc}."),
]


def describe_failure(exc: BaseException, server: MailServer, **context) -> str:
    """The sentence of FAILURE_SENTENCES for ``exc``."""
    for kind, sentence in FAILURE_SENTENCES:
        if isinstance(exc, kind):
            return sentence(exc, server, context)
    return f"Unexpected error while talking to {server.host}: {exc.__class__.__name__}: {exc}."


def tls_context(server: MailServer) -> ssl.SSLContext:
    """Verify certificate and host name unless the server says not to; trust ``ca_file`` when given."""
    if server.verify_tls:
        context = ssl.create_default_context(cafile=server.ca_file or None)
    else:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if server.authentication == "certificate" and server.certificate_pem and server.private_key_pem:
        _load_client_certificate(context, server.certificate_pem, server.private_key_pem)
    return context


def _load_client_certificate(context: ssl.SSLContext, certificate_pem: str, key_pem: str) -> None:
    # ssl only loads certificates from files: write them to private temporary files, then remove them.
    with tempfile.TemporaryDirectory(prefix="juniper-cert-") as folder:
        cert_path, key_path = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
        for path, text in ((cert_path, certificate_pem), (key_path, key_pem)):
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(text)
        context.load_cert_chain(cert_path, key_path)


def open_smtp_session(server: MailServer, timeout: float | None = None) -> smtplib.SMTP:
    """Connect, negotiate TLS as configured and log in; raises the low-level exception on failure."""
    timeout = timeout or server.timeout or 60
    if server.encryption == "ssl":
        session = smtplib.SMTP_SSL(server.host, server.port, local_hostname=_LOCAL_HOSTNAME, timeout=timeout,
                                   context=tls_context(server))
    else:
        session = smtplib.SMTP(server.host, server.port, local_hostname=_LOCAL_HOSTNAME, timeout=timeout)
    try:
        session.ehlo()
        if server.encryption == "starttls":
            if not session.has_extn("starttls"):
                raise smtplib.SMTPNotSupportedError("the server does not offer STARTTLS")
            session.starttls(context=tls_context(server))
            session.ehlo()
        if server.authentication == "login" and server.user and server.password:
            session.login(server.user, server.password)
    except BaseException:
        close_quietly(session)
        raise
    return session


def close_quietly(session: smtplib.SMTP | None) -> None:
    if session is None:
        return
    try:
        session.quit()
    except (smtplib.SMTPException, OSError):
        session.close()
