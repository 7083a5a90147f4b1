"""One strategy, one population, one seed: the real handlers on moto (in-process) and the Stripe emulator,
driven by a virtual clock that jumps from one event to the next.

Events, in time order: a scheduler tick (the next `next_contact_at` in the due index, on EventBridge's
15-minute grid), or a debtor's intention (open, click, portal visit, opt-out, complaint, a promise's date).
After each, the queues are pumped as Lambda's event source mappings would (stamped with the virtual time),
the messages SES and SNS accepted are handed to their debtors, and Stripe's webhooks are awaited.

The debtors act only through the real interfaces: SES event publishing and SNS inbound texts (SNS-wrapped)
to the webhooks function, API Gateway v2 events to the portal API, the emulator's hosted checkout form (its
signed webhooks reach the webhooks function over HTTP through the local gateway). The KPIs and the audit
check read only the tables and the audit trail.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import itertools
import json
import logging
import os
import random
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from local.simulate import behaviour
from local.simulate.behaviour import DebtorState, Intent, Seen
from local.simulate.population import Debtor, Population, portfolio_csv, sample

EVENTS_DIR = Path(__file__).parent / "events"
TICK = timedelta(minutes=15)
LENDER_ID = "simbank"
CARD_OK = "4242424242424242"
CARD_FAILS_LATER = "4000000000009995"  # saved for a plan, then declined off-session (insufficient funds)
CARD_FORM = {"email": "debtor@sim.example.com", "exp": "12/40", "cvc": "123", "name": "Sim Debtor"}
SOURCE_IP = "198.51.100.7"
log = logging.getLogger("cleardue.simulate")


@dataclass
class RunConfig:
    population: Population
    policy: Path
    accounts: int = 5000
    days: int = 90
    seed: int = 1
    start: datetime = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)  # a Monday, before 08:00 in every US zone
    due_shards: int = 2
    out: Path | None = None
    direct_dynamodb: bool = True  # DynamoDB item operations straight to moto's handler (direct_dynamodb.py)


@dataclass
class RunResult:
    strategy: str
    kpis: dict[str, Any]
    violations: list[dict[str, Any]]
    stats: dict[str, Any] = field(default_factory=dict)


@functools.cache
def _fixture_text(name: str) -> str:
    return (EVENTS_DIR / name).read_text(encoding="utf-8")


def _fixture(name: str) -> dict[str, Any]:
    """A fresh copy of an event captured from AWS's documentation (local/simulate/events/)."""
    return json.loads(_fixture_text(name))  # type: ignore[no-any-return]


_ids = random.Random()  # seeded from urandom once


def _uuid4() -> uuid.UUID:
    """A random (version 4) UUID, as uuid.uuid4 makes, from a generator seeded once."""
    return uuid.UUID(int=_ids.getrandbits(128), version=4)


