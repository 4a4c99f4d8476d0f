"""Unsubscribe tokens are HMACs with the database secret."""
from addons_mail.mass_mailing.unsubscribe_tokens import (
    make_unsubscribe_token,
    read_unsubscribe_token,
    token_from_mailto,
)


def test_a_token_names_its_mailing_and_contact(env):
    token = make_unsubscribe_token(env, 12, 345)
    assert read_unsubscribe_token(env, token) == (12, 345)
    assert read_unsubscribe_token(env, token.upper()) == (12, 345)  # mail systems may change the case
    assert len("unsubscribe+" + token) <= 64  # fits in an address local part


def test_forged_and_altered_tokens_are_refused(env):
    token = make_unsubscribe_token(env, 12, 345)
    signature = token.rsplit("-", 1)[1]
    assert read_unsubscribe_token(env, f"12-346-{signature}") is None
    assert read_unsubscribe_token(env, token[:-1] + ("0" if token[-1] != "0" else "1")) is None
    assert read_unsubscribe_token(env, "12-345-" + "0" * 32) is None
    assert read_unsubscribe_token(env, "garbage") is None
    env.params.set("database.secret", "another database")
    assert read_unsubscribe_token(env, token) is None


def test_the_mailto_token_is_found_only_on_the_alias_domain():
    assert token_from_mailto("unsubscribe+1-2-abc@example.com", "example.com") == "1-2-abc"
    assert token_from_mailto("unsubscribe+1-2-abc@other.com", "example.com") is None
    assert token_from_mailto("news@example.com", "example.com") is None
