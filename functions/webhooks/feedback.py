"""Provider feedback through SNS: SES event publishing (delivery, bounce, complaint, open, click),
SMS inbound replies (STOP and its synonyms, START, HELP) and SMS delivery events.

An SES message finds its account by the `account` email tag the sender sets
(`core.engagement.account_tag`), else by the recipient address. An SMS reply finds every account
with the number it came from: an opt-out is about the person and the number, whichever lender they owe.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from functions.core.account import Account, Block, Channel
from functions.core.audit import AuditEvent, EventType
from functions.core.clock import ensure_utc, from_epoch_millis, parse_utc
from functions.core.engagement import ACCOUNT_TAG, Signal, account_from_tag
from functions.core.lender import LenderProfile
from functions.store import accounts, events, learning
from functions.store import webhooks as store

ACTOR = "webhooks"


# TCPA revocation keywords (FCC 24-24, 47 CFR 64.1200(a)(10)): any case, honoured at once.
STOP_WORDS = frozenset({"STOP", "QUIT", "END", "REVOKE", "OPT OUT", "OPTOUT", "CANCEL", "UNSUBSCRIBE", "STOPALL"})
START_WORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_WORDS = frozenset({"HELP", "INFO"})
SMS_DELIVERED = frozenset({"TEXT_DELIVERED", "TEXT_SUCCESSFUL"})
SMS_REFUSED = frozenset({"TEXT_INVALID", "TEXT_BLOCKED", "TEXT_CARRIER_BLOCKED", "TEXT_SPAM"})


def keyword(body: str) -> str:
    """The reply reduced to upper-case words (punctuation and extra spaces dropped)."""
    return " ".join(re.sub(r"[^A-Za-z ]+", " ", body or "").upper().split())


def consent_keyword(body: str) -> str:
    """The revocation or consent word a reply begins with ("STOP" for "stop texting me, this is Maria"): what the
    consent ledger records. The rest of the reply is the debtor's own words and never enters the trail."""
    words = keyword(body)
    for word in sorted(STOP_WORDS | START_WORDS | HELP_WORDS, key=len, reverse=True):
        if words == word or words.startswith(f"{word} "):
            return word
    return ""


def reply_intent(body: str) -> str:
    """stop | start | help | other. A reply that is, or begins with, a revocation word revokes."""
    words = keyword(body)
    if words in STOP_WORDS or any(words.startswith(f"{w} ") for w in STOP_WORDS):
        return "stop"
    if words in START_WORDS:
        return "start"
    if words in HELP_WORDS:
        return "help"
    return "other"


@dataclass(frozen=True, slots=True)
class FeedbackOutcome:
    kind: str  # ses:<type> | sms:<intent> | sms_event:<type> | unknown
    accounts: tuple[str, ...] = ()
    changed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "accounts": list(self.accounts), "changed": self.changed}


