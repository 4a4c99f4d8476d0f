"""The sale plugin: numbered orders for customers, and `juniper sale order add|list`."""
import decimal
import json

import pytest

from kernel.errors import UserError


def test_orders_are_numbered_in_sequence_and_followed_by_the_customer(env, install):
    install(env, "sale")
    from addons_mail.chatter.thread import followers_of
    from plugins.sale.models import create_order

    first = create_order(env, "Mary Major <mary@customer.example>", "1,250.5")
    second = create_order(env, "mary@customer.example", 99, followers=["bob@mycompany.example"])
    assert (first.name, second.name) == ("SO0001", "SO0002")
    assert first.amount == decimal.Decimal("1250.50")
    assert first.state == "draft"
    assert second.customer_id == first.customer_id
    assert sorted(f.contact.email for f in followers_of(second)) == ["bob@mycompany.example",
                                                                      "mary@customer.example"]


def test_an_order_is_a_thread(env, install):
    install(env, "sale")
    from addons_mail.chatter.thread import messages_of
    from plugins.sale.models import create_order

    order = create_order(env, "mary@customer.example", 10)
    order.message_post(env, "Delivery next week.", subtype="note")
    assert [m.body_html for m in messages_of(order)] == ["Delivery next week."]


@pytest.mark.parametrize("amount", ["ten", "-5", "NaN"])
def test_a_bad_amount_is_refused(env, install, amount):
    install(env, "sale")
    from plugins.sale.models import create_order

    with pytest.raises(UserError, match="is not an amount"):
        create_order(env, "mary@customer.example", amount)


def test_cli_adds_and_lists_orders(env, install, juniper):
    install(env, "sale")
    result = juniper("sale", "order", "add", "Mary Major <mary@customer.example>", "--amount", "420")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Created sales order SO0001 for Mary Major: 420.00"
    assert "SO0001" in juniper("sale", "order", "list").output
    rows = json.loads(juniper("sale", "order", "list", "--json").output)
    assert [(r["name"], r["customer_email"], r["amount"], r["state"]) for r in rows] == [
        ("SO0001", "mary@customer.example", "420.00", "draft")]


def test_cli_refuses_a_bad_amount_in_one_sentence(env, install, juniper):
    install(env, "sale")
    result = juniper("sale", "order", "add", "mary@customer.example", "--amount", "lots")
    assert result.exit_code == 1
    assert result.output.strip() == "Error: 'lots' is not an amount. Write it like 1250.50."
