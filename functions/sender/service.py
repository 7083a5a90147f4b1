"""One job's message: re-check eligibility, render, hand it to SES or SNS, and the audit event of the outcome.

The batch protocol around it (`functions.sender.batch`) claims each job before `Sender.send` and records
the outcome after, so that every job is sent at most once and recorded exactly once (docs/sending.md).

Provider errors fall in two kinds. Throttling and anything unexpected raise `TransientSendError`: the
job's claim is given back, SQS delivers it again after a back-off, and after `MAX_RECEIVE_COUNT` tries it
lands in the DLQ. An address or number the provider refuses for good is a `Delivery` with a `block`: it is
recorded like a send (never retried) and `follow_up` marks the channel unusable on the account.
"""

from __future__ import annotations

import email.policy
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from email import charset
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import formataddr
from typing import Any

from botocore.exceptions import ClientError

from functions.core import engagement, experiments, links, messages
from functions.core.account import Account, Block, Channel, DisputeStatus
from functions.core.audit import AuditEvent, EventType
from functions.core.clock import iso_utc, parse_utc
from functions.core.compliance import GatePolicy, gate_policy
from functions.core.jobs import Job, Template
from functions.core.lender import LenderProfile
from functions.core.outreach import still_eligible
from functions.store import accounts, lenders
from functions.store import experiments as experiment_store

ACTOR = "sender"
SENT = "sent"
SUPPRESSED = "suppressed"
UNDELIVERABLE = "undeliverable"
# Headers may be up to 998 characters (RFC 5322): a long List-Unsubscribe URL stays one plain token
# instead of being folded into RFC 2047 encoded words, which mail clients would not read as a URL.
# The compat32 classes (as Django's mail builds messages) take about a third of the CPU of EmailMessage's
# header registry for the same message.
MIME_POLICY = email.policy.compat32.clone(linesep="\r\n", max_line_length=998)
UTF8_QP = charset.Charset("utf-8")
UTF8_QP.header_encoding = UTF8_QP.body_encoding = charset.QP
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
SAVE_ATTEMPTS = 3
_LINK_CHANNEL = {Channel.SMS: Channel.SMS.value}  # the channel a pay link's token names (links.sign)

# Provider error codes that mean "this address / number will never work": block the channel, never retry.
PERMANENT_EMAIL_ERRORS: dict[str, Block] = {
    "MessageRejected": Block.INVALID,  # SES refused the message for this recipient
    "InvalidParameterValue": Block.INVALID,  # SES: an address it cannot send to
    "BadRequestException": Block.INVALID,  # SES v2: e.g. an illegal recipient address
}
PERMANENT_SMS_ERRORS: dict[str, Block] = {
    "InvalidParameter": Block.INVALID,  # SNS: the phone number is not valid
    "InvalidParameterValue": Block.INVALID,
    "OptedOut": Block.OPTED_OUT,  # the number replied STOP (SNS's opt-out list)
    "OptedOutException": Block.OPTED_OUT,
}
# Everything else (TooManyRequestsException, ThrottlingException, Throttled, LimitExceededException,
# InternalFailure, SendingPausedException, network errors...) is retried through SQS.


class TransientSendError(RuntimeError):
    """The provider could not take the message now: let SQS deliver the job again later."""


@dataclass(frozen=True, slots=True)
class Delivery:
    outcome: str  # sent | suppressed | undeliverable
    message_id: str | None = None
    reason: str | None = None
    retry_at: str | None = None  # ISO UTC: when a held contact would be allowed
    block: str | None = None  # a Block value: the channel is unusable (undeliverable)
    content_hash: str | None = None  # sha256 of what was rendered (sent or refused)
    size: str | None = None  # SMS wording used: full | short | minimal
    segments: int | None = None  # SMS segments billed
    language: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Delivery:
        known = {key: data.get(key) for key in cls.__dataclass_fields__ if key != "outcome"}
        return cls(str(data["outcome"]), **known)


@dataclass(frozen=True, slots=True)
class Ready:
    """A job that still qualifies, rendered and ready to send."""

    account: Account
    lender: LenderProfile
    message: messages.EmailMessage | messages.SmsMessage

    def facts(self) -> Delivery:
        """What is known of the send before the provider answers (kept in the claim)."""
        message = self.message
        if isinstance(message, messages.SmsMessage):
            return Delivery(
                SENT,
                content_hash=message.content_hash,
                size=message.size,
                segments=message.length.segments,
                language=message.language,
            )
        return Delivery(SENT, content_hash=message.content_hash, language=message.language)


