"""Scheduled actions and the worker loop.

A worker claims a due action with a conditional UPDATE on its lease (``lease_until`` in the past or
empty): the database grants it to exactly one worker, on SQLite and on PostgreSQL alike, so two
workers never run one action at the same time. A worker that dies leaves a lease that expires.
"""
import dataclasses
import datetime
import importlib
import logging
import os
import socket
import time
import traceback

from kernel.errors import NotFound
from kernel.models import ScheduledAction
from kernel.plugins import collect

log = logging.getLogger("juniper.cron")

MINIMUM_LEASE_SECONDS = 600


def function_path(function) -> str:
    return f"{function.__module__}:{function.__qualname__}"


def resolve_function(path: str):
    module_name, _, attribute = path.partition(":")
    target = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target


def store_cron_jobs(env, addon: str) -> None:
    """Store (or refresh the function of) the scheduled actions that ``addon`` registers."""
    for _plugin, args, kw in collect(env.pm, "register_cron_jobs", [addon]):
        name, function, interval = args[0], args[1], args[2] if len(args) > 2 else kw["interval_seconds"]
        existing = ScheduledAction.get_or_none(ScheduledAction.name == name)
        if existing:
            existing.function = function_path(function)
            existing.addon = addon
            existing.save()
        else:
            ScheduledAction.create(
                name=name, addon=addon, function=function_path(function),
                description=kw.get("description", ""), interval_seconds=int(interval), next_run=env.clock.now(),
            )


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclasses.dataclass
class CronRun:
    name: str
    ok: bool
    seconds: float
    error: str | None = None


def claim(env, action: ScheduledAction, owner: str, force: bool = False) -> bool:
    """Take the lease of ``action`` for ``owner``; True when this worker won it."""
    now = env.clock.now()
    lease = datetime.timedelta(seconds=max(MINIMUM_LEASE_SECONDS, 2 * action.interval_seconds))
    query = ScheduledAction.update(lease_owner=owner, lease_until=now + lease).where(
        (ScheduledAction.id == action.id)
        & (ScheduledAction.lease_until.is_null() | (ScheduledAction.lease_until < now))
    )
    if not force:
        query = query.where(ScheduledAction.active == True, ScheduledAction.next_run <= now)  # noqa: E712
    return query.execute() == 1


def run_action(env, action: ScheduledAction, owner: str) -> CronRun:
    """Run a claimed action, record the outcome and release the lease."""
    started = time.monotonic()
    error = None
    try:
        resolve_function(action.function)(env)
    except Exception:
        error = traceback.format_exc()
        log.error("scheduled action %r failed:\n%s", action.name, error)
        if env.db.in_transaction():
            env.db.rollback()
    seconds = time.monotonic() - started
    now = env.clock.now()
    ScheduledAction.update(
        lease_owner=None, lease_until=None, last_run=now, last_duration=seconds,
        last_error=error, run_count=ScheduledAction.run_count + 1,
        next_run=now + datetime.timedelta(seconds=action.interval_seconds),
    ).where(ScheduledAction.id == action.id, ScheduledAction.lease_owner == owner).execute()
    return CronRun(action.name, error is None, seconds, error.strip().splitlines()[-1] if error else None)


def run_due_actions(env, owner: str | None = None) -> list[CronRun]:
    """Run every due action this worker can claim, once each."""
    owner = owner or worker_id()
    now = env.clock.now()
    due = list(ScheduledAction.select().where(
        ScheduledAction.active == True, ScheduledAction.next_run <= now  # noqa: E712
    ).order_by(ScheduledAction.next_run, ScheduledAction.id))
    runs = []
    for action in due:
        if claim(env, action, owner):
            runs.append(run_action(env, action, owner))
    return runs


def run_action_now(env, name: str) -> CronRun | None:
    """Run ``name`` now whatever its schedule; None when another worker is running it."""
    action = ScheduledAction.get_or_none(ScheduledAction.name == name)
    if action is None:
        raise NotFound(f"No scheduled action named {name!r}.", hint="See `juniper cron list`.")
    owner = worker_id()
    if not claim(env, action, owner, force=True):
        return None
    return run_action(env, action, owner)


def seconds_until_next_due(env, ceiling: float = 30.0) -> float:
    nxt = (ScheduledAction.select(ScheduledAction.next_run)
           .where(ScheduledAction.active == True)  # noqa: E712
           .order_by(ScheduledAction.next_run).first())
    if nxt is None:
        return ceiling
    return max(0.0, min(ceiling, (nxt.next_run - env.clock.now()).total_seconds()))