class Feedback:
    def __init__(
        self, sns: Any, lender: Callable[[str], LenderProfile], due_shards: int, sms_sender_id: str | None = None
    ) -> None:
        self._sns = sns
        self._shards = due_shards
        self._lender = lender
        self._sms_sender_id = sms_sender_id

    def handle(self, message: dict[str, Any], message_id: str, now: datetime) -> FeedbackOutcome:
        counted = self.receipt(message)
        if counted is not None:
            return counted
        if "eventType" in message and isinstance(message.get("mail"), dict):
            return self._ses(message, str(message["eventType"]), now)
        if "notificationType" in message and isinstance(message.get("mail"), dict):
            return self._ses(message, str(message["notificationType"]), now)
        if "originationNumber" in message and "messageBody" in message:
            return self._sms_reply(message, message_id, now)
        if str(message.get("eventType", "")).startswith("TEXT_"):
            return self._sms_event(message, now)
        return FeedbackOutcome("unknown")

    def receipt(self, message: dict[str, Any]) -> FeedbackOutcome | None:
        """A delivery receipt (SES `Delivery`, an SMS delivered event), or None for any other message.

        A receipt changes nothing: the sender counts each message it hands to the provider as it claims the job
        (the engagement counter `<channel>:delivered`, in the claim's account write), and the stack does not ask
        for receipts (infra publishes no `Delivery` events). One that arrives anyway (a configuration set or an
        SMS event destination set up by hand) is acknowledged without a read, a write or an idempotency record.
        Before, each receipt was an invocation and a write for nearly every message sent (1.6 % of SES's price)
        and texts had no delivered count at all in AWS, where no SMS event destination is set up."""
        kind = str(message.get("eventType") or message.get("notificationType") or "")
        if kind == "Delivery" and isinstance(message.get("mail"), dict):
            return FeedbackOutcome("ses:Delivery")
        if kind in SMS_DELIVERED:
            return FeedbackOutcome(f"sms_event:{kind}")
        return None

    # -- SES -----------------------------------------------------------------------------------------

    def _ses(self, message: dict[str, Any], kind: str, now: datetime) -> FeedbackOutcome:
        mail = message["mail"]
        section = message.get(kind.lower()) or {}
        at = _ses_time(section.get("timestamp") or mail.get("timestamp"), now)
        recipients = [str(r) for r in mail.get("destination") or []]
        account_ids = self._ses_accounts(mail, recipients)
        changed = 0
        for account in _existing(account_ids):
            base_id = f"ses:{mail.get('messageId')}:{kind}"
            if kind == "Bounce":
                changed += self._bounce(account, section, base_id, at)
            elif kind == "Complaint":
                changed += self._complaint(account, section, base_id, at)
            elif kind in ("Open", "Click"):  # a Delivery is a `receipt`
                signal = Signal.OPENED if kind == "Open" else Signal.CLICKED
                learning.record_engagement(account, signal, Channel.EMAIL, at)
                changed += 1
        return FeedbackOutcome(f"ses:{kind}", tuple(account_ids), changed)

    @staticmethod
    def _ses_accounts(mail: dict[str, Any], recipients: list[str]) -> list[str]:
        tags = mail.get("tags") or {}
        for value in tags.get(ACCOUNT_TAG) or []:
            account_id = account_from_tag(str(value))
            if account_id:
                return [account_id]
        found: set[str] = set()
        for recipient in recipients:
            found.update(store.account_ids_by_email(recipient))
        return sorted(found)

    def _bounce(self, account: Account, bounce: dict[str, Any], base_id: str, at: datetime) -> int:
        bounce_type = str(bounce.get("bounceType") or "Undetermined")
        bounced = {str(r.get("emailAddress", "")).lower() for r in bounce.get("bouncedRecipients") or []}
        current = (account.debtor.email or "").lower()
        permanent = bounce_type == "Permanent" and (not bounced or current in bounced)
        blocked = permanent and _block(
            account.account_id, at, self._shards, Channel.EMAIL, Block.BOUNCED, overwrite=False
        )
        events.append(
            AuditEvent(
                account.account_id,
                at,
                EventType.EMAIL_BOUNCED,
                base_id,
                ACTOR,
                {
                    "bounce_type": bounce_type,
                    "bounce_subtype": bounce.get("bounceSubType"),
                    "blocked": blocked,
                    "feedback_id": bounce.get("feedbackId"),
                },
            )
        )
        return 1 if blocked else 0

    def _complaint(self, account: Account, complaint: dict[str, Any], base_id: str, at: datetime) -> int:
        blocked = _block(account.account_id, at, self._shards, Channel.EMAIL, Block.COMPLAINED, overwrite=False)
        events.append(
            AuditEvent(
                account.account_id,
                at,
                EventType.EMAIL_COMPLAINED,
                base_id,
                ACTOR,
                {
                    "feedback_type": complaint.get("complaintFeedbackType"),
                    "blocked": blocked,
                    "feedback_id": complaint.get("feedbackId"),
                },
            )
        )
        return 1 if blocked else 0

    # -- SMS -----------------------------------------------------------------------------------------

    def _sms_reply(self, message: dict[str, Any], message_id: str, now: datetime) -> FeedbackOutcome:
        phone = str(message["originationNumber"])
        intent = reply_intent(str(message.get("messageBody") or ""))
        inbound_id = str(message.get("inboundMessageId") or message_id)
        account_ids = store.account_ids_by_phone(phone)
        changed = 0
        for account in _existing(account_ids):
            account_id = account.account_id
            detail = {"channel": Channel.SMS.value, "keyword": consent_keyword(str(message.get("messageBody") or ""))}
            if intent == "stop":
                changed += _block(account_id, now, self._shards, Channel.SMS, Block.OPTED_OUT, overwrite=True)
                events.append(
                    AuditEvent(account_id, now, EventType.CONSENT_REVOKED, f"sms:{inbound_id}", ACTOR, detail)
                )
            elif intent == "start":
                changed += _unblock(account_id, now, self._shards, Channel.SMS, Block.OPTED_OUT)
                events.append(
                    AuditEvent(account_id, now, EventType.CONSENT_RESTORED, f"sms:{inbound_id}", ACTOR, detail)
                )
            elif intent == "other":
                learning.record_engagement(account, Signal.REPLIED, Channel.SMS, now)
        if intent == "help" and account_ids:
            changed += self._answer_help(phone, account_ids, inbound_id, now)
        return FeedbackOutcome(f"sms:{intent}", tuple(account_ids), changed)

    def _answer_help(self, phone: str, account_ids: list[str], inbound_id: str, now: datetime) -> int:
        """HELP is answered whatever the consent (CTIA): who we are and how to reach a person."""
        lenders = sorted({account_id.split("#", 1)[0] for account_id in account_ids})
        parts = []
        for lender_id in lenders:
            profile = self._lender(lender_id)
            contact = profile.help_email or profile.sender_email or "the contact details in our letters"
            parts.append(f"{profile.creditor_name}: {contact}")
        text = "Help with your account - " + "; ".join(parts) + ". Reply STOP to opt out of texts."
        attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}
        if self._sms_sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": self._sms_sender_id}
        reply_id = self._sns.publish(PhoneNumber=phone, Message=text, MessageAttributes=attributes)["MessageId"]
        for account_id in account_ids:
            events.append(
                AuditEvent(
                    account_id, now, EventType.SMS_HELP_ANSWERED, f"sms:{inbound_id}", ACTOR, {"message_id": reply_id}
                )
            )
        return 1

    def _sms_event(self, message: dict[str, Any], now: datetime) -> FeedbackOutcome:
        """SMS delivery events (AWS End User Messaging event destinations): an invalid number blocks SMS; a text
        the carrier blocked or called spam is audited (a delivery counts for the channel: a `receipt`)."""
        kind = str(message["eventType"])
        phone = str(message.get("destinationPhoneNumber") or "")
        if kind not in SMS_REFUSED or not phone:
            return FeedbackOutcome(f"sms_event:{kind}")  # queued, pending, transient failures: nothing to learn
        at = from_epoch_millis(message["eventTimestamp"]) if message.get("eventTimestamp") else now
        account_ids = store.account_ids_by_phone(phone)
        changed = 0
        for account in _existing(account_ids):
            account_id = account.account_id
            blocked = kind == "TEXT_INVALID" and _block(
                account_id, at, self._shards, Channel.SMS, Block.INVALID, overwrite=False
            )
            changed += 1 if blocked else 0
            events.append(
                AuditEvent(
                    account_id,
                    at,
                    EventType.SMS_UNDELIVERABLE,
                    f"sms_event:{message.get('messageId')}:{kind}",
                    ACTOR,
                    {"event": kind, "status": message.get("messageStatus"), "blocked": blocked},
                )
            )
        return FeedbackOutcome(f"sms_event:{kind}", tuple(account_ids), changed)


