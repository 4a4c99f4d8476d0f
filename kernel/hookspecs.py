"""Every hook of Juniper, grouped by family.

* ``register_*`` hooks are collected once: at start-up (commands) or when an addon is installed
  (models, parameters, scheduled actions). They receive a ``register`` callback so the kernel can
  validate what is registered and name both plugins on a duplicate.
* ``before_*`` / ``after_*`` hooks are events; every implementation is called.
* Resolvers are ``firstresult``: implementations are called until one returns something other than
  ``None``, and that answer wins.

Each hook has a section in ``docs/hooks.md`` (a test checks it).
"""
from kernel import hookspec

# --------------------------------------------------------------------------------------------------
# Registration


@hookspec
def register_models(register):
    """Register the peewee models of an addon: call ``register(ModelClass)`` once per model.

    A model class has a ``model_name`` string attribute (``"crm.lead"``); its table is created when the
    addon is installed. Registering two models under one ``model_name`` is an error naming both addons.
    """


@hookspec
def register_commands(cli):
    """Add click commands or groups to the root ``juniper`` group ``cli`` (``cli.add_command(...)``)."""


@hookspec
def register_cron_jobs(register):
    """Register scheduled actions: ``register(name, function, interval_seconds, description="")``.

    ``function`` is a callable taking the environment. The action is stored (active, first run due
    now) when the addon is installed; an administrator may change its interval afterwards.
    """


@hookspec
def register_parameters(register):
    """Declare system parameters: ``register(key, default, type=str, help="")``.

    ``type`` is one of ``str``, ``int``, ``float``, ``bool``; reads of an unset key return the
    default converted to that type.
    """


# --------------------------------------------------------------------------------------------------
# Addon lifecycle


@hookspec
def after_addon_install(env, addon):
    """Called after ``addon`` (its name) was installed and its tables created, in its transaction."""


@hookspec
def after_addon_uninstall(env, addon):
    """Called after ``addon`` (its name) was uninstalled."""


# --------------------------------------------------------------------------------------------------
# Outgoing mail


@hookspec(firstresult=True)
def choose_outgoing_server(env, mail, from_address):
    """Choose the outgoing server for ``mail`` sent as ``from_address``.

    Return a server record to decide instead of the built-in rules (SPEC §2.2), or ``None`` to let
    them decide. First result wins.
    """


@hookspec
def before_mail_send(env, mail, message):
    """Called with the queued ``mail`` record and the ``email.message.EmailMessage`` about to be sent.

    An implementation may add or change headers of ``message``. Returning a non-empty string refuses
    the mail: it goes to ``exception`` with that string as reason and nothing is sent.
    """


@hookspec
def after_mail_sent(env, mails):
    """Called with the list of mail records that were just accepted by the SMTP server."""


@hookspec
def after_mail_failed(env, mail, failure_type, reason, permanent):
    """Called when sending ``mail`` failed (``permanent`` false: it will be retried)."""


# --------------------------------------------------------------------------------------------------
# Incoming mail


@hookspec(firstresult=True)
def process_incoming_message(env, raw, server):
    """Take one raw incoming message (bytes) fetched from ``server`` (an incoming server record or
    ``None`` for the pipe) and store it: route it, post it, or dead-letter it.

    Return a result object describing the route taken. First result wins; when no implementation
    answers, the transport dead-letters the message with "No mail gateway is installed".
    """


@hookspec(firstresult=True)
def route_incoming_message(env, message):
    """Decide the route of a parsed incoming ``message`` before the built-in routing (SPEC §5).

    Return a route to decide, or ``None`` to let the gateway's built-in rules decide. First result wins.
    """


@hookspec
def after_message_posted(env, message):
    """Called after a message was posted on a thread (and its notifications queued)."""


@hookspec
def after_mail_bounced(env, bounce):
    """Called for each bounced recipient recognised by the gateway (email, kind, status, mail)."""


@hookspec(firstresult=True)
def explain_incoming_message(env, raw):
    """Say how the raw incoming message ``raw`` would be routed, writing nothing.

    Return the same result dict as ``process_incoming_message``. First result wins.
    """


# --------------------------------------------------------------------------------------------------
# Mass mailing


@hookspec
def after_mailing_unsubscribed(env, unsubscription):
    """Called after a mailing recipient unsubscribed (one-click POST, the confirmation page, or the
    mailto address through the gateway), in the same transaction.

    ``unsubscription`` has ``email``, ``mailing_id``, ``list_name`` (None when the mailing went to
    contacts by a query: the address was then blacklisted) and ``channel``
    (``one-click`` / ``email``). Not called when the recipient had already unsubscribed.
    """
