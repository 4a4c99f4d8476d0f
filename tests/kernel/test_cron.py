"""Scheduled actions: due and not before, one worker at a time."""
import os
import signal
import subprocess
import sys
import time

import pytest

from kernel.cron import run_action_now, run_due_actions
from kernel.env import open_environment
from kernel.installer import install_addons
from kernel.models import ScheduledAction

COUNTER_HOOKS = """
def tick(env):
    value = int(env.params.get_raw("ticks") or 0)
    env.params.set("ticks", value + 1)

@hookimpl
def register_cron_jobs(register):
    register("Counter", tick, 300)
"""


def test_action_runs_when_due_and_not_before(env, addons):
    name = addons.make("counter", hooks=COUNTER_HOOKS)
    env = open_environment(env.url, clock=env.clock)
    install_addons(env, [name])
    assert len(run_due_actions(env)) == 1  # due at install
    assert run_due_actions(env) == []  # next one in 5 minutes
    env.clock.advance(seconds=299)
    assert run_due_actions(env) == []
    env.clock.advance(seconds=1)
    assert [run.ok for run in run_due_actions(env)] == [True]
    assert env.params.get_raw("ticks") == "2"


def test_inactive_action_does_not_run(env, addons):
    name = addons.make("counter", hooks=COUNTER_HOOKS)
    env = open_environment(env.url, clock=env.clock)
    install_addons(env, [name])
    ScheduledAction.update(active=False).execute()
    assert run_due_actions(env) == []


def test_failing_action_records_its_error_and_is_retried_next_interval(env, addons):
    name = addons.make("broken", hooks="""
        def explode(env):
            raise ValueError("the printer is on fire")

        @hookimpl
        def register_cron_jobs(register):
            register("Explode", explode, 60)
    """)
    env = open_environment(env.url, clock=env.clock)
    install_addons(env, [name])
    [run] = run_due_actions(env)
    assert not run.ok and run.error == "ValueError: the printer is on fire"
    action = ScheduledAction.get(ScheduledAction.name == "Explode")
    assert "the printer is on fire" in action.last_error
    assert action.lease_owner is None
    env.clock.advance(seconds=60)
    assert len(run_due_actions(env)) == 1


def test_run_now_is_refused_while_another_worker_holds_the_lease(env, addons):
    name = addons.make("counter", hooks=COUNTER_HOOKS)
    env = open_environment(env.url, clock=env.clock)
    install_addons(env, [name])
    ScheduledAction.update(lease_owner="other:1", lease_until=env.clock.now().replace(year=2999)).execute()
    assert run_action_now(env, "Counter") is None
    assert run_due_actions(env) == []


SLOW_JOB_HOOKS = """
import os, time, peewee
from kernel.db import BaseModel

class Run(BaseModel):
    model_name = "test.cron_run"
    worker = peewee.IntegerField()
    started = peewee.FloatField()
    ended = peewee.FloatField(null=True)
    class Meta:
        table_name = "{table}"

def slow(env):
    row = Run.create(worker=os.getpid(), started=time.time())
    time.sleep(0.3)
    row.ended = time.time()
    row.save()

@hookimpl
def register_models(register):
    register(Run)

@hookimpl
def register_cron_jobs(register):
    register("Slow", slow, 1)
"""


@pytest.mark.slow
def test_two_worker_processes_on_postgres_never_run_one_action_at_once(addons, tmp_path):
    url = os.environ.get("JUNIPER_TEST_POSTGRES")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("JUNIPER_TEST_POSTGRES must name a PostgreSQL database in CI")
        pytest.skip("set JUNIPER_TEST_POSTGRES to run the multi-worker test on PostgreSQL")
    from tests.conftest import _drop_postgres_schema, _fresh_postgres_url

    url, schema = _fresh_postgres_url()
    try:
        name = addons.make("slow", hooks=SLOW_JOB_HOOKS.format(table=addons.name("runs")))
        env = open_environment(url)
        env.ensure_initialized()
        install_addons(env, [name])
        environ = dict(os.environ, JUNIPER_DB=url)
        workers = [subprocess.Popen([sys.executable, "-m", "kernel", "worker"], env=environ,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
        deadline = time.monotonic() + 30
        while env["test.cron_run"].select().where(env["test.cron_run"].ended.is_null(False)).count() < 4:
            assert time.monotonic() < deadline, "the workers ran the action fewer than 4 times in 30 s"
            assert all(worker.poll() is None for worker in workers), "a worker exited early"
            time.sleep(0.2)
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        outputs = [worker.communicate(timeout=10) for worker in workers]
        assert all(worker.returncode == 0 for worker in workers), outputs
        runs = sorted((r.started, r.ended, r.worker) for r in env["test.cron_run"].select())
        assert len(runs) >= 3, outputs
        for (start_a, end_a, _), (start_b, _end_b, _) in zip(runs, runs[1:]):
            assert end_a is not None and start_b >= end_a, "two workers ran the action at the same time"
        env.close()
    finally:
        _drop_postgres_schema(schema)
