"""A stand-in for the chatter's gateway: stores each message once per Message-Id.

A message whose Subject contains ``explode`` makes it raise. With ``$FETCHMAIL_TEST_KILL_AFTER=N`` the
process kills itself with SIGKILL right after the N-th message it stored was committed, i.e. between
storing and acknowledging.
"""
import email
import email.policy
import hashlib
import os
import signal

import peewee

from kernel import hookimpl
from kernel.db import BaseModel

KILL_AFTER_ENV = "FETCHMAIL_TEST_KILL_AFTER"


class ReceivedMessage(BaseModel):
    model_name = "test.received.message"
    fingerprint = peewee.CharField(max_length=64, unique=True)
    message_id = peewee.TextField()
    subject = peewee.TextField(null=True)
    server_name = peewee.CharField(null=True)
    size = peewee.IntegerField()


_committed = {"count": 0}


def _count_commit():
    _committed["count"] += 1
    limit = int(os.environ.get(KILL_AFTER_ENV) or 0)
    if limit and _committed["count"] >= limit:
        os.kill(os.getpid(), signal.SIGKILL)


@hookimpl
def register_models(register):
    register(ReceivedMessage)


@hookimpl
def process_incoming_message(env, raw, server):
    message = email.message_from_bytes(raw, policy=email.policy.default)
    message_id = str(message.get("Message-Id") or "").strip()
    message_id = message_id or "<%s@sha256>" % hashlib.sha256(raw).hexdigest()
    subject = str(message.get("Subject") or "")
    if "explode" in subject:
        raise ValueError("the test gateway refuses subjects saying explode")
    fingerprint = hashlib.sha256(message_id.encode("utf-8", "replace")).hexdigest()
    existing = ReceivedMessage.get_or_none(ReceivedMessage.fingerprint == fingerprint)
    if existing is not None:
        return {"route": "duplicate", "model": ReceivedMessage.model_name, "res_id": existing.id,
                "message_id": message_id}
    row = ReceivedMessage.create(fingerprint=fingerprint, message_id=message_id, subject=subject,
                                 server_name=server.name if server is not None else None, size=len(raw))
    env.on_commit(lambda: _count_commit())  # one call per committed message
    return {"route": "default_model", "model": ReceivedMessage.model_name, "res_id": row.id,
            "message_id": message_id}


@hookimpl
def explain_incoming_message(env, raw):
    message = email.message_from_bytes(raw, policy=email.policy.default)
    return {"route": "default_model", "model": ReceivedMessage.model_name,
            "message_id": str(message.get("Message-Id") or "")}