def _existing(account_ids: list[str]) -> Iterator[Account]:
    """The accounts of `account_ids` that exist (an index may still name one that is gone)."""
    return (account for account in map(accounts.get, account_ids) if account is not None)


def _ses_time(value: Any, fallback: datetime) -> datetime:
    try:
        return parse_utc(str(value)) if value else ensure_utc(fallback)
    except ValueError:
        return ensure_utc(fallback)


def _block(account_id: str, now: datetime, shards: int, channel: Channel, block: Block, overwrite: bool) -> bool:
    """Mark the channel unusable. An opt-out (`overwrite`) replaces any other reason: it is the one
    that must survive a later correction of the address or number."""

    def change(account: Account) -> Account | None:
        current = account.blocked_channels.get(channel)
        if current is block or (current is not None and not overwrite):
            return None
        return account.with_changes(blocked_channels={**account.blocked_channels, channel: block})

    return accounts.update_state(account_id, now, shards, change) is not None


def _unblock(account_id: str, now: datetime, shards: int, channel: Channel, block: Block) -> bool:
    def change(account: Account) -> Account | None:
        if account.blocked_channels.get(channel) is not block:
            return None
        return account.with_changes(
            blocked_channels={c: b for c, b in account.blocked_channels.items() if c is not channel}
        )

    return accounts.update_state(account_id, now, shards, change) is not None


def parse_sns_message(raw: str) -> dict[str, Any] | None:
    try:
        message = json.loads(raw)
    except (TypeError, ValueError):
        return None
    return message if isinstance(message, dict) else None
