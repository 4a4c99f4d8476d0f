"""DKIM keys per sending domain (stored in ``DkimKey``) and the DNS check of a domain with this
database's servers and selector."""
from addons_mail.mail_server.dkim_signing import DkimKey as GeneratedKey
from addons_mail.mail_server.dkim_signing import DkimSigner, dns_record, generate_dkim_key
from addons_mail.mail_server.models import DkimKey, MailServer
from kernel.errors import UserError


def _public_txt_of(private_pem: bytes) -> str:
    import base64

    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(private_pem, password=None)
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode("ascii")


def setup_dkim(env, domain: str, selector: str, private_pem: str | None = None, bits: int = 2048) -> dict:
    """Store (or replace) the DKIM key of ``domain``; generate one unless ``private_pem`` is given.

    Returns the domain, selector and the DNS record line to publish.
    """
    try:
        if private_pem:
            pem = private_pem.encode("ascii")
            signer = DkimSigner(domain, selector, pem)
            key = GeneratedKey(private_pem=pem, public_txt=_public_txt_of(pem))
        else:
            key = generate_dkim_key(bits)
            signer = DkimSigner(domain, selector, key.private_pem)
        record = dns_record(signer.domain, signer.selector, key)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    with env.atomic():
        (DkimKey.insert(domain=signer.domain, selector=signer.selector, private_key_pem=key.private_pem.decode("ascii"),
                        public_txt=key.public_txt, created_at=env.clock.now())
         .on_conflict(conflict_target=[DkimKey.domain],
                      update={DkimKey.selector: signer.selector, DkimKey.private_key_pem: key.private_pem.decode("ascii"),
                              DkimKey.public_txt: key.public_txt})
         .execute())
    return {"domain": signer.domain, "selector": signer.selector, "dns_record": record, "public_txt": key.public_txt}


def check_domain_dns(env, domain: str, selector: str | None, nameserver: str | None):
    """Run the DNS check of ``domain`` for the active servers and the configured selector.

    Returns ``(DnsReport, warnings)``.
    """
    from addons_mail.mail_server.addresses import alias_domain
    from addons_mail.mail_server.dns_check import SendingHost, check_domain, make_resolver, normalize_domain
    from addons_mail.mail_server.smtp_connection import default_server

    try:
        resolver = make_resolver(nameserver)
        normalized = normalize_domain(domain)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    warnings = []
    if alias_domain(env) is None:
        warnings.append("mail.catchall.domain is not set: there is no default From, catchall or bounce address.")
    if selector is None:
        stored = DkimKey.get_or_none(DkimKey.domain == normalized)
        selector = stored.selector if stored else None
    mass_mailing_id = env.params.get_raw("mass_mailing.mail_server_id")
    servers = list(MailServer.select().where(MailServer.active == True))  # noqa: E712
    hosts = [SendingHost(s.name, s.host, "mass_mailing" if str(s.id) == str(mass_mailing_id) else "transactional")
             for s in servers]
    if not hosts:
        default = default_server(env)
        hosts = [SendingHost(default.name, default.host)]
    return check_domain(normalized, sending_hosts=hosts, dkim_selector=selector, resolver=resolver), warnings
