"""The unsubscribe endpoints, served by ``juniper web`` (stdlib wsgiref, one thread per request).

``/mail/unsubscribe/<token>``:

* ``GET`` shows a confirmation page with a button, and changes nothing: link scanners and mail
  previews that follow links unsubscribe nobody;
* ``POST`` unsubscribes: the RFC 8058 one-click request a mail client sends
  (``List-Unsubscribe=One-Click`` as the body), or the page's button;
* a forged or unknown token gets a 403 page.
"""
import html
import logging
import socketserver
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from addons_mail.mass_mailing.unsubscribe import describe_token, unsubscribe

log = logging.getLogger("juniper.web")

UNSUBSCRIBE_PREFIX = "/mail/unsubscribe/"
MAX_BODY_BYTES = 4096

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="robots" content="noindex"><title>{title}</title></head>
<body style="font-family:sans-serif;max-width:32em;margin:3em auto">
<h1>{title}</h1>
{body}
</body></html>
"""


def _page(start_response, status: str, title: str, body: str) -> list[bytes]:
    content = PAGE.format(title=html.escape(title), body=body).encode("utf-8")
    start_response(status, [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(content))),
                            ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"),
                            ("Referrer-Policy", "no-referrer")])
    return [content]


def _forbidden(start_response) -> list[bytes]:
    return _page(start_response, "403 Forbidden", "This link is not valid",
                 "<p>This unsubscribe link is not valid. Please use the link of the email you received.</p>")


class UnsubscribeApp:
    """The WSGI application for one environment."""

    def __init__(self, env):
        self.env = env
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        try:
            return self.respond(environ, start_response)
        finally:
            if not self.env.db.is_closed():
                self.env.db.close()  # each request runs in its own thread, with its own connection

    def respond(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if not path.startswith(UNSUBSCRIBE_PREFIX):
            return _page(start_response, "404 Not Found", "Not found", "<p>There is nothing here.</p>")
        token = path[len(UNSUBSCRIBE_PREFIX):].strip("/")
        if method in ("GET", "HEAD"):
            return self.confirmation_page(token, start_response)
        if method == "POST":
            self._read_body(environ)
            return self.one_click(token, start_response)
        start_response("405 Method Not Allowed", [("Allow", "GET, POST"), ("Content-Length", "0")])
        return [b""]

    @staticmethod
    def _read_body(environ) -> bytes:
        try:
            length = min(int(environ.get("CONTENT_LENGTH") or 0), MAX_BODY_BYTES)
        except ValueError:
            length = 0
        return environ["wsgi.input"].read(length) if length > 0 else b""

    def confirmation_page(self, token: str, start_response) -> list[bytes]:
        with self._lock:
            found = describe_token(self.env, token)
        if found is None:
            return _forbidden(start_response)
        mailing, contact = found
        what = (f"the list <strong>{html.escape(mailing.mailing_list.name)}</strong>" if mailing.mailing_list_id
                else "our mailings")
        body = (f"<p>Unsubscribe <strong>{html.escape(contact.email_normalized or '')}</strong> from {what}?</p>"
                f'<form method="post" action="{html.escape(UNSUBSCRIBE_PREFIX + token)}">'
                '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
                '<button type="submit">Unsubscribe</button></form>')
        return _page(start_response, "200 OK", "Unsubscribe", body)

    def one_click(self, token: str, start_response) -> list[bytes]:
        with self._lock:
            done = unsubscribe(self.env, token, "one-click")
        if done is None:
            return _forbidden(start_response)
        log.info("%s unsubscribed from mailing %s", done.email, done.mailing_id)
        what = f"the list {html.escape(done.list_name)}" if done.list_name else "our mailings"
        return _page(start_response, "200 OK", "You are unsubscribed",
                     f"<p>{html.escape(done.email)} will receive no more emails from {what}.</p>")


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the signature of BaseHTTPRequestHandler
        log.info("%s - %s", self.address_string(), format % args)


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


def make_web_server(env, host: str = "127.0.0.1", port: int = 8069) -> ThreadingWSGIServer:
    """A threaded WSGI server of :class:`UnsubscribeApp` (``serve_forever()`` to run it)."""
    return make_server(host, port, UnsubscribeApp(env), server_class=ThreadingWSGIServer,
                       handler_class=_QuietHandler)
