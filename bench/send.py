"""`python -m bench.send [--accounts N]`: AWS calls per delivered message, scheduler + senders together,
and the senders' CPU per message, on moto server (the local stack).

N due accounts are placed (about a third with a consented mobile number, so both channels run); one
scheduler tick queues their jobs; the email and SMS queues are drained into the real handlers as their
SQS event sources would (batches of 10). Calls are counted with a botocore hook while a handler runs
(ReceiveMessage / DeleteMessageBatch belong to the event source mapping, not to the function). CPU is
the handler thread's own (`time.thread_time`): moto server answers in other threads of this process.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from botocore.client import BaseClient

from bench.ingest import CallCounter, print_calls

NOW = datetime(2026, 3, 8, 19, 0, tzinfo=UTC)
PORTAL_URL = "http://127.0.0.1:8080"


@dataclass
class SendFigures:
    delivered: int
    emails: int
    texts: int
    enqueued: int
    calls: Counter[str]
    scheduler_calls: int
    sender_calls: int
    sender_cpu_s: float
    warm_cpu_s: float  # every invocation but each channel's first (clients, templates, secrets: once per container)
    warm_delivered: int
    scheduler_cpu_s: float = 0.0  # the handler thread's (its shard queries run in a pool, not counted)
    sender_invocations: int = 0
    sender_log_bytes: int = 0  # what the senders printed (CloudWatch Logs ingests it)

    @property
    def calls_per_message(self) -> float:
        return (self.scheduler_calls + self.sender_calls) / max(self.delivered, 1)

    @property
    def sender_cpu_ms_per_message(self) -> float:
        return 1000 * self.sender_cpu_s / max(self.delivered, 1)

    @property
    def warm_cpu_ms_per_message(self) -> float:
        return 1000 * self.warm_cpu_s / max(self.warm_delivered, 1)


def generate(count: int) -> list[Any]:
    from functions.core.account import Account, Balance, Debtor
    from functions.core.money import Money

    accounts = []
    for n in range(count):
        mobile = n % 3 == 0
        accounts.append(
            Account(
                lender_id="bench",
                external_ref=f"S-{n:06d}",
                debtor=Debtor(
                    f"Debtor {n}",
                    f"d{n}@example.com",
                    f"+1212555{n % 10_000:04d}",
                    "America/New_York",
                    "es" if n % 5 == 0 else "en",
                    phone_is_mobile=mobile,
                    sms_consent=mobile,
                ),  # fmt: skip
                balance=Balance(Money(10_000 + n, "USD"), Money(850, "USD"), Money(2_500 if n % 2 else 0, "USD")),
                due_date=date(2026, 2, 20) - timedelta(days=n % 40),
            )
        )
    return accounts


def measure(
    count: int,
    observer: Any = None,
    before: Any = None,
    phase: Any = None,
    history: int = 0,
) -> SendFigures:
    """`observer(operation, params, response)` sees every counted call after it was made (response None: it
    failed); `before(operation, params, call)` sees it just before, with `call(operation, params)` to make
    uncounted calls on the same client; `phase(name)` hears "scheduler", then "sender". `history`: each
    account has had that many emails already (one every 3 days until 8 days ago, each delivered), as an account
    a month into its outreach has: its item is that much bigger, and every write of it costs 1 unit per KB."""
    from functions import names
    from functions.core.outreach import first_contact_at
    from functions.store import accounts as store
    from local.lambda_events import LocalLambdaContext, scheduled_event
    from local.pumps import SqsPump
    from local.stack import running

    # The functions log at INFO as deployed (infra), not at the local stack's WARNING: their lines are priced.
    os.environ["POWERTOOLS_LOG_LEVEL"] = "INFO"
    os.environ.setdefault(names.ENV_PORTAL_URL, PORTAL_URL)
    os.environ.setdefault(names.ENV_PORTAL_API_URL, f"{PORTAL_URL}/api")
    real_call = BaseClient._make_api_call
    counter = CallCounter()
    counter._active = SimpleNamespace(
        on=False
    )  # one flag for every thread: the scheduler's shard queries run in a pool
    counter.install()
    overhead = {"s": 0.0}  # CPU the observers spend in the handler's thread: not the handler's
    if observer is not None or before is not None:
        _observe(counter, real_call, observer, before, overhead)
    with tempfile.TemporaryDirectory(prefix="cleardue-bench-") as directory, running(Path(directory)) as stack:
        import boto3

        from functions.scheduler.handler import lambda_handler as scheduler
        from functions.sender.handler import email_handler, sms_handler

        shards = stack.settings.due_shards
        placed = generate(count)
        items = [store.new_item(a, first_contact_at(a, NOW - timedelta(hours=1)), "bench", NOW, shards) for a in placed]
        for item in items:
            _with_history(item, history)
        store.put_new(items)
        if phase is not None:
            phase("scheduler")
        started, observed = time.thread_time(), overhead["s"]
        summary = counter.wrap(scheduler)(
            scheduled_event(NOW, "arn:aws:events:::rule/bench"), LocalLambdaContext("cleardue-scheduler")
        )
        scheduler_cpu_s = time.thread_time() - started - (overhead["s"] - observed)
        scheduler_calls = sum(counter.calls.values())
        cpu = {"s": 0.0, "warm_s": 0.0, "warm_delivered": 0, "invocations": 0, "log_bytes": 0}

        def sends() -> int:
            return counter.calls["sesv2:SendEmail"] + counter.calls["sns:Publish"]

        def timed(handler: Any) -> Any:
            counted = counter.wrap(handler)
            invocations = {"n": 0}

            def invoke(event: dict[str, Any], context: Any) -> Any:
                started, sent_before, observed, printed = time.thread_time(), sends(), overhead["s"], io.StringIO()
                try:
                    with _printing_to(printed):
                        return counted(event, context)
                finally:
                    cpu["log_bytes"] += len(printed.getvalue().encode())
                    spent = time.thread_time() - started - (overhead["s"] - observed)
                    cpu["s"] += spent
                    cpu["invocations"] += 1
                    invocations["n"] += 1
                    if invocations["n"] > 1:
                        cpu["warm_s"] += spent
                        cpu["warm_delivered"] += sends() - sent_before

            return invoke

        if phase is not None:
            phase("sender")
        sqs = boto3.client("sqs")
        assert stack.email is not None and stack.sms is not None
        for queue, handler, name in (
            (stack.email, email_handler, "cleardue-email-sender"),
            (stack.sms, sms_handler, "cleardue-sms-sender"),
        ):
            SqsPump(sqs, queue.url, queue.arn, timed(handler), name).drain(NOW)
    calls = counter.calls
    emails, texts = calls["sesv2:SendEmail"], calls["sns:Publish"]
    return SendFigures(
        delivered=emails + texts,
        emails=emails,
        texts=texts,
        enqueued=int(summary.get("enqueued", 0)),
        calls=calls,
        scheduler_calls=scheduler_calls,
        sender_calls=sum(calls.values()) - scheduler_calls,
        sender_cpu_s=cpu["s"],
        warm_cpu_s=cpu["warm_s"],
        warm_delivered=int(cpu["warm_delivered"]),
        scheduler_cpu_s=scheduler_cpu_s,
        sender_invocations=int(cpu["invocations"]),
        sender_log_bytes=int(cpu["log_bytes"]),
    )


@contextlib.contextmanager
def _printing_to(sink: io.StringIO) -> Iterator[None]:
    """What a function writes to CloudWatch Logs, into `sink`: its prints (EMF metrics) and its logger's lines
    (Powertools' handler holds the stdout it was created with, so it is pointed at `sink` too)."""
    from functions.observability import logger

    logger.setLevel("INFO")  # as deployed, whatever level the process's logger was created at
    handler = logger.registered_handler
    stream = handler.setStream(sink) if isinstance(handler, logging.StreamHandler) else None
    try:
        with contextlib.redirect_stdout(sink):
            yield
    finally:
        if stream is not None:
            handler.setStream(stream)


def _with_history(item: Any, emails: int) -> None:
    """The account item as `emails` earlier emails (delivered, none answered) left it: its contact history, its
    count and its engagement counter."""
    from functions.store.accounts import ContactAttribute

    if not emails:
        return
    moments = [NOW - timedelta(days=8 + 3 * n) for n in range(emails)][::-1]
    item.recent_contacts = [ContactAttribute(at=at, channel="email", kind="attempt") for at in moments]
    item.contacts_sent = emails
    item.last_contact_at = moments[-1]
    item.engagement = {"email:delivered": emails}


def _observe(counter: CallCounter, real_call: Any, observer: Any, before: Any, overhead: dict[str, float]) -> None:
    """Around the counter's hook: `before` ahead of each counted call, `observer` after it (also on failure);
    the CPU they spend (in the handler's thread) is added to `overhead`. Only the handlers' own thread
    is timed: the scheduler's shard queries (in a pool) are observed but their time is not counted anyway."""
    counted = BaseClient._make_api_call
    timed = threading.get_ident

    def observed(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if not counter._active.on:
            return counted(client, operation, params)
        key = f"{client.meta.service_model.service_name}:{operation}"
        main = timed() == handler_thread
        started = time.thread_time()
        if before is not None:
            before(key, params, lambda name, arguments: real_call(client, name, arguments))
        if main:
            overhead["s"] += time.thread_time() - started
        response = None
        try:
            response = counted(client, operation, params)
            return response
        finally:
            started = time.thread_time()
            if observer is not None:
                observer(key, params, response)
            if main:
                overhead["s"] += time.thread_time() - started

    handler_thread = threading.get_ident()
    BaseClient._make_api_call = observed  # type: ignore[method-assign]

    BaseClient._make_api_call = observed  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.send")
    parser.add_argument("--accounts", type=int, default=300)
    args = parser.parse_args()
    figures = measure(args.accounts)
    print(
        f"messages delivered: {figures.delivered} ({figures.emails} emails, {figures.texts} texts) "
        f"of {figures.enqueued} jobs from one tick over {args.accounts} due accounts"
    )
    print(
        f"AWS calls per delivered message, scheduler + senders (moto server): {figures.calls_per_message:.2f} "
        f"(scheduler {figures.scheduler_calls / max(figures.delivered, 1):.2f} = {figures.scheduler_calls} calls, "
        f"senders {figures.sender_calls / max(figures.delivered, 1):.2f} = {figures.sender_calls} calls; target <= 4.0)"
    )
    print(
        f"sender CPU per message (handler thread): {figures.sender_cpu_ms_per_message:.1f} ms with each container's "
        f"first batch, {figures.warm_cpu_ms_per_message:.1f} ms warm"
    )
    print_calls(figures.calls)


if __name__ == "__main__":
    main()
