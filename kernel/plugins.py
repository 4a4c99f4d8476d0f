"""The plugin manager factory and the register-callback collection of ``register_*`` hooks."""
import pluggy

from kernel import PROJECT_NAME, hookspecs
from kernel.errors import JuniperError

KERNEL_PLUGIN_NAME = "kernel"


class RegistrationError(JuniperError):
    """Two plugins registered the same name (a model, a parameter, a scheduled action)."""


def build_plugin_manager(addons=()) -> pluggy.PluginManager:
    """A plugin manager with the kernel's own plugin and the ``hooks`` module of each addon given.

    ``check_pending()`` makes a misspelled hook implementation fail here, at start-up.
    """
    from kernel import builtin_hooks

    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    pm.register(builtin_hooks, name=KERNEL_PLUGIN_NAME)
    for addon in addons:
        register_addon_plugin(pm, addon)
    pm.check_pending()
    return pm


def register_addon_plugin(pm: pluggy.PluginManager, addon) -> None:
    if pm.get_plugin(addon.name) is None:
        pm.register(addon.import_hooks(), name=addon.name)


def collect(pm: pluggy.PluginManager, hook_name: str, plugin_names=None, **kwargs) -> list[tuple[str, tuple, dict]]:
    """Call a ``register_*`` hook plugin by plugin; return (plugin name, args, kwargs) per registration.

    Only the plugins named in ``plugin_names`` are asked when it is given.
    """
    registered: list[tuple[str, tuple, dict]] = []
    hook = getattr(pm.hook, hook_name)
    for impl in reversed(hook.get_hookimpls()):
        if plugin_names is not None and impl.plugin_name not in plugin_names:
            continue

        def register(*args, _plugin=impl.plugin_name, **kw):
            registered.append((_plugin, args, kw))

        impl.function(register=register, **kwargs)
    return registered


def hooks_of(pm: pluggy.PluginManager) -> list[dict]:
    """Every plugin and the hooks it implements (for ``juniper plugins list``)."""
    plugins = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda item: (item[0] != KERNEL_PLUGIN_NAME, item[0])):
        hooks = sorted(impl.name for impl in pm.get_hookcallers(plugin) or [])
        plugins.append({"name": name, "module": getattr(plugin, "__name__", repr(plugin)), "hooks": hooks})
    return plugins
