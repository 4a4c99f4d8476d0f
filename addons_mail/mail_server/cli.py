"""``juniper mail``: outgoing servers, explain, send, the queue, DKIM and the DNS check."""
import mimetypes
import os

import click

from kernel.cli import command_group, json_option, pass_env, print_json, print_listing, read_secret
from kernel.errors import UserError

QUEUE_COLUMNS = ["id", "state", "email_from", "email_to", "subject", "attempts", "next_retry_at", "failure_type",
                 "failure_reason"]


def _read_file(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise UserError(f"Cannot read the {what} {path}: {exc.strerror}.") from None


def server_options(editing=False):
    """The options shared by `server add` and `server edit` (nothing required when editing)."""
    options = [
        click.option("--host", required=not editing, help="Host name or IP of the SMTP server."),
        click.option("--port", type=int, help="Port (default 465 for ssl, 587 for starttls, 25 for none)."),
        click.option("--encryption", type=click.Choice(["none", "starttls", "ssl"]),
                     default=None if editing else "starttls", show_default=not editing, help="Connection security."),
        click.option("--user", help="Login (the password is read from --password-env, --password-file or a prompt)."),
        click.option("--password-env", metavar="VAR", help="Read the password from this environment variable."),
        click.option("--password-file", metavar="FILE", type=click.Path(), help="Read the password from this file."),
        click.option("--from-filter", help="Comma-separated addresses and/or domains this server sends for."),
        click.option("--priority", type=int, help="Lower is used first (default 10)."),
        click.option("--verify-tls/--no-verify-tls", default=None, help="Verify the certificate (default: verify)."),
        click.option("--ca-file", type=click.Path(), help="PEM file of a private CA to trust."),
        click.option("--cert", "cert_file", type=click.Path(), help="Client certificate (PEM) for certificate login."),
        click.option("--key", "key_file", type=click.Path(), help="Private key (PEM) of the client certificate."),
        click.option("--timeout", type=int, help="Seconds to wait for the server (default 60)."),
        click.option("--max-per-minute", type=int, help="Send at most this many mails per minute through it."),
        click.option("--max-per-day", type=int, help="Send at most this many mails per UTC day through it."),
    ]

    def decorate(function):
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


def _server_values(options: dict, ask_password: bool) -> dict:
    values = {
        "host": options.get("host"), "port": options.get("port"), "encryption": options.get("encryption"),
        "user": options.get("user"), "from_filter": options.get("from_filter"), "priority": options.get("priority"),
        "verify_tls": options.get("verify_tls"), "ca_file": options.get("ca_file"), "timeout": options.get("timeout"),
        "max_per_minute": options.get("max_per_minute"), "max_per_day": options.get("max_per_day"),
    }
    if options.get("ca_file") and not os.path.isfile(options["ca_file"]):
        raise UserError(f"The CA file {options['ca_file']} does not exist.")
    if bool(options.get("cert_file")) != bool(options.get("key_file")):
        raise UserError("Certificate authentication needs both --cert and --key.")
    if options.get("cert_file"):
        values["certificate_pem"] = _read_file(options["cert_file"], "certificate file")
        values["private_key_pem"] = _read_file(options["key_file"], "key file")
        values["authentication"] = "certificate"
    password = read_secret("SMTP password", options.get("password_env"), options.get("password_file"),
                           required=ask_password and bool(options.get("user")))
    if password is not None:
        values["password"] = password
    return values


def _warn_tls(server) -> None:
    if not server.verify_tls:
        click.echo(f"Warning: TLS certificates of {server.name} are NOT verified.", err=True)


def register_mail_commands(cli: click.Group) -> None:
    mail = command_group(cli, "mail", help="Company email: servers, queue, gateway.")
    server = command_group(mail, "server", help="Outgoing mail servers.")
    queue = command_group(mail, "queue", help="The outgoing mail queue.")
    dkim_group = command_group(mail, "dkim", help="DKIM signing keys per domain.")

    @server.command("add")
    @click.argument("name")
    @server_options()
    @pass_env
    def server_add(env, name, **options):
        """Add an outgoing mail server."""
        from addons_mail.mail_server.servers import create_server

        values = _server_values(options, ask_password=True)
        if values["verify_tls"] is None:
            values.pop("verify_tls")
        with env.atomic():
            record = create_server(env, name, **values)
        _warn_tls(record)
        click.echo(f"Outgoing server {record.name} added ({record.host}:{record.port}, {record.encryption}).")

    @server.command("edit")
    @click.argument("name")
    @click.option("--name", "new_name", help="Rename the server.")
    @click.option("--active/--inactive", default=None, help="Use it or not.")
    @server_options(editing=True)
    @pass_env
    def server_edit(env, name, new_name, active, **options):
        """Change an outgoing mail server (only the options given)."""
        from addons_mail.mail_server.servers import find_server, update_server

        record = find_server(name)
        values = _server_values(options, ask_password=False)
        with env.atomic():
            update_server(env, record, active=active, **values)
            if new_name:
                record.name = new_name
                record.save()
        _warn_tls(record)
        click.echo(f"Outgoing server {record.name} updated.")

    @server.command("list")
    @click.option("--all", "show_all", is_flag=True, help="Include archived servers.")
    @json_option
    @pass_env
    def server_list(env, show_all, as_json):
        """Outgoing servers by priority (passwords are never shown)."""
        from addons_mail.mail_server.models import MailServer
        from addons_mail.mail_server.servers import server_row

        query = MailServer.select().order_by(MailServer.priority, MailServer.id)
        if not show_all:
            query = query.where(MailServer.active == True)  # noqa: E712
        rows = [server_row(s) for s in query]
        print_listing(rows, ["name", "host", "port", "encryption", "user", "from_filter", "priority", "active",
                             "verify_tls"], as_json, "No outgoing servers: the configured default server is used.")

    @server.command("archive")
    @click.argument("name")
    @pass_env
    def server_archive(env, name):
        """Stop using an outgoing server (kept for the record)."""
        from addons_mail.mail_server.servers import find_server

        record = find_server(name)
        record.active = False
        record.save()
        click.echo(f"Outgoing server {name} archived.")

    @server.command("test")
    @click.argument("name")
    @click.option("--to", "recipient", help="Recipient for RCPT TO (default: the test sender).")
    @json_option
    @pass_env
    def server_test(env, name, recipient, as_json):
        """Test Connection: log in, MAIL FROM, RCPT TO and DATA, then abort without sending."""
        from addons_mail.mail_server.connection_test import run_connection_test
        from addons_mail.mail_server.servers import find_server

        record = find_server(name)
        result = run_connection_test(env, record, recipient)
        if as_json:
            print_json({"ok": result.ok, "message": result.message, "sender": result.sender,
                        "recipient": result.recipient})
            if not result.ok:
                raise SystemExit(1)
            return
        if not result.ok:
            raise UserError(result.message)
        _warn_tls(record)
        click.echo(result.message)

    @mail.command("explain")
    @click.option("--from", "from_address", required=True, help="The From of the mail.")
    @click.option("--to", "to_address", help="A recipient (shown for reference).")
    @json_option
    @pass_env
    def explain(env, from_address, to_address, as_json):
        """Which server would send a mail From ADDRESS, why, and with which From and envelope sender."""
        from addons_mail.mail_server.server_choice import explain_sending

        result = explain_sending(env, from_address, to_address)
        if as_json:
            print_json(result)
            return
        click.echo(f"server:        {result['server'] or 'configured default server'} (step {result['step']})")
        click.echo(f"from_filter:   {result['from_filter'] or '(none: any address)'}")
        click.echo(f"header From:   {result['header_from']}"
                   + ("  (encapsulated)" if result["encapsulated"] else ""))
        click.echo(f"envelope from: {result['envelope_from']}" + ("  (tagged per mail)" if result["verp"] else ""))
        for warning in result["warnings"]:
            click.echo(f"Warning: {warning}", err=True)

    @mail.command("send")
    @click.option("--from", "email_from", required=True, help="From address.")
    @click.option("--to", "email_to", required=True, multiple=True, help="Recipient (repeatable).")
    @click.option("--cc", multiple=True, help="Copy recipient (repeatable).")
    @click.option("--subject", required=True)
    @click.option("--body", help="Plain-text body.")
    @click.option("--html", "html_file", type=click.Path(), help="File with the HTML body.")
    @click.option("--attach", multiple=True, type=click.Path(), help="File to attach (repeatable).")
    @click.option("--later", is_flag=True, help="Only queue it; the scheduled action sends it.")
    @pass_env
    def send(env, email_from, email_to, cc, subject, body, html_file, attach, later):
        """Queue one mail (sent right after it is stored) and print its id."""
        from addons_mail.mail_server.api import queue_mail
        from addons_mail.mail_server.models import OutgoingMail

        if bool(body) == bool(html_file):
            raise UserError("Give the body with exactly one of --body TEXT or --html FILE.")
        attachments = []
        for path in attach:
            try:
                with open(path, "rb") as handle:
                    data = handle.read()
            except OSError as exc:
                raise UserError(f"Cannot read the attachment {path}: {exc.strerror}.") from None
            attachments.append((os.path.basename(path), data, mimetypes.guess_type(path)[0]))
        with env.atomic():
            mail = queue_mail(env, email_from=email_from, email_to=list(email_to), email_cc=list(cc),
                              subject=subject, body_html=_read_file(html_file, "HTML file") if html_file else None,
                              body_text=body, attachments=attachments, origin="cli", auto_delete=False,
                              send_now=not later)
        click.echo(mail.id)
        mail = OutgoingMail.get_by_id(mail.id)
        if mail.state != "sent" and not later:
            click.echo(f"Not sent yet ({mail.state}): {mail.failure_reason or 'waiting in the queue'}", err=True)

    @queue.command("list")
    @click.option("--state", type=click.Choice(["outgoing", "sending", "sent", "exception", "cancel"]))
    @click.option("--limit", type=int, default=100, show_default=True)
    @json_option
    @pass_env
    def queue_list(env, state, limit, as_json):
        """Mails in the queue, newest first."""
        from addons_mail.mail_server.models import OutgoingMail

        query = OutgoingMail.select().order_by(OutgoingMail.id.desc()).limit(limit)
        if state:
            query = query.where(OutgoingMail.state == state)
        rows = [{"id": m.id, "state": m.state, "email_from": m.email_from, "email_to": m.email_to,
                 "email_cc": m.email_cc, "subject": m.subject, "message_id": m.message_id, "attempts": m.attempts,
                 "next_retry_at": m.next_retry_at, "sent_at": m.sent_at, "failure_type": m.failure_type,
                 "failure_reason": m.failure_reason, "recipient_failures": m.recipient_failures,
                 "origin": m.origin, "server": m.server.name if m.server_id else None} for m in query]
        print_listing(rows, QUEUE_COLUMNS, as_json, "The queue is empty.")

    @queue.command("process")
    @click.option("--limit", type=int, help="Send at most this many mails.")
    @pass_env
    def queue_process(env, limit):
        """Send the due mails now."""
        from addons_mail.mail_server.queue import process_queue

        click.echo(str(process_queue(env, limit=limit)).capitalize() + ".")

    @queue.command("retry")
    @click.argument("mail_id", type=int)
    @pass_env
    def queue_retry(env, mail_id):
        """Put a failed or cancelled mail back in the queue, due now."""
        from addons_mail.mail_server.models import OutgoingMail

        mail = _get_mail(mail_id)
        if mail.state not in ("exception", "cancel", "outgoing"):
            raise UserError(f"Mail {mail_id} is {mail.state}; only failed, cancelled or waiting mails are retried.")
        OutgoingMail.update(state="outgoing", next_retry_at=env.clock.now(), attempts=0, failure_type=None,
                            failure_reason=None).where(OutgoingMail.id == mail_id).execute()
        click.echo(f"Mail {mail_id} is queued again.")

    @queue.command("cancel")
    @click.argument("mail_id", type=int)
    @pass_env
    def queue_cancel(env, mail_id):
        """Cancel a mail that was not sent yet."""
        from addons_mail.mail_server.models import OutgoingMail

        mail = _get_mail(mail_id)
        updated = (OutgoingMail.update(state="cancel")
                   .where(OutgoingMail.id == mail_id, OutgoingMail.state.in_(["outgoing", "exception"])).execute())
        if not updated:
            raise UserError(f"Mail {mail_id} is {mail.state} and cannot be cancelled.")
        click.echo(f"Mail {mail_id} cancelled.")

    @dkim_group.command("setup")
    @click.argument("domain")
    @click.option("--selector", required=True, help="DKIM selector, e.g. juniper1.")
    @click.option("--key-file", type=click.Path(), help="Use this PEM private key instead of generating one.")
    @click.option("--bits", type=int, default=2048, show_default=True, help="Size of a generated key.")
    @pass_env
    def dkim_setup(env, domain, selector, key_file, bits):
        """Configure DKIM signing for DOMAIN and print the DNS TXT record to publish."""
        from addons_mail.mail_server.dkim_keys import setup_dkim

        record = setup_dkim(env, domain, selector, _read_file(key_file, "key file") if key_file else None, bits)
        click.echo(f"Mails From @{record['domain']} are now DKIM-signed with selector {record['selector']}.")
        click.echo("Publish this DNS record:")
        click.echo(record["dns_record"])

    @dkim_group.command("list")
    @json_option
    @pass_env
    def dkim_list(env, as_json):
        """Domains with a DKIM key (private keys are never shown)."""
        from addons_mail.mail_server.models import DkimKey

        rows = [{"domain": k.domain, "selector": k.selector, "public_txt": k.public_txt, "created_at": k.created_at}
                for k in DkimKey.select().order_by(DkimKey.domain)]
        print_listing(rows, ["domain", "selector", "created_at"], as_json, "No DKIM keys.")

    @mail.command("dns-check")
    @click.argument("domain")
    @click.option("--selector", help="DKIM selector to check (default: the configured one for DOMAIN).")
    @click.option("--nameserver", metavar="HOST:PORT", help="Ask this DNS server (default $JUNIPER_DNS_NAMESERVER "
                                                           "or the system resolver).")
    @json_option
    @pass_env
    def dns_check(env, domain, selector, nameserver, as_json):
        """Check SPF, DKIM, DMARC and MX of DOMAIN; exit 1 when something is an error."""
        from addons_mail.mail_server.dkim_keys import check_domain_dns
        from addons_mail.mail_server.dns_check import format_report

        report, warnings = check_domain_dns(env, domain, selector, nameserver)
        if as_json:
            data = report.to_dict()
            data["warnings"] = warnings
            print_json(data)
        else:
            for warning in warnings:
                click.echo(f"Warning: {warning}", err=True)
            click.echo(format_report(report))
        if report.has_errors:
            raise SystemExit(1)


def _get_mail(mail_id: int):
    from addons_mail.mail_server.models import OutgoingMail

    mail = OutgoingMail.get_or_none(OutgoingMail.id == mail_id)
    if mail is None:
        raise UserError(f"No outgoing mail with id {mail_id}.", hint="See `juniper mail queue list`.")
    return mail