def _iso_ms(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


@contextlib.contextmanager
def virtual_sqs_clock(now: Callable[[], datetime]) -> Iterator[None]:
    """moto's SQS on the simulation's clock: a message's delay, its visibility after a receive (a handler's
    back-off of 30 s, the queue's timeout after a failed batch) and its retention run in virtual time, as they
    run in AWS's time beside the functions. On the real clock a 30-second back-off lasted 30 seconds of the run
    (about half a virtual day), and the messages waiting it out made every receive walk them."""
    from moto.sqs import models

    real = models.unix_time, models.unix_time_millis

    def unix_time(dt: datetime | None = None) -> float:
        return now().timestamp() if dt is None else real[0](dt)

    def unix_time_millis(dt: datetime | None = None) -> float:
        return unix_time(dt) * 1000.0

    models.unix_time, models.unix_time_millis = unix_time, unix_time_millis  # type: ignore[assignment]
    try:
        yield
    finally:
        models.unix_time, models.unix_time_millis = real  # type: ignore[assignment]


def next_visible(queues: Iterator[Any], now: datetime) -> datetime | None:
    """The first moment after `now` at which a message of `queues` (moto's) becomes visible: the end of a delay or
    of a visibility timeout (an observer's read of moto's queues, as the clock reads the due index)."""
    moment = now.timestamp() * 1000.0
    ends = (max(message.visible_at, message.delayed_until) for queue in queues for message in queue._messages)
    first = min((end for end in ends if end > moment), default=None)
    return datetime.fromtimestamp(first / 1000.0, UTC) if first is not None else None


class _VirtualTime:
    """Stands in for the `time` module inside the Stripe emulator's state: objects are `created` on the
    virtual clock (Stripe stamps events with its own clock; here that clock is the simulation's)."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now

    def time(self) -> float:
        return self._now().timestamp()

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


class Simulation:
    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self.now = config.start
        self.debtors: list[Debtor] = sample(config.population, config.accounts, config.seed, config.start.date())
        self.states: dict[str, DebtorState] = {}
        self.by_email: dict[str, DebtorState] = {}
        self.by_phone: dict[str, DebtorState] = {}
        for debtor in self.debtors:
            state = DebtorState(debtor, random.Random(f"{config.seed}/{debtor.index}"))
            self.states[debtor.external_ref] = state
            if debtor.email:
                self.by_email[debtor.email] = state
            if debtor.phone:
                self.by_phone[debtor.phone] = state
        self.intents: list[tuple[datetime, int, str, Intent]] = []  # (at, order, external_ref, intent)
        self._order = itertools.count()
        self._requests = itertools.count(1)
        self.stats: Counter[str] = Counter()
        self.timings: Counter[str] = Counter()
        self._emails_seen = 0
        self._texts_seen = 0
        self._day = -1
        self._started = time.perf_counter()

    # -- setup ----------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _world(self, state_dir: Path) -> Iterator[None]:
        from moto import mock_aws

        from local import moto_tuning
        from local.simulate import moto_speed
        from local.stack import LocalStack

        moto_tuning.apply()
        moto_speed.apply()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        real_uuid4 = uuid.uuid4
        uuid.uuid4 = _uuid4  # random ids without a urandom read each (slow on this VM): PynamoDB, moto, contexts
        saved = dict(os.environ)
        os.environ.pop("AWS_ENDPOINT_URL", None)
        os.environ["POWERTOOLS_TRACE_DISABLED"] = "true"
        os.environ["POWERTOOLS_METRICS_NAMESPACE"] = "cleardue-simulation"
        try:
            with mock_aws(), virtual_sqs_clock(lambda: self.now):
                from functions.store.settings import StoreSettings

                stack = LocalStack(state_dir=state_dir, endpoint="in-process")
                stack.settings = StoreSettings(due_shards=self.config.due_shards)
                stack.start()  # the local stack's environment; the endpoint is moto in this process
                os.environ.pop("AWS_ENDPOINT_URL", None)
                stack.endpoint = None
                os.environ["DUE_SHARDS"] = str(self.config.due_shards)
                stack.provision(publish=False)
                self.stack = stack
                from local.simulate import direct_dynamodb

                direct_dynamodb.install(direct=self.config.direct_dynamodb)
                try:
                    with self._payments():
                        yield
                finally:
                    direct_dynamodb.uninstall()
        finally:
            uuid.uuid4 = real_uuid4
            os.environ.clear()
            os.environ.update(saved)

    @contextlib.contextmanager
    def _payments(self) -> Iterator[None]:
        from functions.webhooks.handler import stripe_handler
        from local.gateway import Gateway, portal_environment
        from local.stripe_emulator import StripeEmulator
        from local.stripe_emulator import state as emulator_state

        real_time = emulator_state.time
        emulator_state.time = _VirtualTime(lambda: self.now)  # type: ignore[assignment]
        try:
            with StripeEmulator(retry_delays=(0.05, 0.2, 0.5)) as emulator:
                gateway = Gateway(webhooks_handler=stripe_handler, clock=lambda: self.now)
                gateway.start()
                try:
                    emulator.set_webhook_url(f"{gateway.url}/webhooks/stripe")
                    os.environ.update(portal_environment(gateway.url, emulator.base_url, emulator.webhook_secret))
                    self.emulator = emulator
                    yield
                finally:
                    gateway.stop()
        finally:
            emulator_state.time = real_time  # type: ignore[assignment]

    def _wire(self) -> None:
        import boto3

        from functions.charger.handler import lambda_handler as charger_handler
        from functions.ingest.handler import lambda_handler as ingest_handler
        from functions.portal_api.handler import handler as portal_handler
        from functions.scheduler.handler import lambda_handler as scheduler_handler
        from functions.sender.handler import email_handler, sms_handler
        from functions.webhooks.handler import events_handler
        from local.pumps import S3NotificationPump, SqsPump

        stack = self.stack
        self.sqs = boto3.client("sqs")
        self.s3 = boto3.client("s3")
        self.notifications = S3NotificationPump(self.sqs, stack.notifications_url, ingest_handler, "ingest")
        self.chunks = SqsPump(self.sqs, stack.ingest.url, stack.ingest.arn, ingest_handler, "ingest")
        self.email = SqsPump(self.sqs, stack.email.url, stack.email.arn, email_handler, "sender")
        self.sms = SqsPump(self.sqs, stack.sms.url, stack.sms.arn, sms_handler, "sms-sender")
        self.charges = SqsPump(self.sqs, stack.charges.url, stack.charges.arn, charger_handler, "charger")
        self._job_queues = (stack.email, stack.sms, stack.charges)
        self.scheduler = scheduler_handler
        self.portal = portal_handler
        self.feedback = events_handler

    def _place(self) -> None:
        """The lender uploads its policy, then the portfolio: ingest runs as S3 would trigger it."""
        from functions import names
        from functions.core.lender import LenderProfile
        from local.stack import PORTFOLIO_BUCKET

        text = self.config.policy.read_text(encoding="utf-8")
        document = json.loads(text)
        document["lender_id"] = LENDER_ID
        profile = LenderProfile.model_validate(document)
        self.profile = profile
        self.s3.put_object(
            Bucket=PORTFOLIO_BUCKET, Key=f"{names.POLICY_PREFIX}{LENDER_ID}/policy.json", Body=json.dumps(document)
        )
        self._ingest()
        if profile.sender_email:
            self.stack.verify_sender(str(profile.sender_email))
        body = portfolio_csv(self.debtors).encode("utf-8")
        self.s3.put_object(Bucket=PORTFOLIO_BUCKET, Key=f"portfolios/{LENDER_ID}/placement.csv", Body=body)
        self._ingest()

    def _ingest(self) -> None:
        from local.lambda_events import LocalLambdaContext  # noqa: F401 - the pumps build their contexts

        for result in self.notifications.drain(self.now).results:
            for file in result.get("files", []):
                if file.get("status") not in ("queued", "completed", "accepted", "duplicate"):
                    log.warning("ingest: %s", file)
        while self.chunks.drain(self.now).processed:
            pass

    # -- the clock ------------------------------------------------------------------------------------

    def _next_due(self) -> datetime | None:
        """The earliest `next_contact_at` in the due index, read from moto's table as an observer (a
        DynamoDB Query per shard would cost the clock what it costs the scheduler; the handlers' own reads are
        real): from moto_speed's view of the index, or a walk of the table's items."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        from functions.store.accounts import DueIndex
        from local.simulate import moto_speed

        table = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_table(self.stack.settings.accounts_table)
        earliest: str | None = None
        try:
            earliest = moto_speed.index_minimum(table, DueIndex.Meta.index_name)
        except LookupError:
            for item in list(table.items.values()):
                attrs = item.attrs
                if "due_shard" not in attrs:
                    continue
                value = attrs.get("next_contact_at")
                if value is not None and (earliest is None or value.value < earliest):
                    earliest = value.value
        if earliest is None:
            return None
        from functions.core.clock import parse_utc

        moment = parse_utc(earliest.replace("+0000", "+00:00"))
        return max(moment, self.now)

    def _next_visible(self) -> datetime | None:
        """When a message of the functions' job queues next becomes visible (their event source mappings would
        deliver it then)."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.sqs.models import sqs_backends

        backend = sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
        queues = (backend.get_queue(queue.url.rsplit("/", 1)[1]) for queue in self._job_queues)
        return next_visible(queues, self.now)

    @staticmethod
    def _tick_at(moment: datetime) -> datetime:
        """EventBridge's next 15-minute tick at or after `moment`."""
        epoch = datetime(2000, 1, 1, tzinfo=UTC)
        slots = -(-(moment - epoch) // TICK)  # ceiling
        return epoch + slots * TICK

    def run(self) -> RunResult:
        from local.simulate import direct_dynamodb

        strategy = self.config.policy.stem
        with tempfile.TemporaryDirectory(prefix="cleardue-sim-") as scratch:
            state_dir = Path(scratch)
            log_path = (self.config.out / f"{strategy}.functions.log") if self.config.out else state_dir / "log"
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with (
                log_path.open("w", encoding="utf-8") as function_log,
                contextlib.redirect_stdout(function_log),
                self._world(state_dir),
            ):
                started = time.perf_counter()
                self._reset_handlers()
                self._wire()
                self._place()
                self.timings["setup_s"] = time.perf_counter() - started
                calls_before = Counter(direct_dynamodb.calls)
                aws_before = Counter(direct_dynamodb.seconds)
                cpu_before = time.process_time()
                self._loop()
                self.timings["loop_s"] = time.perf_counter() - started - self.timings["setup_s"]
                self.timings["loop_cpu_s"] = time.process_time() - cpu_before
                # The loop's time inside the AWS calls (moto and the client's side of the call), by service, and
                # the rest of its CPU: the functions' own work, the debtors, the clock (see direct_dynamodb)
                inside = Counter(direct_dynamodb.seconds)
                inside.subtract(aws_before)
                for service, seconds in inside.items():
                    self.timings[f"loop_aws_{service}_s"] = seconds
                self.timings["loop_aws_s"] = sum(inside.values())
                self.timings["loop_other_cpu_s"] = self.timings["loop_cpu_s"] - self.timings["loop_aws_s"]
                loop_calls = Counter(direct_dynamodb.calls)
                loop_calls.subtract(calls_before)
                self.stats["aws_calls"] = sum(loop_calls.values())
                for (service, _), count in loop_calls.items():
                    self.stats[f"aws_calls_{service}"] += count
                result = self._measure(strategy)
                self._reset_handlers()
        return result

    def _loop(self) -> None:
        end = self.config.start + timedelta(days=self.config.days)
        last_tick: datetime | None = None
        while True:
            due = self._next_due()
            tick = self._tick_at(due) if due is not None else None
            if tick is not None and last_tick is not None and tick <= last_tick:
                tick = last_tick + TICK  # what the last tick left due (a failure, a run out of time) waits for the next
            action = self.intents[0][0] if self.intents else None
            retry = self._next_visible()  # a job's back-off, or a failed batch's visibility, ends
            candidates = [moment for moment in (tick, action, retry) if moment is not None]
            if not candidates:
                break
            moment = min(candidates)
            if moment >= end:
                break
            self.now = max(self.now, moment)
            day = (self.now - self.config.start).days
            if day != self._day:
                self._day = day
                self._progress()
            if tick is not None and tick <= moment:
                self._tick()
                last_tick = tick
            while self.intents and self.intents[0][0] <= self.now:
                _, _, ref, intent = heapq.heappop(self.intents)
                self._carry_out(self.states[ref], intent)
            self._pump()
        self.now = end

    def _progress(self) -> None:
        log.info(
            "day %d: %d ticks, %d emails, %d texts, %d paid in full, %.0f s",
            self._day,
            self.stats["ticks"],
            self.stats["emails_delivered"],
            self.stats["texts_delivered"],
            self.stats["paid_in_full"],
            time.perf_counter() - self._started,
        )

    def _tick(self) -> None:
        from local.lambda_events import LocalLambdaContext, scheduled_event
        from local.runner import SCHEDULE_RULE_ARN

        started = time.perf_counter()
        summary = self.scheduler(scheduled_event(self.now, SCHEDULE_RULE_ARN), LocalLambdaContext("scheduler"))
        self.stats["ticks"] += 1
        self.stats["jobs_enqueued"] += int(summary.get("enqueued", 0))
        self.timings["scheduler_s"] += time.perf_counter() - started
        self._pump()

    def _pump(self) -> None:
        started = time.perf_counter()
        charged = self.charges.drain(self.now)
        if charged.processed or charged.failed:
            self._await_stripe()
        self.timings["charger_s"] += time.perf_counter() - started
        started = time.perf_counter()
        sent = self.email.drain(self.now)
        texted = self.sms.drain(self.now)
        self.stats["send_failures"] += sent.failed + texted.failed
        self.timings["sender_s"] += time.perf_counter() - started
        if sent.processed:
            self._deliver_emails()
        if texted.processed:
            self._deliver_texts()

    # -- deliveries -----------------------------------------------------------------------------------

    def _deliver_emails(self) -> None:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.ses.models import ses_backends

        sent = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
        for message in sent[self._emails_seen :]:
            fields = vars(message)
            destinations = fields.get("destinations")
            addresses = destinations.get("ToAddresses", []) if isinstance(destinations, dict) else destinations
            raw = fields.get("raw_data") or ""
            for address in dict.fromkeys(addresses or []):
                state = self.by_email.get(str(address).lower())
                if state is None:
                    continue
                self.stats["emails_delivered"] += 1
                self._react(state, behaviour.seen_email(raw, str(fields.get("id")), self.now))
        self._emails_seen = len(sent)

    def _deliver_texts(self) -> None:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.sns.models import sns_backends

        texts = list(sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages.items())
        for message_id, (phone, body) in texts[self._texts_seen :]:
            state = self.by_phone.get(str(phone))
            if state is None:
                continue
            self.stats["texts_delivered"] += 1
            self._react(state, behaviour.seen_text(str(body), str(message_id), self.now))
        self._texts_seen = len(texts)

    def _react(self, state: DebtorState, seen: Seen) -> None:
        for intent in behaviour.react(state, seen):
            heapq.heappush(self.intents, (intent.at, next(self._order), state.debtor.external_ref, intent))

    def _schedule(self, state: DebtorState, intent: Intent) -> None:
        heapq.heappush(self.intents, (intent.at, next(self._order), state.debtor.external_ref, intent))

    # -- what debtors do ------------------------------------------------------------------------------

    def _carry_out(self, state: DebtorState, intent: Intent) -> None:
        started = time.perf_counter()
        self.stats[f"intent_{intent.kind}"] += 1
        kind, seen = intent.kind, intent.seen
        if kind == "delivered":
            pass  # no receipt: the stack asks for none (infra), the sender counted the message as it claimed it
        elif kind == "open":
            self._ses_event(state, seen, "Open")
        elif kind == "click":
            self._ses_event(state, seen, "Click")
        elif kind == "complain":
            self._ses_event(state, seen, "Complaint")
        elif kind == "unsubscribe":
            self._unsubscribe(state, seen)
        elif kind == "stop":
            self._sms_reply(state, "STOP")
        elif kind in ("visit", "keep_promise"):
            self._visit(state, seen, keeping=kind == "keep_promise")
        self.timings[f"debtor_{kind}_s"] += time.perf_counter() - started

    def _sns(self, message_id: str, message: dict[str, Any]) -> dict[str, Any]:
        envelope = _fixture("powertools_snsEvent.json")
        record = envelope["Records"][0]
        record["Sns"].update(
            MessageId=message_id, Message=json.dumps(message), Timestamp=_iso_ms(self.now), Subject=None
        )
        record["Sns"]["MessageAttributes"] = {}
        return envelope

    def _invoke_feedback(self, message_id: str, message: dict[str, Any]) -> None:
        from local.lambda_events import LocalLambdaContext

        self.feedback(self._sns(message_id, message), LocalLambdaContext("webhooks-feedback"))

    def _ses_event(self, state: DebtorState, seen: Seen, kind: str) -> None:
        """SES event publishing (configuration set -> SNS), as the fixtures in /work/shared show it."""
        from functions.core.engagement import ACCOUNT_TAG, account_tag

        name = {"Open": "open", "Click": "click", "Complaint": "complaint"}[kind]
        event = _fixture(f"ses_eventpub_{name}.json")
        address = str(state.debtor.email)
        mail = event["mail"]
        mail.update(messageId=seen.message_id, destination=[address], timestamp=_iso_ms(seen.at))
        mail["commonHeaders"]["to"] = [address]
        mail["tags"] = {ACCOUNT_TAG: [account_tag(f"{LENDER_ID}#{state.debtor.external_ref}")]}
        section = event[name]
        section["timestamp"] = _iso_ms(self.now)
        if kind == "Complaint":
            section["complainedRecipients"] = [{"emailAddress": address}]
        if kind == "Click" and seen.token:
            section["link"] = f"{os.environ.get('PORTAL_URL', '')}/#t={seen.token}"
        self._invoke_feedback(f"sim-ses-{seen.message_id}-{name}", event)

    def _sms_reply(self, state: DebtorState, body: str) -> None:
        """A two-way SMS reply as SNS publishes it to the webhooks function's topic."""
        inbound = f"sim-inbound-{next(self._requests)}"
        message = {
            "originationNumber": state.debtor.phone,
            "destinationNumber": "+18005550199",
            "messageKeyword": body.split()[0].upper(),
            "messageBody": body,
            "inboundMessageId": inbound,
            "previousPublishedMessageId": None,
        }
        self._invoke_feedback(inbound, message)

    def _api(self, method: str, path: str, body: Any = None, session: str | None = None, query: str = "") -> Any:
        from local.lambda_events import LocalLambdaContext
        from local.portal_gateway import event_from_request, response_parts

        headers = {"content-type": "application/json", "user-agent": "cleardue-simulated-debtor"}
        if session:
            headers["authorization"] = f"Bearer {session}"
        event = event_from_request(
            method,
            path,
            now=self.now,
            body=json.dumps(body) if body is not None else None,
            headers=headers,
            query=query,
            request_id=f"sim-{next(self._requests):08d}",
            source_ip=SOURCE_IP,
        )
        status, _, data = response_parts(self.portal(event, LocalLambdaContext("cleardue-portal-api")))
        self.stats[f"api_{method} {path} {status}"] += 1
        try:
            return status, json.loads(data) if data else None
        except ValueError:
            return status, None

    def _unsubscribe(self, state: DebtorState, seen: Seen) -> None:
        """RFC 8058 one-click unsubscribe: the mail client POSTs to the List-Unsubscribe URL."""
        if seen.token:
            self._api("POST", "/unsubscribe", query=f"t={seen.token}&c=email")

    def _session(self, state: DebtorState, token: str) -> str | None:
        status, body = self._api("POST", "/session", {"token": token, "date_of_birth": state.debtor.date_of_birth})
        return body["session"] if status == 200 and body else None

    def _visit(self, state: DebtorState, seen: Seen, keeping: bool = False) -> None:
        token = seen.token or state.last_token
        if token is None or state.done:
            return
        session = self._session(state, token)
        if session is None:
            return
        status, account = self._api("GET", "/account", session=session)
        if status != 200 or not account:
            return
        options = account.get("options") or {}
        total = int(account["balance"]["total"]["minor"])
        if total <= 0 or account.get("status") in ("paid", "settled", "closed"):
            state.paid = True
            return
        if keeping:
            self._pay(state, session)
            return
        plan_option = options.get("plan") or {}
        promise_option = options.get("promise") or {}
        choice = behaviour.portal_choice(
            state,
            total,
            int((plan_option.get("min_installment") or {}).get("minor") or 2500),
            self.profile.payments.max_promise_days,
        )
        self.stats[f"choice_{choice.kind}"] += 1
        if choice.kind == "dispute":
            status, _ = self._api(
                "POST", "/disputes", {"reason": "wrong_amount", "details": "I do not recognise this amount."}, session
            )
            state.disputed = status == 200
        elif choice.kind == "pay" and options.get("pay_full"):
            self._pay(state, session)
        elif choice.kind == "hardship":
            state.hardship_asked = True
            affordable = max(1000, round(total * state.debtor.capacity / 3))
            status, answer = self._api("POST", "/hardship", {"monthly_affordable_minor": affordable}, session)
            offer = ((answer or {}).get("offer") or {}).get("plan") if status == 200 else None
            if offer and plan_option:
                self._plan(state, session, int(offer["installments"]), account)
        elif choice.kind == "plan" and plan_option:
            minimum = int(plan_option["min_installment"]["minor"])
            most = int(plan_option["max_installments"])
            installments = max(2, min(most, total // max(1, minimum)))
            self._plan(state, session, installments, account)
        elif choice.kind == "promise" and promise_option:
            latest = date.fromisoformat(promise_option["max_date"])
            today = self.now.astimezone(ZoneInfo(state.debtor.timezone)).date()
            on = min(latest, today + timedelta(days=choice.days))
            status, _ = self._api("POST", "/promises", {"amount_minor": total, "date": on.isoformat()}, session)
            if status == 200:
                noon = datetime.combine(on, datetime.min.time(), ZoneInfo(state.debtor.timezone)) + timedelta(
                    hours=state.rng.uniform(9, 20)
                )
                state.promise_until = noon.astimezone(UTC)
                if state.debtor.keeps_promise:
                    self._schedule(state, Intent(state.promise_until, "keep_promise", seen))

    def _pay(self, state: DebtorState, session: str) -> None:
        status, started = self._api("POST", "/payments", {}, session)
        if status != 200 or not started:
            return
        if self._checkout(started["checkout_url"], CARD_OK):
            state.paid = True
            self.stats["paid_in_full"] += 1

    def _plan(self, state: DebtorState, session: str, installments: int, account: dict[str, Any]) -> None:
        plan_option = account["options"]["plan"]
        start = min(
            date.fromisoformat(plan_option["max_start_date"]),
            self.now.astimezone(ZoneInfo(state.debtor.timezone)).date() + timedelta(days=state.rng.randint(1, 14)),
        )
        body = {"installments": installments, "start_date": start.isoformat()}
        status, chosen = self._api("POST", "/plans", body, session)
        if status != 200 or not chosen:
            return
        state.plan_chosen = True
        card = CARD_OK if state.debtor.keeps_plan else CARD_FAILS_LATER
        if self._checkout(chosen["checkout_url"], card):
            self.stats["plans_set_up"] += 1

    def _checkout(self, url: str, card: str) -> bool:
        """Submit the emulator's hosted checkout form as a browser does; its signed webhooks follow."""
        import requests

        response = requests.post(url, data={**CARD_FORM, "cardnumber": card}, allow_redirects=False, timeout=30)
        self._await_stripe()
        return response.status_code == 303

    def _await_stripe(self) -> None:
        started = time.perf_counter()
        if not self.emulator.wait_for_webhooks(timeout=60):
            log.warning("Stripe webhooks still in flight after 60 s")
        self.timings["stripe_wait_s"] += time.perf_counter() - started

    # -- the measurement ------------------------------------------------------------------------------

    def _measure(self, strategy: str) -> RunResult:
        from functions.core import audit_check, kpis
        from functions.store import accounts, events, lenders
        from functions.store.accounts import AccountModel

        started = time.perf_counter()
        self._pump()
        records = []
        for debtor in self.debtors:
            account_id = f"{LENDER_ID}#{debtor.external_ref}"
            account = accounts.get(account_id)
            if account is None:
                continue  # the row was rejected at ingest
            placed_at = AccountModel.get(account_id, attributes_to_get=["created_at"]).created_at
            records.append(kpis.AccountRecord(account, events.history(account_id), placed_at))
        rules = {LENDER_ID: audit_check.CheckRules.from_rules(lenders.get_or_default(LENDER_ID).rules())}
        violations = audit_check.check_all(((r.account, r.trail) for r in records), rules)
        figures = kpis.overall(records, self.now).as_dict()
        self.timings["measure_s"] = time.perf_counter() - started
        self._write_report(strategy, records)
        stats = dict(sorted(self.stats.items()))
        stats["timings_s"] = {name: round(value, 2) for name, value in sorted(self.timings.items())}
        return RunResult(strategy, figures, [v.as_dict() for v in violations], stats)

    def _write_report(self, strategy: str, records: list[Any]) -> None:
        """The lender report for this run, if functions.reports offers a writer (built by another issue)."""
        if self.config.out is None:
            return
        try:
            from functions import reports  # type: ignore[attr-defined]
        except ImportError:
            return
        writer = getattr(reports, "write_report", None)
        if writer is None:
            return
        try:
            # What the daily report reads beside the trails (the experiments' standings, the send-time priors and
            # the propensity model the scheduler used), read as the daily report function reads it
            from functions.reports.service import read_learned

            standings, priors, model, _ = read_learned(LENDER_ID, records)
            writer(
                records, self.now, self.config.out / "reports" / strategy, lender_id=LENDER_ID, profile=self.profile,
                experiments=standings, priors=priors, model=model,
            )  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - the report is a by-product; the KPIs are the result
            log.warning("the lender report could not be written: %s", exc)

    @staticmethod
    def _reset_handlers() -> None:
        """Per-container caches (clients, settings) from an earlier run in this process are stale."""
        from aws_lambda_powertools.utilities import parameters

        from functions.charger import handler as charger
        from functions.ingest import handler as ingest
        from functions.observability import metrics
        from functions.portal_api import handler as portal
        from functions.scheduler import handler as scheduler
        from functions.sender import handler as sender
        from functions.webhooks import handler as webhooks

        for module in (charger, ingest, scheduler, sender, webhooks):
            module._runtime.cache_clear()
        portal.reset()
        metrics.clear_metrics()
        parameters.clear_caches()


def run(config: RunConfig) -> RunResult:
    return Simulation(config).run()