class LenderCache:
    """Lender profiles per container, refreshed after `ttl_seconds` (a cache, so wall-clock time)."""

    def __init__(self, ttl_seconds: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries = lenders.PerLender(lambda profile: (profile, gate_policy(profile.rules())), ttl_seconds, clock)

    def get(self, lender_id: str) -> LenderProfile:
        return self._entries(lender_id)[0]

    def policy(self, lender_id: str) -> GatePolicy:
        """The lender's compiled compliance policy (window, caps, regime), compiled once per refresh."""
        return self._entries(lender_id)[1]


@dataclass(frozen=True, slots=True)
class SenderSetup:
    """What a sender needs besides its provider, the same for both channels: where the links point, the key
    that signs them, the lenders' profiles."""

    portal_url: str
    portal_api_url: str
    link_key: Callable[[], bytes]
    lender_cache: LenderCache


class Sender:
    """The part both channels share: re-check, links, render; the channel's `_send` talks to the provider."""

    channel: Channel

    def __init__(self, setup: SenderSetup) -> None:
        self._portal_url = setup.portal_url.rstrip("/")
        self._portal_api_url = setup.portal_api_url.rstrip("/")
        self._link_key = setup.link_key
        self._lenders = setup.lender_cache

    def decide(self, job: Job, account: Account | None, now: datetime) -> Delivery | Ready:
        """Re-check the job against the account as it is now: why nothing is sent, or the rendered message."""
        if job.channel is not self.channel:
            raise ValueError(f"a {job.channel} job reached the {self.channel} sender")
        if account is None:
            return Delivery(SUPPRESSED, reason="unknown_account")
        unusable = self._unusable(account)
        if unusable:
            return Delivery(SUPPRESSED, reason=unusable)
        # The lender's own window and caps, as the scheduler applied them (not only the defaults).
        recheck = still_eligible(account, job, now, self._lenders.policy(account.lender_id))
        if recheck.reason:
            retry_at = iso_utc(recheck.retry_at) if recheck.retry_at else None
            return Delivery(SUPPRESSED, reason=recheck.reason, retry_at=retry_at)
        if not account.link_ref:
            return Delivery(SUPPRESSED, reason="no_pay_link")
        lender = self._lenders.get(account.lender_id)
        # A text's token says so (version 3): the portal credits the visit it brings to texts.
        token = links.sign(account.link_ref, now, self._link_key(), channel=_LINK_CHANNEL.get(self.channel))
        message_links = messages.MessageLinks(
            pay_url=links.pay_url(self._portal_url, token),
            unsubscribe_url=f"{self._portal_api_url}/unsubscribe?t={token}",
        )
        try:
            message = messages.render(
                self.channel, job.template, job.tone, job.variant, account, lender, message_links,
                messages.sent_on(now, account), job.reason,
            )  # fmt: skip
        except messages.MessageError as exc:
            return Delivery(SUPPRESSED, reason=f"missing_fact: {exc}")
        return Ready(account, lender, message)

    def send(self, job: Job, ready: Ready) -> Delivery:
        """Hand the rendered message to the provider: sent, or undeliverable for good; TransientSendError
        (or a botocore error) when it should be tried again later."""
        return self._send(job, ready)

    def _unusable(self, account: Account) -> str | None:
        """Why this channel cannot reach the account (blocked, or no address / consent), or None."""
        block = account.blocked_channels.get(self.channel)
        return f"channel_blocked: {block.value}" if block else None

    def _send(self, job: Job, ready: Ready) -> Delivery:
        raise NotImplementedError


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _handed_over(
    facts: Delivery, provider: str, permanent: dict[str, Block], call: Callable[[], dict[str, Any]]
) -> Delivery:
    """The provider's answer to `call`: sent with its message id, or undeliverable for good (an error code in
    `permanent`: the channel gets blocked); any other ClientError raises TransientSendError (tried again)."""
    try:
        message_id = call()["MessageId"]
    except ClientError as exc:
        code = _error_code(exc)
        if code in permanent:
            return replace(facts, outcome=UNDELIVERABLE, reason=f"{provider}:{code}", block=permanent[code].value)
        raise TransientSendError(f"{provider}:{code}") from exc
    return replace(facts, message_id=message_id)


class EmailSender(Sender):
    channel = Channel.EMAIL

    def __init__(self, ses: Any, default_sender: str, configuration_set: str | None, setup: SenderSetup) -> None:
        super().__init__(setup)
        self.client = ses
        self._default_sender = default_sender
        self._configuration_set = configuration_set

    def _unusable(self, account: Account) -> str | None:
        if not account.debtor.email:
            return "no_usable_channel"
        return super()._unusable(account)

    def _send(self, job: Job, ready: Ready) -> Delivery:
        account, lender, message = ready.account, ready.lender, ready.message
        assert isinstance(message, messages.EmailMessage)
        sender = str(lender.sender_email or self._default_sender)
        recipient = str(account.debtor.email)
        mime = mime_message(message, formataddr((lender.creditor_name, sender)), recipient)
        request: dict[str, Any] = {
            "FromEmailAddress": sender,
            "Destination": {"ToAddresses": [recipient]},
            # Raw content: Simple content cannot carry List-Unsubscribe / List-Unsubscribe-Post (RFC 8058).
            "Content": {"Raw": {"Data": mime.as_bytes()}},
            "EmailTags": [
                {"Name": "job_id", "Value": job.job_id},
                # Engagement events (opens, clicks, bounces) find their account by this tag.
                {"Name": engagement.ACCOUNT_TAG, "Value": engagement.account_tag(job.account_id)},
                {"Name": "template", "Value": str(job.template)},
                {"Name": "stage", "Value": job.stage.value},
            ],
        }
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        return _handed_over(ready.facts(), "ses", PERMANENT_EMAIL_ERRORS, lambda: self.client.send_email(**request))


def mime_message(message: messages.EmailMessage, from_header: str, to: str) -> MIMEMultipart:
    """multipart/alternative (plain text, then HTML), UTF-8 quoted-printable, with the one-click unsubscribe
    headers; a header that is not ASCII is RFC 2047 encoded."""
    # A boundary starting "=_" cannot occur in quoted-printable text (it writes "=" as "=3D"), so the generator
    # need not search the parts for it (which compiles a regular expression per message).
    mime = MIMEMultipart("alternative", boundary=f"=_{uuid.uuid4().hex}", policy=MIME_POLICY)
    headers = {"From": from_header, "To": to, "Subject": message.subject, **message.headers}
    for name, value in headers.items():
        if "\r" in value or "\n" in value:  # as EmailMessage refuses them: a header cannot be injected
            raise ValueError(f"header {name} contains a line break")
        mime[name] = value if value.isascii() else Header(value, UTF8_QP, header_name=name).encode()
    for subtype, body in (("plain", message.text), ("html", message.html)):
        part = MIMENonMultipart("text", subtype, policy=MIME_POLICY)
        part.set_payload(body if body.endswith("\n") else body + "\n", UTF8_QP)  # charset and CTE headers
        del part["MIME-Version"]  # once, on the message
        mime.attach(part)
    return mime


class SmsSender(Sender):
    channel = Channel.SMS

    def __init__(self, sns: Any, default_sender_id: str | None, setup: SenderSetup) -> None:
        super().__init__(setup)
        self.client = sns
        self._default_sender_id = default_sender_id

    def _unusable(self, account: Account) -> str | None:
        if not account.debtor.phone:
            return "no_usable_channel"
        if not account.debtor.sms_consent:
            return "no_sms_consent"  # TCPA: texts need prior express consent (47 USC 227(b))
        return super()._unusable(account)

    def _send(self, job: Job, ready: Ready) -> Delivery:
        lender, message = ready.lender, ready.message
        assert isinstance(message, messages.SmsMessage)
        facts = ready.facts()
        phone = str(ready.account.debtor.phone)
        if not E164.match(phone):  # SNS accepts any string; a number that is not E.164 can never be reached
            return replace(facts, outcome=UNDELIVERABLE, reason="not_e164", block=Block.INVALID.value)
        attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}
        sender_id = getattr(lender, "sms_sender_id", None) or self._default_sender_id
        if sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": str(sender_id)}
        return _handed_over(
            facts,
            "sns",
            PERMANENT_SMS_ERRORS,
            lambda: self.client.publish(PhoneNumber=phone, Message=message.text, MessageAttributes=attributes),
        )


