"""The blacklist, by hand and by the automatic rule of SPEC §6 fed by bounces through the gateway."""
import datetime

import pytest

from addons_mail.mass_mailing.blacklist import add_to_blacklist, is_blacklisted, remove_from_blacklist
from addons_mail.mass_mailing.models import BlacklistEntry, MailingNote
from kernel.errors import UserError
from tests.mass_mailing.conftest import add_contacts
from tests.mass_mailing.dsn import deliver_to_gateway, make_dsn


def notes_of_entry(email):
    entry = BlacklistEntry.get(BlacklistEntry.email == email)
    return [note.body for note in MailingNote.select().where(MailingNote.entry == entry).order_by(MailingNote.id)]


def notes_of_contact(contact):
    return [note.body for note in MailingNote.select().where(MailingNote.contact == contact.id)]


def test_add_and_remove_keep_a_log_with_the_reasons(mailing_env):
    add_to_blacklist(mailing_env, '"Mary" <Mary@Customer.Example>', "asked by phone")
    assert is_blacklisted("mary@customer.example")
    remove_from_blacklist(mailing_env, "MARY@customer.example", "signed up again")
    assert not is_blacklisted("mary@customer.example")
    assert notes_of_entry("mary@customer.example") == ["Blacklisted: asked by phone",
                                                       "Removed from the blacklist: signed up again"]


def test_bad_input_is_one_clear_sentence(mailing_env):
    with pytest.raises(UserError, match="is not an email address"):
        add_to_blacklist(mailing_env, "not-an-address", "x")
    with pytest.raises(UserError, match="A reason is required"):
        add_to_blacklist(mailing_env, "a@example.org", " ")
    with pytest.raises(UserError, match="is not blacklisted"):
        remove_from_blacklist(mailing_env, "nobody@example.org", "x")


def bounce(env, clock, email, status, number):
    result = deliver_to_gateway(env, make_dsn(to="bounce@example.com", failed=email, status=status,
                                              dsn_id=f"dsn-{number}-{clock.now():%s}"))
    assert result["route"] == "bounce", result


def test_five_hard_bounces_spread_over_more_than_a_week_blacklist_the_address(mailing_env, clock):
    (contact,) = add_contacts([("Gone", "gone@customer.example")])
    start = clock.now()
    for number in range(5):
        bounce(mailing_env, clock, "gone@customer.example", "5.1.1", number)
        if number == 3:
            assert not is_blacklisted("gone@customer.example")  # four are not enough
        clock.advance(days=2)
    assert is_blacklisted("gone@customer.example")
    first, last = start, start + datetime.timedelta(days=8)
    expected = f"added automatically: 5 bounces between {first:%Y-%m-%d %H:%M} and {last:%Y-%m-%d %H:%M}"
    assert notes_of_entry("gone@customer.example") == [expected]
    assert notes_of_contact(contact) == [expected]


def test_five_hard_bounces_within_one_day_blacklist_nobody(mailing_env, clock):
    for number in range(5):
        bounce(mailing_env, clock, "busy@customer.example", "5.1.1", number)
        clock.advance(hours=4)
    assert not is_blacklisted("busy@customer.example")


def test_soft_bounces_never_count(mailing_env, clock):
    for number in range(6):
        bounce(mailing_env, clock, "full@customer.example", "5.2.2", number)
        clock.advance(days=2)
    assert not is_blacklisted("full@customer.example")


def test_bounces_older_than_a_month_are_forgotten(mailing_env, clock):
    for number in range(4):
        bounce(mailing_env, clock, "old@customer.example", "5.1.1", number)
        clock.advance(days=3)
    clock.advance(days=30)
    bounce(mailing_env, clock, "old@customer.example", "5.1.1", 9)
    assert not is_blacklisted("old@customer.example")
