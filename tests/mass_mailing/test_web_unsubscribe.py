"""One-click unsubscribe (RFC 8058) against `juniper web`, with a real HTTP client."""
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from addons_mail.mass_mailing.blacklist import is_blacklisted
from addons_mail.mass_mailing.mailings import create_mailing
from addons_mail.mass_mailing.models import MailingList, MailingListMember
from addons_mail.mass_mailing.recipients import add_list_members
from addons_mail.mass_mailing.unsubscribe_tokens import make_unsubscribe_token
from addons_mail.mass_mailing.web import make_web_server
from tests.mass_mailing.conftest import BODY, add_contacts
from tests.peers.ports import free_port, wait_until_accepting


@pytest.fixture
def web_base(mailing_env):
    server = make_web_server(mailing_env, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def http(method, url, data=None):
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def list_mailing(mailing_env):
    ada, bob = add_contacts([("Ada", "ada@customer.example"), ("Bob", "bob@customer.example")])
    news = MailingList.create(name="News")
    add_list_members(news, "email~customer.example")
    mailing = create_mailing(mailing_env, subject="News", email_from="news@example.com", body_template=BODY,
                             list_name="News")
    return mailing, ada, bob


def opted_out(contact):
    return MailingListMember.get(MailingListMember.contact == contact.id).opt_out


def test_get_shows_a_button_and_unsubscribes_nobody(mailing_env, web_base, list_mailing):
    mailing, ada, _bob = list_mailing
    token = make_unsubscribe_token(mailing_env, mailing.id, ada.id)
    for _ in range(3):  # a link scanner following the link, twice, and a preview
        status, page = http("GET", f"{web_base}/mail/unsubscribe/{token}")
        assert status == 200
    assert '<form method="post"' in page and "<button" in page and "ada@customer.example" in page
    assert not opted_out(ada)


def test_one_click_post_unsubscribes_from_the_list(mailing_env, web_base, list_mailing):
    mailing, ada, bob = list_mailing
    token = make_unsubscribe_token(mailing_env, mailing.id, ada.id)
    status, page = http("POST", f"{web_base}/mail/unsubscribe/{token}", b"List-Unsubscribe=One-Click")
    assert status == 200 and "You are unsubscribed" in page
    assert opted_out(ada) and not opted_out(bob)
    status, _page = http("POST", f"{web_base}/mail/unsubscribe/{token}", b"List-Unsubscribe=One-Click")
    assert status == 200  # a second click is harmless


def test_a_forged_token_is_refused(mailing_env, web_base, list_mailing):
    mailing, ada, bob = list_mailing
    genuine = make_unsubscribe_token(mailing_env, mailing.id, ada.id)
    forged = f"{mailing.id}-{bob.id}-{genuine.rsplit('-', 1)[1]}"  # Ada's signature on Bob's id
    for method, data in (("POST", b"List-Unsubscribe=One-Click"), ("GET", None)):
        status, page = http(method, f"{web_base}/mail/unsubscribe/{forged}", data)
        assert status == 403 and "not valid" in page
    assert not opted_out(bob)
    assert http("GET", f"{web_base}/elsewhere")[0] == 404


def test_one_click_on_a_contacts_mailing_blacklists_the_address(mailing_env, web_base):
    (carl,) = add_contacts([("Carl", "carl@customer.example")])
    mailing = create_mailing(mailing_env, subject="News", email_from="news@example.com", body_template=BODY,
                             contacts_query="email~carl")
    token = make_unsubscribe_token(mailing_env, mailing.id, carl.id)
    assert http("POST", f"{web_base}/mail/unsubscribe/{token}", b"List-Unsubscribe=One-Click")[0] == 200
    assert is_blacklisted("carl@customer.example")


def test_juniper_web_command_serves_the_endpoints(mailing_env, db_url, list_mailing):
    mailing, ada, _bob = list_mailing
    token = make_unsubscribe_token(mailing_env, mailing.id, ada.id)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", "from kernel.cli import main; main()", "--db", db_url, "web", "--port", str(port)],
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_until_accepting("127.0.0.1", port, 15)
        base = f"http://127.0.0.1:{port}"
        assert http("GET", f"{base}/mail/unsubscribe/{token}")[0] == 200
        assert not opted_out(ada)
        assert http("POST", f"{base}/mail/unsubscribe/{token}", b"List-Unsubscribe=One-Click")[0] == 200
        deadline = time.monotonic() + 5
        while not opted_out(ada) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert opted_out(ada)
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()


def test_plugins_hear_of_an_unsubscription_once(mailing_env, web_base, list_mailing):
    from kernel import hookimpl

    heard = []

    class Listener:
        @hookimpl
        def after_mailing_unsubscribed(self, env, unsubscription):
            heard.append((unsubscription.email, unsubscription.list_name, unsubscription.channel))

    mailing, ada, _bob = list_mailing
    mailing_env.pm.register(Listener(), name="listener")
    try:
        token = make_unsubscribe_token(mailing_env, mailing.id, ada.id)
        for _ in range(2):
            http("POST", f"{web_base}/mail/unsubscribe/{token}", b"List-Unsubscribe=One-Click")
    finally:
        mailing_env.pm.unregister(name="listener")
    assert heard == [("ada@customer.example", "News", "one-click")]
