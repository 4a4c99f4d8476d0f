"""Addon install order, dependency errors, upgrade and uninstall refusal."""
import pytest

from kernel.env import open_environment
from kernel.errors import AddonError
from kernel.installer import install_addons, uninstall_addon, upgrade_addon

MODEL_HOOKS = """
import peewee
from kernel.db import BaseModel

class Note(BaseModel):
    model_name = "{model}"
    text = peewee.CharField()

    class Meta:
        table_name = "{table}"

@hookimpl
def register_models(register):
    register(Note)
"""


def reopen(env):
    return open_environment(env.url, clock=env.clock)


def test_install_resolves_dependencies_in_order(env, addons):
    calls = "INSTALLED = []\n@hookimpl\ndef after_addon_install(env, addon):\n    INSTALLED.append(addon)\n"
    base = addons.make("base", hooks=calls)
    middle = addons.make("middle", depends=["base"])
    top = addons.make("top", depends=["middle", "base"])
    env = reopen(env)
    installed = install_addons(env, [top])
    assert installed == [base, middle, top]
    assert env.installed_addon_names() == [base, middle, top]
    hooks_module = env.available_addons[base].import_hooks()
    assert hooks_module.INSTALLED == [base, middle, top]
    assert install_addons(env, [top]) == []  # already there: nothing to do


def test_unknown_addon_is_a_clear_error_and_changes_nothing(env):
    with pytest.raises(AddonError, match="Unknown addon 'nope'") as info:
        install_addons(env, ["nope"])
    assert info.value.exit_code == 2
    assert env.installed_addon_names() == []


def test_missing_dependency_names_both_addons_and_changes_nothing(env, addons):
    ok = addons.make("ok", hooks=MODEL_HOOKS.format(model="t.ok", table=addons.name("ok_note")))
    broken = addons.make("broken", depends=["=" + ok, "=ghost_addon"])
    env = reopen(env)
    with pytest.raises(AddonError) as info:
        install_addons(env, [broken])
    assert f"Addon {broken!r} depends on 'ghost_addon', which is not available" in str(info.value)
    assert env.installed_addon_names() == []
    assert addons.name("ok_note") not in env.db.get_tables()


def test_dependency_cycle_is_named(env, addons):
    first = addons.make("first", depends=["second"])
    addons.make("second", depends=["first"])
    env = reopen(env)
    with pytest.raises(AddonError, match="Dependency cycle between addons") as info:
        install_addons(env, [first])
    assert first in str(info.value) and addons.name("second") in str(info.value)
    assert env.installed_addon_names() == []


def test_failure_during_install_rolls_back_every_addon_of_the_run(env, addons):
    good = addons.make("good", hooks=MODEL_HOOKS.format(model="t.good", table=addons.name("good_note")))
    bad = addons.make("bad", depends=["good"], hooks="""
        @hookimpl
        def after_addon_install(env, addon):
            if addon.startswith("bad_"):
                raise RuntimeError("boom")
    """)
    env = reopen(env)
    with pytest.raises(RuntimeError):
        install_addons(env, [bad])
    assert env.installed_addon_names() == []
    assert addons.name("good_note") not in env.db.get_tables()
    assert good not in [name for name, _ in env.pm.list_name_plugin()]


def test_uninstall_is_refused_while_another_addon_depends_on_it(env, addons):
    lib = addons.make("lib", hooks=MODEL_HOOKS.format(model="t.lib", table=addons.name("lib_note")))
    app = addons.make("app", depends=["lib"])
    env = reopen(env)
    install_addons(env, [app])
    with pytest.raises(AddonError, match=f"the installed addon\\(s\\) {app} depend on it"):
        uninstall_addon(env, lib)
    assert env.is_installed(lib)
    uninstall_addon(env, app)
    dropped = uninstall_addon(env, lib)
    assert dropped == [addons.name("lib_note")]
    assert addons.name("lib_note") not in env.db.get_tables()
    assert env.installed_addon_names() == []


def test_upgrade_runs_only_newer_migrations(env, addons):
    name = addons.make("mig", version="1.0", hooks="")
    env = reopen(env)
    install_addons(env, [name])
    folder = addons.root / name
    (folder / "__manifest__.py").write_text(repr({"name": "Mig", "version": "1.2", "depends": []}))
    (folder / "migrations").mkdir()
    (folder / "migrations" / "__init__.py").write_text("")
    for version in ("1_0", "1_1", "1_2"):
        (folder / "migrations" / f"{version}.py").write_text(
            f"def migrate(env):\n    env.params.set('mig.ran.{version}', True)\n")
    env = reopen(env)
    ran = upgrade_addon(env, name)
    assert [path.rsplit(".", 1)[-1] for path in ran] == ["1_1", "1_2"]
    assert env.params.get("mig.ran.1_0") is None
    assert env.params.get_raw("mig.ran.1_2") == "true"
    assert env.installed_addon_names() == [name]
    from kernel.models import InstalledAddon
    assert InstalledAddon.get(InstalledAddon.name == name).version == "1.2"
