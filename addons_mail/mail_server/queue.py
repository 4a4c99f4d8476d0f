"""The send queue (SPEC §2.4): claim due mails with a lease, send them over one SMTP session per
(server, envelope sender), record every result with one statement per batch.

A claim is one conditional UPDATE ... RETURNING (with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL),
so two workers never claim the same mail. A worker that dies leaves a lease that expires; the next
run returns those mails to ``outgoing`` (their Message-Id unchanged, so a receiver can drop a
duplicate of the one mail that was in flight).
"""
import dataclasses
import datetime
import logging
import re
import smtplib
import time
import uuid
from collections import defaultdict

from addons_mail.mail_server import daily_limit
from kernel.errors import UserError
from addons_mail.mail_server.addresses import decide_sender, envelope_address, split_address
from addons_mail.mail_server.addresses import split_addresses, tagged_bounce_address, token_signature
from addons_mail.mail_server.message_builder import MessageBuilder
from addons_mail.mail_server.models import MailContent, MailServer, OutgoingMail
from addons_mail.mail_server.server_choice import active_servers, choose_outgoing_server
from addons_mail.mail_server.smtp_connection import close_quietly, default_server, describe_failure
from addons_mail.mail_server.smtp_connection import open_smtp_session

log = logging.getLogger("juniper.mail.queue")

BACKOFF_MINUTES = (1, 5, 15, 60)
_RATE_LIMIT_WORDS = re.compile(r"too many|rate.?limit|slow down|throttl|try again later.*messages", re.I)
_CLAIM_COLUMNS = ("id", "email_from", "email_to", "email_cc", "email_bcc", "reply_to", "subject", "headers",
                  "references", "in_reply_to", "content_id", "server_id", "server_forced", "message_id",
                  "attempts")


