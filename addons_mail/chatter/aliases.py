"""Aliases: addresses ``name@alias-domain`` that route incoming mail to a model or a fixed record.

Names are sanitized (lower case, accents removed, only ``a-z 0-9 . _ + -`` kept, no leading,
trailing or doubled dots), unique per domain, and may not be the catchall or bounce alias.
"""
from __future__ import annotations

import json
import re
import unicodedata

from kernel.errors import NotFound, UserError
from kernel.models import Contact, normalize_email

from addons_mail.chatter.models import CONTACT_POLICIES, Alias, Follower

__all__ = [
    "UNCHANGED",
    "create_alias",
    "edit_alias",
    "find_alias",
    "get_alias",
    "is_sender_allowed",
    "matching_aliases",
    "parse_defaults",
    "remove_alias",
    "sanitize_alias_name",
]

_NOT_ALLOWED = re.compile(r"[^a-z0-9._+-]+")


def sanitize_alias_name(name: str) -> str:
    """``"Ventes Équipe"`` -> ``"ventes-equipe"``: lower case, ASCII, allowed characters only."""
    text = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode("ascii")
    text = text.strip().lower().split("@", 1)[0]
    text = _NOT_ALLOWED.sub("-", text)
    text = re.sub(r"\.{2,}", ".", text).strip(".-")
    return text


def _alias_domain(env) -> str:
    return (env.params.get("mail.catchall.domain") or "").strip().lower()


def _reserved_names(env) -> set[str]:
    return {(env.params.get("mail.catchall.alias") or "").strip().lower(),
            (env.params.get("mail.bounce.alias") or "").strip().lower()} - {""}


def _check_values(env, model: str, record_id, defaults, contact_policy, owner_model, owner_id) -> None:
    from addons_mail.chatter.thread import record_of, thread_model

    thread_model(env, model)
    if record_id is not None:
        record_of(env, model, record_id)
    if contact_policy not in CONTACT_POLICIES:
        raise UserError(f"Unknown contact policy {contact_policy!r}.",
                        hint=f"Use one of: {', '.join(CONTACT_POLICIES)}.")
    if not isinstance(defaults, dict):
        raise UserError("The alias defaults must be a JSON object such as {\"team\": \"north\"}.")
    fields = thread_model(env, model)._meta.fields
    unknown = [key for key in defaults if key not in fields]
    if unknown:
        raise UserError(f"The model {model} has no field {unknown[0]!r} for the alias defaults.",
                        hint=f"Fields: {', '.join(sorted(fields))}.")
    if (owner_model is None) != (owner_id is None):
        raise UserError("An owner document needs both a model and an id.")
    if owner_model is not None:
        record_of(env, owner_model, owner_id)
    if contact_policy == "followers" and owner_model is None and record_id is None:
        raise UserError("The contact policy 'followers' needs an owner document or a fixed record.",
                        hint="Give --owner MODEL:ID or --record ID.")


