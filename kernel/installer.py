"""Install, upgrade and uninstall addons in an environment's database.

Each operation runs in one transaction: on any error nothing of it stays in the database.
"""
import importlib
import logging

from kernel.addons import install_order, parse_version
from kernel.cron import store_cron_jobs
from kernel.errors import AddonError
from kernel.models import InstalledAddon, ScheduledAction
from kernel.plugins import register_addon_plugin

log = logging.getLogger("juniper.addons")


def install_addons(env, names: list[str]) -> list[str]:
    """Install ``names`` and their dependencies in order; return the names newly installed."""
    order = install_order(names, env.available_addons)
    installed = set(env.installed_addon_names())
    todo = [addon for addon in order if addon.name not in installed]
    if not todo:
        return []
    registered = []
    try:
        with env.atomic():
            for addon in todo:
                register_addon_plugin(env.pm, addon)
                registered.append(addon.name)
                env.pm.check_pending()
                models = env._load_registrations([addon.name])
                env.db.create_tables(models, safe=True)
                store_cron_jobs(env, addon.name)
                InstalledAddon.create(name=addon.name, version=addon.version, installed_at=env.clock.now())
                env.pm.hook.after_addon_install(env=env, addon=addon.name)
                log.info("installed addon %s %s", addon.name, addon.version)
    except BaseException:
        for name in registered:
            env.pm.unregister(name=name)
            for model_name in [m for m, owner in env.model_addon.items() if owner == name]:
                env.models.pop(model_name, None)
                env.model_addon.pop(model_name, None)
        raise
    return [addon.name for addon in todo]


def upgrade_addon(env, name: str) -> list[str]:
    """Run the migrations of ``name`` newer than its installed version; create new tables.

    Returns the migrations that ran.
    """
    addon = env.available_addons.get(name)
    row = InstalledAddon.get_or_none(InstalledAddon.name == name)
    if addon is None or row is None:
        raise AddonError(f"Addon {name!r} is not installed.", hint="Install it with `juniper addons install`.")
    current, target = parse_version(row.version), parse_version(addon.version)
    ran = []
    with env.atomic():
        for version, module_path in addon.migrations():
            if current < version <= target:
                importlib.import_module(module_path).migrate(env)
                ran.append(module_path)
        models = [m for n, m in env.models.items() if env.model_addon[n] == name]
        env.db.create_tables(models, safe=True)
        store_cron_jobs(env, name)
        row.version = addon.version
        row.save()
    return ran


def dependents_of(env, name: str) -> list[str]:
    """Installed addons that depend, directly or not, on ``name``."""
    installed = env.installed_addon_names()
    result = []
    for other in installed:
        if other == name or other not in env.available_addons:
            continue
        order = install_order([other], env.available_addons)
        if any(addon.name == name for addon in order):
            result.append(other)
    return result


def uninstall_addon(env, name: str) -> list[str]:
    """Uninstall ``name``: drop its tables and scheduled actions. Refused while another installed addon
    depends on it. Returns the dropped tables."""
    if not env.is_installed(name):
        raise AddonError(f"Addon {name!r} is not installed.")
    blocking = dependents_of(env, name)
    if blocking:
        raise AddonError(
            f"Cannot uninstall {name!r}: the installed addon(s) {', '.join(sorted(blocking))} depend on it.",
            hint="Uninstall them first.",
        )
    models = [m for n, m in env.models.items() if env.model_addon[n] == name]
    with env.atomic():
        env.db.drop_tables(models, safe=True)
        ScheduledAction.delete().where(ScheduledAction.addon == name).execute()
        InstalledAddon.delete().where(InstalledAddon.name == name).execute()
        env.pm.hook.after_addon_uninstall(env=env, addon=name)
    for model_name in [m for m, owner in env.model_addon.items() if owner == name]:
        env.models.pop(model_name, None)
        env.model_addon.pop(model_name, None)
    env.pm.unregister(name=name)
    return [m._meta.table_name for m in models]
