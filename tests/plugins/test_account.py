"""The account plugin: invoices numbered per year, and `juniper account invoice add|list`."""
import json


def test_invoices_are_numbered_per_year(env, install, clock):
    install(env, "account")
    from plugins.account.models import create_invoice

    year = clock.now().year
    first = create_invoice(env, "mary@customer.example", "100")
    second = create_invoice(env, "mary@customer.example", "200")
    clock.advance(days=366)
    next_year = create_invoice(env, "mary@customer.example", "300")
    assert (first.name, second.name) == (f"INV/{year}/0001", f"INV/{year}/0002")
    assert next_year.name == f"INV/{year + 1}/0001"
    assert next_year.invoice_date.year == year + 1


def test_an_invoice_is_a_thread_followed_by_its_customer(env, install):
    install(env, "account")
    from addons_mail.chatter.thread import followers_of
    from plugins.account.models import create_invoice

    invoice = create_invoice(env, "Mary Major <mary@customer.example>", "100", followers=["acc@mycompany.example"])
    assert sorted(f.contact.email for f in followers_of(invoice)) == ["acc@mycompany.example",
                                                                       "mary@customer.example"]


def test_cli_adds_and_lists_invoices(env, install, juniper, clock):
    install(env, "account")
    result = juniper("account", "invoice", "add", "mary@customer.example", "--amount", "75.5")
    assert result.exit_code == 0, result.output
    number = f"INV/{clock.now().year}/0001"
    assert result.output.strip() == f"Created invoice {number} for mary: 75.50"
    rows = json.loads(juniper("account", "invoice", "list", "--json").output)
    assert [(r["name"], r["amount"], r["state"]) for r in rows] == [(number, "75.50", "draft")]
    assert number in juniper("account", "invoice", "list").output
