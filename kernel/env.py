"""The environment: one object passed everywhere (database, models, hooks, parameters, user, clock).

Nothing is global: tests build a fresh environment on a fresh database. ``open_environment`` binds the
kernel's models and those of every installed addon to the database, and builds the plugin manager with
the installed addons' plugins.
"""
import contextlib
import logging
import secrets

import peewee

from kernel.addons import Addon, discover_addons
from kernel.clock import Clock
from kernel.db import is_postgres, open_database
from kernel.errors import NotFound, UserError
from kernel.models import KERNEL_MODELS, Company, Contact, InstalledAddon, User
from kernel.params import Parameters, ParameterSpec
from kernel.plugins import KERNEL_PLUGIN_NAME, RegistrationError, build_plugin_manager, collect

log = logging.getLogger("juniper.env")


class Environment:
    """Database, model registry, plugin manager, parameters, current user and company, clock."""

    def __init__(self, db: peewee.Database, *, clock: Clock | None = None, url: str | None = None):
        self.db = db
        self.url = url
        self.clock = clock or Clock()
        self.available_addons: dict[str, Addon] = discover_addons()
        self.models: dict[str, type] = {}
        self.model_addon: dict[str, str] = {}
        self._on_commit: list = []
        self._transaction_cache: dict | None = None
        self.db.bind(KERNEL_MODELS)
        self.db.create_tables(KERNEL_MODELS, safe=True)
        for model in KERNEL_MODELS:
            self.models[model.model_name] = model
            self.model_addon[model.model_name] = KERNEL_PLUGIN_NAME
        installed = [self.available_addons[name] for name in self.installed_addon_names()
                     if name in self.available_addons]
        self.pm = build_plugin_manager(installed)
        self.params = Parameters({})
        self._load_registrations()

    # -- registry ----------------------------------------------------------------------------------

    def _load_registrations(self, plugin_names=None) -> list[type]:
        """Collect models and parameters of the given plugins (all when None); bind the models."""
        new_models = []
        for plugin, args, _kw in collect(self.pm, "register_models", plugin_names):
            model = args[0]
            name = model.model_name or model.__name__.lower()
            owner = self.model_addon.get(name)
            if owner is not None and self.models[name] is not model:
                raise RegistrationError(f"Model {name!r} is registered twice: by {owner} and by {plugin}.")
            self.models[name] = model
            self.model_addon[name] = plugin
            new_models.append(model)
        if new_models:
            self.db.bind(new_models)
        specs = dict(self.params.specs)
        for plugin, args, kw in collect(self.pm, "register_parameters", plugin_names):
            key, default = args[0], args[1]
            kind = args[2] if len(args) > 2 else kw.get("type", type(default) if default is not None else str)
            if key in specs and specs[key].addon != plugin:
                raise RegistrationError(f"Parameter {key!r} is declared twice: by {specs[key].addon} and by {plugin}.")
            specs[key] = ParameterSpec(key, default, kind, kw.get("help", ""), plugin)
        self.params = Parameters(specs)
        return new_models

    def __getitem__(self, model_name: str) -> type:
        try:
            return self.models[model_name]
        except KeyError:
            raise NotFound(
                f"Unknown model {model_name!r}.", hint="Is the addon that provides it installed?"
            ) from None

    def installed_addon_names(self) -> list[str]:
        return [row.name for row in InstalledAddon.select().order_by(InstalledAddon.id)]

    def is_installed(self, addon: str) -> bool:
        return InstalledAddon.select().where(InstalledAddon.name == addon).exists()

    # -- transactions ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def atomic(self, savepoint: bool = False):
        """A transaction; ``on_commit`` callbacks run after the outermost one commits, and are dropped
        if it rolls back.

        Inside a transaction, a nested block joins it (an error rolls back the whole transaction as it
        propagates); pass ``savepoint=True`` where the caller catches the error and goes on, so that only
        the block's own writes are undone.
        """
        outermost = self.db.transaction_depth() == 0
        if not outermost and not savepoint:
            yield
            return
        if outermost:
            self.params.cache_for_transaction(True)
            self._transaction_cache = {}
        try:
            with self.db.atomic():
                yield
        except BaseException:
            if outermost:
                self._on_commit.clear()
            raise
        finally:
            if outermost:
                self.params.cache_for_transaction(False)
                self._transaction_cache = None
        if outermost:
            self.run_commit_callbacks()

    def on_commit(self, callback) -> None:
        """Run ``callback()`` once the current transaction commits (at once outside a transaction)."""
        if self.db.transaction_depth() == 0:
            callback()
        elif callback not in self._on_commit:
            self._on_commit.append(callback)

    def run_commit_callbacks(self) -> None:
        callbacks, self._on_commit = self._on_commit, []
        for callback in callbacks:
            try:
                callback()
            except Exception:
                log.exception("A callback run after commit failed; its work stays queued")

    @property
    def is_postgres(self) -> bool:
        return is_postgres(self.db)

    # -- user and company --------------------------------------------------------------------------

    @property
    def transaction_cache(self) -> dict | None:
        """A dict that lives until the end of the outermost transaction (None outside one), for
        lookups repeated within one unit of work."""
        return self._transaction_cache

    def _cached(self, key: str, compute):
        """``compute()``, remembered until the end of the outermost transaction (not cached outside)."""
        cache = self._transaction_cache
        if cache is None:
            return compute()
        if key not in cache:
            cache[key] = compute()
        return cache[key]

    @property
    def user(self) -> User | None:
        """The current user: the first active one (the admin created by ``init``)."""
        return self._cached("user", self._current_user)

    def _current_user(self) -> User | None:
        return User.select().where(User.active == True).order_by(User.id).first()  # noqa: E712

    @property
    def company(self) -> Company | None:
        """The current user's company, else the first company."""
        return self._cached("company", self._current_company)

    def _current_company(self) -> Company | None:
        user = self.user
        if user is not None and user.company_id:
            return user.company
        return Company.select().order_by(Company.id).first()

    # -- lifecycle ---------------------------------------------------------------------------------

    def ensure_initialized(self, company_name: str = "My Company", admin_email: str | None = None) -> None:
        """Create the database secret, a company and the ``admin`` user when missing (idempotent)."""
        with self.atomic():
            if not self.params.get_raw("database.secret"):
                self.params.set("database.secret", secrets.token_hex(32))
            company = Company.select().first() or Company.create(name=company_name)
            if not User.select().where(User.login == "admin").exists():
                contact = Contact.create(name="Administrator", email=admin_email, company=company)
                User.create(login="admin", contact=contact, company=company)

    def close(self) -> None:
        if not self.db.is_closed():
            self.db.close()


def open_environment(url: str | None = None, *, clock: Clock | None = None) -> Environment:
    """Open the database at ``url`` (see :func:`kernel.db.open_database`) and build its environment."""
    db = open_database(url)
    try:
        db.connect(reuse_if_open=True)
    except peewee.OperationalError as exc:
        raise UserError(
            f"Cannot open the database {url or 'juniper.db'}: {str(exc).strip().splitlines()[0]}.",
            hint="Check the --db URL or JUNIPER_DB and that the database server is running.",
        ) from None
    return Environment(db, clock=clock, url=url)