def audit_event(job: Job, delivery: Delivery, now: datetime) -> AuditEvent | None:
    """The audit event of a job's outcome (template, variant, tone, content hash, provider message id)."""
    if delivery.reason == "unknown_account":
        return None
    detail: dict[str, Any] = {
        "job_id": job.job_id,
        "channel": job.channel.value,
        "template": str(job.template),
        "variant": job.variant,
        "tone": job.tone.value,
        "stage": job.stage.value,
    }
    if job.reason:
        detail["decision"] = job.reason
    for key in ("content_hash", "language", "size", "segments"):
        value = getattr(delivery, key)
        if value is not None:
            detail[key] = value
    if delivery.outcome == SENT:
        event_type = EventType.REMINDER_SENT
        if delivery.message_id is not None:
            detail["message_id"] = delivery.message_id
        else:  # claimed, maybe sent, never recorded (the sender died): counted as sent, never sent again
            detail["message_id_unknown"] = True
    else:
        event_type = EventType.REMINDER_SUPPRESSED
        detail["reason"] = delivery.reason
        if delivery.block:
            detail["block"] = delivery.block
    return AuditEvent(
        account_id=job.account_id, at=now, type=event_type, event_id=audit_event_id(job), actor=ACTOR, detail=detail
    )


def follow_up(job: Job, delivery: Delivery, now: datetime, due_shards: int) -> None:
    """The account state an outcome implies, beyond the contact count (rare: its own conditional writes)."""
    if delivery.outcome == SENT:
        if job.template == Template.VALIDATION_NOTICE:
            _change_state(job.account_id, now, due_shards, _notice_sent(now))
        elif job.template == Template.DISPUTE_VERIFICATION:
            _change_state(job.account_id, now, due_shards, _verification_sent(now))
        _count_exposure(job)
    elif delivery.block:
        _change_state(job.account_id, now, due_shards, _blocked(job.channel, Block(delivery.block)))
    elif delivery.retry_at:
        # Held at the last moment (a retry that arrived outside the window): contact it when allowed.
        accounts.reschedule_no_later_than(job.account_id, parse_utc(delivery.retry_at), due_shards)