def parse_defaults(text: str | None) -> dict:
    """The ``--defaults`` JSON of the CLI as a dict; a clear error when it is not a JSON object."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UserError(f"The defaults are not valid JSON ({exc.msg} at column {exc.colno}).") from None
    if not isinstance(value, dict):
        raise UserError("The alias defaults must be a JSON object such as {\"team\": \"north\"}.")
    return value


def _clean_name(env, name: str, domain: str, exclude_id: int | None = None) -> str:
    clean = sanitize_alias_name(name)
    if not clean:
        raise UserError(f"{name!r} gives an empty alias name.", hint="Use letters, digits, dots or dashes.")
    if clean in _reserved_names(env):
        raise UserError(f"The alias {clean!r} is the catchall or bounce address of this database.",
                        hint="Choose another name.")
    clash = Alias.select().where((Alias.name == clean) & (Alias.domain == domain))
    if exclude_id is not None:
        clash = clash.where(Alias.id != exclude_id)
    if clash.exists():
        raise UserError(f"The alias {clean}@{domain or '(no domain)'} exists already.", hint="Choose another name.")
    return clean


def create_alias(env, name: str, model: str, *, record_id: int | None = None, defaults: dict | None = None,
                 contact_policy: str = "everyone", owner_model: str | None = None,
                 owner_id: int | None = None) -> Alias:
    """Create the alias ``name@<alias domain>`` routing to ``model`` (a new record per email, with
    ``defaults``) or to its fixed record ``record_id``. ``contact_policy`` is ``everyone``,
    ``partners`` (known contacts only) or ``followers`` (followers of the owner document, which
    defaults to the fixed record)."""
    defaults = dict(defaults or {})
    if record_id is not None and owner_model is None:
        owner_model, owner_id = model, record_id
    _check_values(env, model, record_id, defaults, contact_policy, owner_model, owner_id)
    domain = _alias_domain(env)
    with env.atomic():
        clean = _clean_name(env, name, domain)
        _forget_cached_aliases(env)
        return Alias.create(name=clean, domain=domain, model=model, record_id=record_id, defaults=defaults,
                            contact_policy=contact_policy, owner_model=owner_model, owner_id=owner_id)


def get_alias(env, name: str) -> Alias:
    """The alias called ``name`` (``name`` or ``name@domain``); NotFound otherwise."""
    local, _, domain = (name or "").strip().lower().partition("@")
    query = Alias.select().where(Alias.name == sanitize_alias_name(local))
    if domain:
        query = query.where(Alias.domain == domain)
    alias = query.order_by(Alias.id).first()
    if alias is None:
        raise NotFound(f"No alias {name!r}.", hint="See `juniper alias list`.")
    return alias


UNCHANGED = object()  # edit_alias: keep the current value


def edit_alias(env, name: str, *, new_name=None, model=None, record_id=UNCHANGED, defaults=None,
               contact_policy=None, owner_model=UNCHANGED, owner_id=UNCHANGED) -> Alias:
    """Change an alias; arguments left out keep their value (``record_id=None`` removes the fixed record)."""
    alias = get_alias(env, name)
    model = model or alias.model
    record_id = alias.record_id if record_id is UNCHANGED else record_id
    defaults = alias.defaults if defaults is None else defaults
    contact_policy = contact_policy or alias.contact_policy
    owner_model = alias.owner_model if owner_model is UNCHANGED else owner_model
    owner_id = alias.owner_id if owner_id is UNCHANGED else owner_id
    _check_values(env, model, record_id, defaults, contact_policy, owner_model, owner_id)
    with env.atomic():
        if new_name is not None:
            alias.name = _clean_name(env, new_name, alias.domain, exclude_id=alias.id)
        alias.model, alias.record_id, alias.defaults = model, record_id, defaults
        alias.contact_policy, alias.owner_model, alias.owner_id = contact_policy, owner_model, owner_id
        alias.status, alias.status_reason = "not_tested", None
        alias.save()
        _forget_cached_aliases(env)
    return alias


def remove_alias(env, name: str) -> None:
    get_alias(env, name).delete_instance()
    _forget_cached_aliases(env)


# -- matching incoming recipients ------------------------------------------------------------------

def _allowed_local_domains(env) -> set[str]:
    text = env.params.get("mail.catchall.domain.allowed") or ""
    return {part.strip().lower() for part in text.split(",") if part.strip()}


def find_alias(env, address: str, aliases: list[Alias] | None = None) -> Alias | None:
    """The alias an incoming recipient address is, or None.

    ``local@domain`` matches an alias of that name whose domain is ``domain``, or whose domain is
    empty (created before an alias domain was set) when ``domain`` is the alias domain or no alias
    domain is set; a domain listed in ``mail.catchall.domain.allowed`` matches on the local part.
    """
    local, _, domain = normalize_email(address or "").rpartition("@")
    if not local:
        return None
    alias_domain = _alias_domain(env)
    allowed = _allowed_local_domains(env)
    candidates = aliases if aliases is not None else list(Alias.select().where(Alias.name == local))
    for alias in candidates:
        if alias.name != local:
            continue
        if alias.domain == domain or domain in allowed:
            return alias
        if not alias.domain and (domain == alias_domain or not alias_domain):
            return alias
    return None


_ALIAS_CACHE_KEY = ("chatter", "aliases")


def _aliases_of_transaction(env, names: set[str]) -> list[Alias]:
    """Every alias (read once per transaction: a fetch stores a whole chunk of messages in one), or,
    outside a transaction, the aliases named ``names``."""
    cache = env.transaction_cache
    if cache is None:
        return list(Alias.select().where(Alias.name.in_(sorted(names))).order_by(Alias.id))
    if _ALIAS_CACHE_KEY not in cache:
        cache[_ALIAS_CACHE_KEY] = list(Alias.select().order_by(Alias.id))
    return cache[_ALIAS_CACHE_KEY]


def _forget_cached_aliases(env) -> None:
    if env.transaction_cache is not None:
        env.transaction_cache.pop(_ALIAS_CACHE_KEY, None)


def matching_aliases(env, addresses: list[str]) -> list[tuple[str, Alias]]:
    """(address, alias) for each address that is an alias, in order, each alias once (one query)."""
    locals_ = {normalize_email(a).rpartition("@")[0] for a in addresses} - {""}
    if not locals_:
        return []
    aliases = [alias for alias in _aliases_of_transaction(env, locals_) if alias.name in locals_]
    found, seen = [], set()
    for address in addresses:
        alias = find_alias(env, address, aliases)
        if alias is not None and alias.id not in seen:
            seen.add(alias.id)
            found.append((address, alias))
    return found


def is_sender_allowed(env, alias: Alias, sender_email: str, author_contact) -> tuple[bool, str]:
    """Whether the alias's contact policy accepts this sender, and the reason when it does not."""
    if alias.contact_policy == "partners" and author_contact is None:
        return False, (f"The address {alias.address} accepts mail from known contacts only, and "
                       f"{sender_email or 'the sender'} is not one.")
    if alias.contact_policy == "followers":
        model = alias.owner_model or alias.model
        res_id = alias.owner_id if alias.owner_model else alias.record_id
        senders = Contact.select(Contact.id).where(Contact.email_normalized == normalize_email(sender_email))
        following = bool(sender_email) and Follower.select().where(
            (Follower.model == model) & (Follower.res_id == res_id) & Follower.contact.in_(senders)
        ).exists()
        if not following:
            return False, (f"The address {alias.address} accepts mail only from followers of its document, and "
                           f"{sender_email or 'the sender'} is not one.")
    return True, ""