@dataclasses.dataclass
class QueueRunStats:
    """What one queue run did: mails sent, sent back for a retry, failed for good, or left waiting."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    deferred: int = 0

    def __str__(self) -> str:
        return f"sent {self.sent}, retried {self.retried}, failed {self.failed}, deferred {self.deferred}"


def retry_delay(attempts: int) -> datetime.timedelta:
    """Backoff after the ``attempts``-th failed attempt: 1, 5, 15, 60 minutes, then hourly."""
    return datetime.timedelta(minutes=BACKOFF_MINUTES[min(attempts, len(BACKOFF_MINUTES)) - 1])


def is_rate_limit_reply(code: int, text) -> bool:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return 400 <= code < 500 and bool(_RATE_LIMIT_WORDS.search(str(text)))


@dataclasses.dataclass
class _Outcome:
    sent: list = dataclasses.field(default_factory=list)
    temporary: list = dataclasses.field(default_factory=list)  # (row, failure_type, reason)
    permanent: list = dataclasses.field(default_factory=list)  # (row, failure_type, reason, recipients)
    deferred: list = dataclasses.field(default_factory=list)  # (row, until, failure_type, reason)
    partial: dict = dataclasses.field(default_factory=dict)  # id -> {recipient: reply}


class _RateLimited(Exception):
    def __init__(self, reply: str):
        super().__init__(reply)
        self.reply = reply


class _Session:
    """One SMTP session to a server and how many mails it carried (renewed past the session size)."""

    def __init__(self, server):
        self.server = server
        self.smtp = None
        self.count = 0

    def connection(self, session_size: int):
        if self.smtp is not None and self.count >= session_size:
            self.close()
        if self.smtp is None:
            self.smtp = open_smtp_session(self.server)
            self.count = 0
        return self.smtp

    def close(self):
        close_quietly(self.smtp)
        self.smtp = None


class QueueRunner:
    """One run of the queue for one environment (see :func:`process_queue`)."""

    def __init__(self, env, limit=None, mail_ids=None):
        self.env = env
        self.params = env.params
        self.owner = f"{uuid.uuid4().hex[:12]}"
        self.limit = limit if limit is not None else self.params.get("mail.queue.batch.size")
        self.mail_ids = list(mail_ids) if mail_ids is not None else None
        self.claim_size = max(1, self.params.get("mail.queue.claim.size"))
        self.session_size = max(1, self.params.get("mail.session.batch.size"))
        self.lease = datetime.timedelta(seconds=self.params.get("mail.queue.lease.seconds"))
        self.max_attempts = self.params.get("mail.queue.max.attempts")
        self.daily_limit = daily_limit.daily_limit(env)
        self.stats = QueueRunStats()
        self.builder = MessageBuilder(env)
        self.servers = {s.id: s for s in active_servers()}
        self.default = default_server(env) if not self.servers else None
        self.sessions: dict = {}
        self.choices: dict = {}
        self.decisions: dict = {}
        self.bounce_parts = None
        self.per_minute: dict = defaultdict(list)
        hook = env.pm.hook
        self.choose_hooked = bool(hook.choose_outgoing_server.get_hookimpls())
        self.sent_hooked = bool(hook.after_mail_sent.get_hookimpls())
        self.failed_hooked = bool(hook.after_mail_failed.get_hookimpls())

    # -- claiming ----------------------------------------------------------------------------------

    def recover_expired_leases(self) -> int:
        now = self.env.clock.now()
        return (OutgoingMail.update(state="outgoing", lease_owner=None, lease_until=None)
                .where(OutgoingMail.state == "sending", OutgoingMail.lease_until < now).execute())

    def claim(self, count: int) -> list[dict]:
        now = self.env.clock.now()
        table = OutgoingMail._meta.table_name
        columns = ", ".join(f'"{c}"' for c in _CLAIM_COLUMNS)
        params = [self.owner, now + self.lease, now]
        only = ""
        if self.mail_ids is not None:
            only = f" AND id IN ({', '.join(str(int(i)) for i in self.mail_ids)})"
        if self.env.is_postgres:
            # A CTE runs once: "IN (SELECT ... LIMIT n)" may be re-run by the planner and claim more than n.
            sql = (f"WITH picked AS (SELECT id FROM {table} WHERE state = 'outgoing' AND next_retry_at <= %s{only} "
                   f"ORDER BY next_retry_at, id LIMIT {int(count)} FOR UPDATE SKIP LOCKED) "
                   f"UPDATE {table} AS m SET state = 'sending', lease_owner = %s, lease_until = %s FROM picked "
                   f"WHERE m.id = picked.id RETURNING " + ", ".join(f'm."{c}"' for c in _CLAIM_COLUMNS))
            params = [now, self.owner, now + self.lease]
        else:
            sql = (f"UPDATE {table} SET state = 'sending', lease_owner = ?, lease_until = ? "
                   f"WHERE state = 'outgoing' AND id IN (SELECT id FROM {table} WHERE state = 'outgoing' "
                   f"AND next_retry_at <= ?{only} ORDER BY next_retry_at, id LIMIT {int(count)}) "
                   f"RETURNING {columns}")
        with self.env.atomic():
            cursor = self.env.db.execute_sql(sql, params)
            rows = [dict(zip(_CLAIM_COLUMNS, record)) for record in cursor.fetchall()]
        rows.sort(key=lambda row: row["id"])
        return rows

    def defer_for_daily_limit(self) -> int:
        """Leave due mails waiting until tomorrow, marked ``mail_limit`` with the reason."""
        now = self.env.clock.now()
        query = OutgoingMail.update(
            failure_type="mail_limit", failure_reason=daily_limit.limit_reason(self.daily_limit),
            next_retry_at=daily_limit.next_utc_midnight(self.env),
        ).where(OutgoingMail.state == "outgoing", OutgoingMail.next_retry_at <= now)
        if self.mail_ids is not None:
            query = query.where(OutgoingMail.id.in_(self.mail_ids))
        return query.execute()

    # -- the run -----------------------------------------------------------------------------------

    def run(self) -> QueueRunStats:
        self.recover_expired_leases()
        remaining = self.limit
        try:
            while remaining > 0:
                wanted = min(self.claim_size, remaining)
                granted = daily_limit.reserve(self.env, wanted, self.daily_limit)
                if granted <= 0:
                    self.stats.deferred += self.defer_for_daily_limit()
                    break
                rows = self.claim(granted)
                sent = self.send_rows(rows) if rows else 0
                daily_limit.record(self.env, sent - (granted if self.daily_limit > 0 else 0))
                remaining -= len(rows)
                if len(rows) < granted:
                    break
        finally:
            for session in self.sessions.values():
                session.close()
        return self.stats

    def server_key(self, row) -> int:
        return row["server_id"] if row["server_forced"] and row["server_id"] else 0

    def choose(self, row):
        """(server, from_filter) for a claimed row; forced servers skip the lookup."""
        if row["server_forced"] and row["server_id"]:
            server = self.servers.get(row["server_id"]) or MailServer.get_or_none(MailServer.id == row["server_id"])
            if server is not None:
                self.servers.setdefault(server.id, server)
                return server
        if self.default is not None:
            return self.default
        key = row["email_from"]
        if not self.choose_hooked and key in self.choices:
            return self.choices[key]
        mail = OutgoingMail.get_by_id(row["id"]) if self.choose_hooked else None
        choice = choose_outgoing_server(self.env, row["email_from"], mail=mail,
                                        servers=sorted(self.servers.values(), key=lambda s: (s.priority, s.id)))
        server = choice.server or default_server(self.env)
        self.choices[key] = server
        return server

    def decide(self, row, server):
        key = (row["email_from"], id(server))
        decision = self.decisions.get(key)
        if decision is None:
            decision = decide_sender(self.env, row["email_from"], server.from_filter, mail_id=row["id"])
            self.decisions[key] = decision
        envelope = decision.envelope_from
        if decision.verp:
            if self.bounce_parts is None:
                local, _, domain = tagged_bounce_address(self.env, 0).partition("@")
                self.bounce_parts = (local.partition("+")[0], domain,
                                     (self.params.get("database.secret") or "").encode())
            local, domain, secret = self.bounce_parts
            envelope = f"{local}+{row['id']}-{token_signature(secret, row['id'])}@{domain}"
        return decision, envelope

    def send_rows(self, rows: list[dict]) -> int:
        outcome = _Outcome()
        groups: dict = defaultdict(list)
        now = self.env.clock.now()
        for row in rows:
            if not split_address(row["email_from"])[1]:
                reason = "The mail has no valid From address." if row["email_from"] else "The mail has no From."
                kind = "mail_from_invalid" if row["email_from"] else "mail_from_missing"
                outcome.permanent.append((row, kind, reason, None))
                continue
            recipients = [address for field in ("email_to", "email_cc", "email_bcc")
                          for _name, address in split_addresses(row[field])]
            if not recipients:
                outcome.permanent.append((row, "mail_email_missing", "The mail has no recipient.", None))
                continue
            server = self.choose(row)
            decision, envelope = self.decide(row, server)
            row["_recipients"] = recipients
            row["_decision"] = decision
            row["_envelope"] = envelope
            groups[(id(server), decision.envelope_from)].append((server, row))
        self.builder.prefetch(row["content_id"] for members in groups.values() for _server, row in members)
        for members in groups.values():
            server = members[0][0]
            self.send_group(server, [row for _server, row in members], outcome, now)
        return self.record(outcome)

    def _session_for(self, server) -> _Session:
        key = server.id or 0
        session = self.sessions.get(key)
        if session is None or session.server is not server:
            session = self.sessions[key] = _Session(server)
        return session

    def send_group(self, server, rows, outcome: _Outcome, now) -> None:
        """Send ``rows`` through ``server`` over one session; reconnect once when the line drops."""
        throttled = server.throttled_until
        if throttled is not None and throttled > now:
            for row in rows:
                outcome.deferred.append((row, throttled, None, None))
            return
        if server.max_per_day and server.id:
            left = server.max_per_day - daily_limit.sent_today(self.env, server.id)
            if left < len(rows):
                midnight = daily_limit.next_utc_midnight(self.env)
                reason = f"The server {server.name} may send {server.max_per_day} mails per day; it resumes at 00:00 UTC"
                for row in rows[max(left, 0):]:
                    outcome.deferred.append((row, midnight, "mail_limit", reason))
                rows = rows[:max(left, 0)]
        session = self._session_for(server)
        index = 0
        reconnected = False
        while index < len(rows):
            row = rows[index]
            if server.max_per_minute and not self._minute_allows(server):
                for waiting in rows[index:]:
                    outcome.deferred.append((waiting, now + datetime.timedelta(minutes=1), None, None))
                return
            try:
                smtp = session.connection(self.session_size)
            except Exception as exc:  # the server cannot be reached: every mail of the group waits
                reason = describe_failure(exc, server)
                log.warning("cannot connect to %s: %s", server.label, reason)
                for waiting in rows[index:]:
                    outcome.temporary.append((waiting, "mail_smtp", reason))
                session.close()
                return
            try:
                self.send_one(smtp, server, row, outcome)
                session.count += 1
                reconnected = False
                index += 1
            except _RateLimited as limited:
                self._throttle(server, limited.reply)
                session.close()
                until = server.throttled_until
                for waiting in rows[index:]:
                    outcome.deferred.append((waiting, until, None, None))
                return
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                session.close()
                if isinstance(exc, smtplib.SMTPResponseException) or reconnected:
                    outcome.temporary.append((row, "mail_smtp", describe_failure(exc, server)))
                    index += 1
                    reconnected = False
                    continue
                reconnected = True  # try this mail again on a fresh connection

    def _minute_allows(self, server) -> bool:
        moments = self.per_minute[server.id]
        horizon = time.monotonic() - 60
        while moments and moments[0] < horizon:
            moments.pop(0)
        if len(moments) >= server.max_per_minute:
            return False
        moments.append(time.monotonic())
        return True

    def _throttle(self, server, reply: str) -> None:
        pause = datetime.timedelta(seconds=self.params.get("mail.ratelimit.pause.seconds"))
        until = self.env.clock.now() + pause
        server.throttled_until = until
        if server.id:
            MailServer.update(throttled_until=until).where(MailServer.id == server.id).execute()
        log.warning("%s asks to slow down (%s); pausing it until %s", server.label, reply, until)

    def send_one(self, smtp, server, row, outcome: _Outcome) -> None:
        """Send one mail; a reply that refuses it for good or for now is recorded in ``outcome``."""
        try:
            message = self.builder.build(row, row["_decision"].header_from)
        except (ValueError, UserError) as exc:
            outcome.permanent.append((row, "mail_email_invalid", str(exc), None))
            return
        if message is None:
            outcome.permanent.append((row, "unknown", self.builder.refusal, None))
            return
        envelope = envelope_address(row["_envelope"])
        recipients = [envelope_address(address) for address in row["_recipients"]]
        try:
            refused = smtp.sendmail(envelope, recipients, message)
        except smtplib.SMTPRecipientsRefused as exc:
            replies = {address: (code, text) for address, (code, text) in exc.recipients.items()}
            if any(is_rate_limit_reply(code, text) for code, text in replies.values()):
                raise _RateLimited(_reply(*next(iter(replies.values())))) from None
            reason = describe_failure(exc, server)
            failures = {address: _reply(code, text) for address, (code, text) in replies.items()}
            if all(code >= 500 for code, _text in replies.values()):
                outcome.permanent.append((row, "mail_smtp", reason, failures))
            else:
                outcome.temporary.append((row, "mail_smtp", reason))
            return
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            if is_rate_limit_reply(exc.smtp_code, exc.smtp_error):
                raise _RateLimited(_reply(exc.smtp_code, exc.smtp_error)) from None
            if exc.smtp_code == 421:
                raise smtplib.SMTPServerDisconnected(_reply(exc.smtp_code, exc.smtp_error)) from None
            reason = describe_failure(exc, server)
            if exc.smtp_code >= 500:
                outcome.permanent.append((row, "mail_smtp", reason, None))
            else:
                outcome.temporary.append((row, "mail_smtp", reason))
            return
        if refused:
            outcome.partial[row["id"]] = {address: _reply(code, text) for address, (code, text) in refused.items()}
        outcome.sent.append(row)

    # -- recording ---------------------------------------------------------------------------------

    def record(self, outcome: _Outcome) -> int:
        env, now = self.env, self.env.clock.now()
        mine = (OutgoingMail.lease_owner == self.owner)
        sent_ids = [row["id"] for row in outcome.sent]
        with env.atomic():
            if sent_ids:
                (OutgoingMail.update(state="sent", sent_at=now, attempts=OutgoingMail.attempts + 1,
                                     lease_owner=None, lease_until=None, failure_type=None, failure_reason=None)
                 .where(OutgoingMail.id.in_(sent_ids), mine).execute())
                for mail_id, failures in outcome.partial.items():
                    OutgoingMail.update(recipient_failures=failures).where(OutgoingMail.id == mail_id).execute()
                by_server: dict = defaultdict(int)
                for row in outcome.sent:
                    key = self.server_key(row)
                    by_server[key] += 1
            deferred_groups: dict = defaultdict(list)
            for row, until, failure_type, reason in outcome.deferred:
                deferred_groups[(until, failure_type, reason)].append(row["id"])
            for (until, failure_type, reason), ids in deferred_groups.items():
                fields = {"state": "outgoing", "lease_owner": None, "lease_until": None, "next_retry_at": until}
                if failure_type:
                    fields.update(failure_type=failure_type, failure_reason=reason)
                OutgoingMail.update(**fields).where(OutgoingMail.id.in_(ids), mine).execute()
            for row, failure_type, reason in outcome.temporary:
                attempts = row["attempts"] + 1
                final = attempts >= self.max_attempts
                OutgoingMail.update(
                    state="exception" if final else "outgoing", attempts=attempts, failure_type=failure_type,
                    failure_reason=reason if not final else f"{reason} (gave up after {attempts} attempts)",
                    next_retry_at=now + retry_delay(attempts), lease_owner=None, lease_until=None,
                ).where(OutgoingMail.id == row["id"], mine).execute()
            for row, failure_type, reason, failures in outcome.permanent:
                OutgoingMail.update(
                    state="exception", attempts=row["attempts"] + 1, failure_type=failure_type,
                    failure_reason=reason, recipient_failures=failures, lease_owner=None, lease_until=None,
                ).where(OutgoingMail.id == row["id"], mine).execute()
        if sent_ids:
            for server_id, count in by_server.items():
                if server_id:
                    daily_limit.record(env, count, server_id)
        self.stats.sent += len(sent_ids)
        self.stats.deferred += len(outcome.deferred)
        self.stats.retried += sum(1 for row, *_ in outcome.temporary if row["attempts"] + 1 < self.max_attempts)
        self.stats.failed += len(outcome.permanent) + sum(
            1 for row, *_ in outcome.temporary if row["attempts"] + 1 >= self.max_attempts)
        self.fire_hooks(outcome, sent_ids)
        if sent_ids:
            OutgoingMail.delete().where(OutgoingMail.id.in_(sent_ids), OutgoingMail.auto_delete == True,  # noqa
                                        OutgoingMail.state == "sent").execute()
        return len(sent_ids)

    def fire_hooks(self, outcome: _Outcome, sent_ids: list[int]) -> None:
        hook = self.env.pm.hook
        if self.sent_hooked and sent_ids:
            mails = list(OutgoingMail.select().where(OutgoingMail.id.in_(sent_ids)).order_by(OutgoingMail.id))
            with self.env.atomic():
                hook.after_mail_sent(env=self.env, mails=mails)
        if self.failed_hooked:
            failures = [(row, kind, reason, row["attempts"] + 1 >= self.max_attempts)
                        for row, kind, reason in outcome.temporary]
            failures += [(row, kind, reason, True) for row, kind, reason, _ in outcome.permanent]
            for row, kind, reason, permanent in failures:
                mail = OutgoingMail.get_or_none(OutgoingMail.id == row["id"])
                if mail is not None:
                    with self.env.atomic():
                        hook.after_mail_failed(env=self.env, mail=mail, failure_type=kind, reason=reason,
                                               permanent=permanent)


def _reply(code, text) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(str(text).split())}"


def process_queue(env, limit: int | None = None, mail_ids=None) -> QueueRunStats:
    """Send the due mails (all, or only ``mail_ids``): at most ``limit`` (default ``mail.queue.batch.size``)."""
    return QueueRunner(env, limit=limit, mail_ids=mail_ids).run()


def delete_orphan_contents(env) -> int:
    """Remove stored bodies no mail uses any more (sent mails are auto-deleted)."""
    used = OutgoingMail.select(OutgoingMail.content)
    return MailContent.delete().where(MailContent.id.not_in(used)).execute()


def run_queue_job(env) -> None:
    """The scheduled action "Mail: Email Queue Manager"."""
    stats = process_queue(env)
    delete_orphan_contents(env)
    if stats.sent or stats.retried or stats.failed:
        log.info("mail queue: %s", stats)
