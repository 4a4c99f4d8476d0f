"""Creating and changing outgoing server records, with the checks an administrator needs."""
from addons_mail.mail_server.models import AUTHENTICATIONS, DEFAULT_PORTS, ENCRYPTIONS, MailServer
from kernel.errors import UserError

PORT_25_BLOCKED = "Port 25 is blocked on this hosting for security reasons; use port 465, 587 or 2525."
EDITABLE = ("host", "port", "encryption", "authentication", "user", "password", "certificate_pem",
            "private_key_pem", "ca_file", "from_filter", "priority", "active", "verify_tls", "timeout",
            "max_per_minute", "max_per_day")


def check_certificate_pair(certificate_pem: str, private_key_pem: str) -> None:
    """Both PEM texts must load, and the key must be the certificate's."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
    except ValueError:
        raise UserError("The client certificate is not a PEM certificate.", hint="Give a file with BEGIN CERTIFICATE.")
    try:
        key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    except (ValueError, TypeError):
        raise UserError("The client private key is not an unencrypted PEM private key.",
                        hint="Give a file with BEGIN PRIVATE KEY (no passphrase).") from None
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if (certificate.public_key().public_bytes(serialization.Encoding.DER, public)
            != key.public_key().public_bytes(serialization.Encoding.DER, public)):
        raise UserError("The client private key does not match the client certificate.",
                        hint="Give the key the certificate was issued for.")


def validate_server(env, values: dict) -> None:
    if values.get("encryption") not in ENCRYPTIONS:
        raise UserError(f"Unknown encryption {values.get('encryption')!r}.", hint="Use none, starttls or ssl.")
    if values.get("authentication") not in AUTHENTICATIONS:
        raise UserError(f"Unknown authentication {values.get('authentication')!r}.", hint="Use login or certificate.")
    port = values.get("port")
    if not isinstance(port, int) or not 0 < port < 65536:
        raise UserError(f"{port!r} is not a port number.", hint="Use 465 (SSL), 587 (STARTTLS) or 25.")
    if port == 25 and env.params.get("hosting") == "online":
        raise UserError(PORT_25_BLOCKED)
    if values.get("authentication") == "certificate":
        if not values.get("certificate_pem") or not values.get("private_key_pem"):
            raise UserError("Certificate authentication needs both a client certificate and its private key.",
                            hint="Give --cert FILE and --key FILE.")
        check_certificate_pair(values["certificate_pem"], values["private_key_pem"])
    for part in (values.get("from_filter") or "").split(","):
        part = part.strip()
        if part and (" " in part or part.count("@") > 1 or part.endswith("@")):
            raise UserError(f"{part!r} in the from_filter is neither an address nor a domain.",
                            hint="Use a comma-separated list such as sales@example.com, example.org.")


def create_server(env, name: str, **values) -> MailServer:
    """A new outgoing server; the port defaults to the encryption's usual one."""
    if MailServer.select().where(MailServer.name == name).exists():
        raise UserError(f"An outgoing server named {name!r} exists already.", hint="Choose another name or edit it.")
    values.setdefault("encryption", "starttls")
    values.setdefault("authentication", "certificate" if values.get("certificate_pem") else "login")
    if values.get("port") is None:
        values["port"] = DEFAULT_PORTS[values["encryption"]] if values["encryption"] in DEFAULT_PORTS else None
    values = {key: value for key, value in values.items() if value is not None}
    validate_server(env, values)
    return MailServer.create(name=name, **values)


def find_server(name: str) -> MailServer:
    server = MailServer.get_or_none(MailServer.name == name)
    if server is None:
        raise UserError(f"No outgoing server named {name!r}.", hint="See `juniper mail server list`.")
    return server


def update_server(env, server: MailServer, **values) -> MailServer:
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise TypeError(f"cannot edit {', '.join(sorted(unknown))}")
    merged = {key: getattr(server, key) for key in EDITABLE}
    merged.update({key: value for key, value in values.items() if value is not None})
    validate_server(env, merged)
    for key, value in values.items():
        if value is not None:
            setattr(server, key, value)
    server.save()
    return server


def server_row(server: MailServer) -> dict:
    """A listing row: everything but the password and the private key."""
    return {
        "id": server.id, "name": server.name, "host": server.host, "port": server.port,
        "encryption": server.encryption, "authentication": server.authentication, "user": server.user,
        "has_password": bool(server.password), "from_filter": server.from_filter or "",
        "priority": server.priority, "active": server.active, "verify_tls": server.verify_tls,
        "ca_file": server.ca_file, "timeout": server.timeout, "max_per_minute": server.max_per_minute,
        "max_per_day": server.max_per_day,
    }