def _count_exposure(job: Job) -> None:
    """A message whose variant or tone an experiment chose was sent: one exposure for each choice it carries
    (atomic ADDs). This runs once per job, after its record (a redelivered job is found recorded and never
    reaches here); an increment lost to a failure here is not retried (logged by the batch): the standings
    then undercount by one."""
    for choice in experiments.parse_choices(job.reason):
        if experiments.chosen_as_sent(choice, job.template, job.variant, job.tone.value, job.channel.value):
            experiment_store.add_exposure(job.account_id.split("#", 1)[0], choice)


def audit_event_id(job: Job) -> str:
    """Once per job and channel (an email's id is the job's own, as before texts existed)."""
    return f"job:{job.job_id}" if job.channel is Channel.EMAIL else f"job:{job.job_id}:{job.channel.value}"


def _notice_sent(now: datetime) -> Callable[[Account], Account | None]:
    def change(account: Account) -> Account | None:
        return None if account.validation_notice_at else account.with_changes(validation_notice_at=now)

    return change


def _verification_sent(now: datetime) -> Callable[[Account], Account | None]:
    """FDCPA 809(b): the verification went out, so the dispute's pause ends (the cadence sets the next look)."""

    def change(account: Account) -> Account | None:
        dispute = account.dispute
        if dispute is None or dispute.status is not DisputeStatus.VERIFYING:
            return None
        return account.with_changes(dispute=replace(dispute, status=DisputeStatus.VERIFIED, verification_sent_at=now))

    return change


def _blocked(channel: Channel, block: Block) -> Callable[[Account], Account | None]:
    def change(account: Account) -> Account | None:
        if account.blocked_channels.get(channel) is not None:
            return None  # already blocked (a retried record, or an opt-out that came first): keep the first reason
        return account.with_changes(blocked_channels={**account.blocked_channels, channel: block})

    return change


def _change_state(account_id: str, now: datetime, due_shards: int, change: Callable[[Account], Account | None]) -> None:
    """Apply `change` to the account under its version lock, re-reading on a conflict."""
    try:
        accounts.update_state(account_id, now, due_shards, change, SAVE_ATTEMPTS)
    except accounts.KeptChanging as exc:
        raise TransientSendError(f"account {account_id} kept changing while its state was saved") from exc
