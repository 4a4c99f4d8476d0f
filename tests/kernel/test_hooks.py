"""Each kernel hook, exercised by a throwaway plugin."""
import pytest

from kernel.env import open_environment
from kernel.installer import install_addons, uninstall_addon
from kernel.plugins import RegistrationError, build_plugin_manager


def reopen(env):
    return open_environment(env.url, clock=env.clock)


def test_register_models_creates_the_table_and_binds_the_model(env, addons):
    table = addons.name("ticket")
    name = addons.make("tickets", hooks=f"""
        import peewee
        from kernel.db import BaseModel

        class Ticket(BaseModel):
            model_name = "helpdesk.ticket"
            title = peewee.CharField()
            class Meta:
                table_name = "{table}"

        @hookimpl
        def register_models(register):
            register(Ticket)
    """)
    env = reopen(env)
    install_addons(env, [name])
    Ticket = env["helpdesk.ticket"]
    Ticket.create(title="Printer on fire")
    assert [t.title for t in reopen(env)["helpdesk.ticket"].select()] == ["Printer on fire"]


def test_two_addons_registering_one_model_name_is_an_error_naming_both(env, addons):
    code = """
        import peewee
        from kernel.db import BaseModel
        class Thing(BaseModel):
            model_name = "same.thing"
            class Meta:
                table_name = "{table}"
        @hookimpl
        def register_models(register):
            register(Thing)
    """
    one = addons.make("one", hooks=code.format(table=addons.name("t1")))
    two = addons.make("two", hooks=code.format(table=addons.name("t2")))
    env = reopen(env)
    install_addons(env, [one])
    with pytest.raises(RegistrationError, match=f"registered twice: by {one} and by {two}"):
        install_addons(env, [two])


def test_register_parameters_gives_typed_defaults(env, addons):
    name = addons.make("params", hooks="""
        @hookimpl
        def register_parameters(register):
            register("shop.max_items", 12, int, help="Most items in a cart.")
            register("shop.enabled", False, bool)
    """)
    env = reopen(env)
    assert env.params.get("shop.max_items") is None  # not installed: not declared
    install_addons(env, [name])
    assert env.params.get("shop.max_items") == 12
    env.params.set("shop.max_items", "40")
    env.params.set("shop.enabled", "yes")
    env = reopen(env)
    assert env.params.get("shop.max_items") == 40
    assert env.params.get("shop.enabled") is True


def test_register_cron_jobs_stores_an_action_due_now(env, addons):
    name = addons.make("jobs", hooks="""
        def tick(env):
            env.params.set("jobs.ticks", (env.params.get_raw("jobs.ticks") and int(env.params.get_raw("jobs.ticks")) or 0) + 1)

        @hookimpl
        def register_cron_jobs(register):
            register("Jobs: tick", tick, 60, description="Counts ticks.")
    """)
    env = reopen(env)
    install_addons(env, [name])
    from kernel.cron import run_due_actions
    from kernel.models import ScheduledAction

    action = ScheduledAction.get(ScheduledAction.name == "Jobs: tick")
    assert action.interval_seconds == 60 and action.addon == name
    assert [run.name for run in run_due_actions(env)] == ["Jobs: tick"]
    assert env.params.get_raw("jobs.ticks") == "1"


def test_after_addon_uninstall_is_called(env, addons):
    watcher = addons.make("watcher", hooks="""
        UNINSTALLED = []
        @hookimpl
        def after_addon_uninstall(env, addon):
            UNINSTALLED.append(addon)
    """)
    leaf = addons.make("leaf")
    env = reopen(env)
    install_addons(env, [watcher, leaf])
    uninstall_addon(env, leaf)
    assert env.available_addons[watcher].import_hooks().UNINSTALLED == [leaf]


def test_register_commands_adds_a_command_that_needs_its_addon_installed(env, addons):
    from click.testing import CliRunner

    from kernel.cli import cli

    name = addons.make("hello", hooks="""
        import click
        from kernel.cli import pass_env

        @click.command("hello-test")
        @pass_env
        def hello(env):
            "Say hello."
            click.echo("hello from " + env.company.name)

        @hookimpl
        def register_commands(cli):
            cli.add_command(hello)
    """)
    cli._addons_loaded = False
    cli.commands.pop("hello-test", None)
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", env.url, "hello-test"])
    assert result.exit_code == 2
    assert f"comes with the addon {name!r}, which is not installed" in result.output
    assert f"juniper addons install {name}" in result.output
    result = runner.invoke(cli, ["--db", env.url, "addons", "install", name])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["--db", env.url, "hello-test"])
    assert result.output.strip() == "hello from Test Company"
    cli.commands.pop("hello-test", None)
    cli._addons_loaded = False


def test_misspelled_hook_implementation_fails_at_start_up(addons):
    from kernel.addons import discover_addons

    name = addons.make("typo", hooks="""
        @hookimpl
        def register_modles(register):
            pass
    """)
    addon = discover_addons()[name]
    with pytest.raises(Exception, match="register_modles"):
        build_plugin_manager([addon])


def test_autoload_can_be_turned_off(monkeypatch):
    from kernel import addons as addons_module

    seen = []
    monkeypatch.setattr(addons_module, "entry_points", lambda group: seen.append(group) or [])
    addons_module.discover_addons()
    assert seen == ["juniper.addons"]
    monkeypatch.setenv("JUNIPER_DISABLE_PLUGIN_AUTOLOAD", "1")
    seen.clear()
    addons_module.discover_addons()
    assert seen == []
