"""An independent compliance check of what was actually sent: every contact in an account's audit trail
re-checked against the rules, from the trail and the account's facts alone.

This module deliberately shares no code with `functions.core.compliance` (the gate that decides before a
contact): it re-implements each rule from ../shared/COMPLIANCE.md over the record of what happened, so a
bug in the gate, in the scheduler's or the sender's use of it, or a path that skips it shows up here as a
violation. The numbers come from the lender's compiled policy (`functions.core.policy.Rules`, defaults
when none is given).

What counts as a contact: every `reminder_sent` event (the sender writes one per message it handed to
SES or SNS, whatever the template: reminders, notices, receipts; `message_id_unknown` ones too, since
they may have gone). `sms_help_answered` is a reply the debtor asked for (CTIA requires answering HELP
whatever the consent) and is not checked.

The rules, each with the event it judges:
- `R4 contact_time` (Reg F 1006.6(b)(1)(i)): the moment is inside the lender's window (08:00-21:00 at
  most) in every candidate zone of the debtor (`Debtor.contact_zones`). Every kind of message.
- `R1/R2 frequency_cap` (1006.14): a collection message (anything but a receipt or a payment-failed
  notice) may not be sent when the attempts already made in the rolling period (every message sent,
  receipts included, as the gate counts them) reach the channel's cap or the all-channels cap.
- `R6/T2 opted_out`: no message on a channel after the debtor opted out of it (SMS STOP
  `consent_revoked`, until `consent_restored`; the portal's `portal_unsubscribed`; the portal's
  preferences, whose `opt_out` list is the whole set of channels opted out at that moment; an email
  complaint that blocked the address). Every kind of message.
- `channel_blocked`: no message on a channel the provider refused for good (a permanent bounce that
  blocked the address, an SMS the carrier called invalid, a send the provider rejected with a block).
- `T1 sms_consent` (47 USC 227(b)): a text only to a mobile number with prior express consent (account
  facts: `Debtor.phone_is_mobile`, `Debtor.sms_consent`). Every kind of message.
- `R8/R9/R13/R19/R21 suppressed`: no collection message while a suppressing state holds: a dispute
  opened in the portal or a chargeback (`portal_dispute_opened`, `payment_disputed`) until an operator
  resolves it (`ops_action` resolve_dispute) or, when the operator verified it for cleardue to send the
  verification (`send_by` email), until that `dispute_verification` message went (the one message the
  pause allows then; FDCPA 809(b)); the account paid or settled (`payment_applied` with that
  status, until a refund reopens it); a written notice an operator recorded (`ops_action` record_notice:
  cease, attorney, bankruptcy, deceased); the account recalled or closed (`ops_action` recall, close, an
  upheld dispute that closes it, an adjustment that leaves nothing owed); a flag from the moment the caller
  says it was set (`flag_onsets`: the trail does not date the lender's own flags, see below).
- `R1 conversation_pause` (1006.14(b)(2)(ii)): no collection message within the policy's pause after a
  conversation an operator recorded (`ops_action` record_conversation, at the conversation's moment).
- `R10 validation_notice_first` (1006.34(a)), third-party regime only: the first collection message is
  the validation notice, sent by email, and only once (again only after an operator's
  `resend_validation_notice`).

A state applies to a contact recorded after it in the trail (append order: what the sender could have
known) whose moment is not earlier than the state's (a send already made when a STOP arrived is not a
violation even if it was recorded after it).

Known limits (the trail does not carry these facts; see docs/kpis.md): a lender's flag set by a
portfolio upload has no event, so it is checked only from the moment the caller passes in `flag_onsets`;
an SMS consent or a time zone changed by a later upload is checked with the latest account facts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from functions.core.account import Account, AccountStatus, Channel, Flag
from functions.core.audit import AuditEvent, EventType
from functions.core.clock import ensure_utc, parse_utc, zone
from functions.core.jobs import Template
from functions.core.policy import OutreachPolicy, Rules, compile_rules

_Flag = Callable[[str, str], None]  # records a violation of `rule` by the contact at hand, with why

CONTACT_EVENTS = frozenset({EventType.REMINDER_SENT})
# Messages that are not collection outreach: a receipt, a failed payment's next step (checked for time,
# channel and consent, not for caps or suppression).
TRANSACTIONAL_TEMPLATES = frozenset({Template.RECEIPT.value, Template.PAYMENT_FAILED.value})
SUPPRESSING_FLAGS = frozenset(
    {Flag.CEASE_COMMUNICATION, Flag.BANKRUPTCY, Flag.ATTORNEY, Flag.DECEASED, Flag.FRAUD, Flag.RECALLED, Flag.DISPUTE}
)

RULE_TIME = "R4 contact_time"
RULE_CAP = "R1/R2 frequency_cap"
RULE_OPT_OUT = "R6/T2 opted_out"
RULE_BLOCKED = "channel_blocked"
RULE_CONSENT = "T1 sms_consent"
RULE_SUPPRESSED = "R8/R9/R13/R19/R21 suppressed"
RULE_VALIDATION = "R10 validation_notice_first"
RULE_PAUSE = "R1 conversation_pause"


@dataclass(frozen=True, slots=True)
class CheckRules:
    """The numbers the check applies: the lender's window, caps and regime."""

    window_start: time = time(8, 0)
    window_end: time = time(21, 0)
    caps_per_channel: Mapping[Channel, int] = field(default_factory=lambda: {Channel.EMAIL: 3, Channel.SMS: 3})
    cap_all_channels: int = 5
    cap_period: timedelta = timedelta(days=7)
    pause_after_conversation: timedelta = timedelta(days=7)
    third_party: bool = False

    @classmethod
    def from_rules(cls, rules: Rules) -> CheckRules:
        """From a lender's compiled policy (`LenderProfile.rules()` or `policy.compile_rules`)."""
        return cls(
            window_start=rules.window_start,
            window_end=rules.window_end,
            caps_per_channel=dict(rules.caps),
            cap_all_channels=rules.cap_all_channels,
            cap_period=rules.cap_period,
            pause_after_conversation=rules.pause_after_conversation,
            third_party=rules.third_party,
        )


def default_rules(regime: str = "first_party") -> CheckRules:
    """The shipped policy's numbers (functions/core/policy.py defaults)."""
    return CheckRules.from_rules(compile_rules(OutreachPolicy(), regime=regime))


@dataclass(frozen=True, slots=True)
class Violation:
    """A contact that broke a rule: which event, which rule, and why."""

    account_id: str
    rule: str
    event_id: str
    seq: int
    at: datetime
    channel: str
    template: str
    why: str

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "at": self.at.isoformat()}


@dataclass(frozen=True, slots=True)
class _Sent:
    event: AuditEvent
    at: datetime
    channel: str
    template: str

    @property
    def collection(self) -> bool:
        return self.template not in TRANSACTIONAL_TEMPLATES


@lru_cache(maxsize=1024)
def _tz(name: str) -> ZoneInfo:
    return zone(name)


def _outside_window(at: datetime, zones: Iterable[str], rules: CheckRules) -> list[str]:
    """The zones (with their local time) in which `at` is outside the window."""
    outside = []
    for name in zones:
        local = at.astimezone(_tz(name))
        if not rules.window_start <= local.time().replace(tzinfo=None) < rules.window_end:
            outside.append(f"{local:%H:%M} in {name}")
    return outside


class _State:
    """What the trail has established so far, in append order."""

    def __init__(self) -> None:
        self.opted_out: dict[str, tuple[datetime, str]] = {}  # channel -> (since, by which event)
        self.blocked: dict[str, tuple[datetime, str]] = {}
        self.suppressed: dict[str, datetime] = {}  # cause -> since
        self.validation_sent = False
        self.verifying = False  # an operator verified a dispute; its verification email is still to go
        self.conversations: list[datetime] = []

    def apply(self, event: AuditEvent) -> None:
        at, detail, kind = ensure_utc(event.at), event.detail or {}, event.type
        if kind is EventType.CONSENT_REVOKED:
            self.opted_out[str(detail.get("channel", Channel.SMS.value))] = (at, kind.value)
        elif kind is EventType.CONSENT_RESTORED:
            self.opted_out.pop(str(detail.get("channel", Channel.SMS.value)), None)
        elif kind is EventType.PORTAL_UNSUBSCRIBED and detail.get("channel"):
            self.opted_out[str(detail["channel"])] = (at, kind.value)
        elif kind is EventType.PORTAL_PREFERENCES_CHANGED and detail.get("opt_out") is not None:
            chosen = {str(channel) for channel in detail["opt_out"]}
            for channel in [c for c, (_, by) in self.opted_out.items() if c not in chosen and by != "complaint"]:
                del self.opted_out[channel]  # the debtor lifted an opt-out (never a complaint's block)
            for channel in chosen:
                self.opted_out.setdefault(channel, (at, kind.value))
        elif kind is EventType.EMAIL_COMPLAINED and detail.get("blocked"):
            self.opted_out.setdefault(Channel.EMAIL.value, (at, "complaint"))
        elif kind is EventType.EMAIL_BOUNCED and detail.get("blocked"):
            self.blocked.setdefault(Channel.EMAIL.value, (at, kind.value))
        elif kind is EventType.SMS_UNDELIVERABLE and detail.get("blocked"):
            self.blocked.setdefault(Channel.SMS.value, (at, kind.value))
        elif kind is EventType.REMINDER_SUPPRESSED and detail.get("block") and detail.get("channel"):
            self.blocked.setdefault(str(detail["channel"]), (at, f"provider refused: {detail['block']}"))
        elif kind in (EventType.PORTAL_DISPUTE_OPENED, EventType.PAYMENT_DISPUTED):
            self.suppressed.setdefault("dispute", at)
        elif kind is EventType.OPS_ACTION:
            self._ops(at, detail)
        elif kind in (EventType.PAYMENT_APPLIED, EventType.PAYMENT_REFUNDED) and detail.get("status"):
            if detail["status"] in (AccountStatus.PAID.value, AccountStatus.SETTLED.value):
                self.suppressed.setdefault(f"account {detail['status']}", at)
            else:
                self.suppressed.pop(f"account {AccountStatus.PAID.value}", None)
                self.suppressed.pop(f"account {AccountStatus.SETTLED.value}", None)

    def _ops(self, at: datetime, detail: Mapping[str, object]) -> None:
        """An operator's action (functions/core/ops.py): its `action` and the facts it names."""
        action = detail.get("action")
        if action == "record_notice" and detail.get("notice"):
            self.suppressed.setdefault(f"notice {detail['notice']}", at)
        elif action == "record_conversation":
            moment = detail.get("at")
            self.conversations.append(parse_utc(str(moment)) if moment else at)
        elif action == "resolve_dispute":
            if detail.get("outcome") == "verified" and detail.get("send_by") == "email":
                self.verifying = True  # still paused: the verification email itself ends it
            else:
                self.suppressed.pop("dispute", None)
            if detail.get("closed"):
                self.suppressed.setdefault("account closed", at)
        elif action in ("recall", "close"):
            self.suppressed.setdefault("account recalled" if action == "recall" else "account closed", at)
        elif action == "adjust_balance":
            owed_after = detail.get("owed_after")
            if isinstance(owed_after, int) and owed_after <= 0:
                self.suppressed.setdefault("account closed", at)
        elif action == "resend_validation_notice":
            self.validation_sent = False


def check_trail(
    account: Account,
    trail: Sequence[AuditEvent],
    rules: CheckRules | None = None,
    flag_onsets: Mapping[Flag, datetime] | None = None,
) -> list[Violation]:
    """Every rule a contact in this account's trail broke (an empty list: none). `trail` in append order
    (as `store.events.history` returns it); `flag_onsets` dates flags the trail does not (lender uploads)."""
    rules = rules or default_rules()
    zones = account.debtor.contact_zones
    onsets = {flag: ensure_utc(at) for flag, at in (flag_onsets or {}).items() if flag in SUPPRESSING_FLAGS}
    state = _State()
    sent: list[_Sent] = []
    violations: list[Violation] = []
    for event in sorted(trail, key=lambda e: e.seq):
        if event.type not in CONTACT_EVENTS:
            state.apply(event)
            continue
        detail = event.detail or {}
        contact = _Sent(event, ensure_utc(event.at), str(detail.get("channel", "")), str(detail.get("template", "")))

        def flag(rule: str, why: str, contact: _Sent = contact) -> None:
            violations.append(
                Violation(
                    account.account_id, rule, contact.event.event_id, contact.event.seq, contact.at,
                    contact.channel, contact.template, why,
                )
            )  # fmt: skip

        outside = _outside_window(contact.at, zones, rules)
        if outside:
            flag(RULE_TIME, f"outside {rules.window_start:%H:%M}-{rules.window_end:%H:%M}: {', '.join(outside)}")
        opted = state.opted_out.get(contact.channel)
        if opted and opted[0] <= contact.at:
            flag(RULE_OPT_OUT, f"opted out of {contact.channel} at {opted[0].isoformat()} ({opted[1]})")
        blocked = state.blocked.get(contact.channel)
        if blocked and blocked[0] <= contact.at:
            flag(RULE_BLOCKED, f"{contact.channel} blocked at {blocked[0].isoformat()} ({blocked[1]})")
        if contact.channel == Channel.SMS.value:
            debtor = account.debtor
            if not (debtor.phone and debtor.phone_is_mobile):
                flag(RULE_CONSENT, "text to a number not known to be a mobile")
            elif not debtor.sms_consent:
                flag(RULE_CONSENT, "text without prior express consent")
        verification = contact.template == _VERIFICATION
        if contact.collection:
            causes = [
                f"{cause} since {since.isoformat()}"
                for cause, since in state.suppressed.items()
                if since <= contact.at and not (verification and state.verifying and cause == "dispute")
            ]
            causes += [f"flag {f.value} since {at.isoformat()}" for f, at in onsets.items() if at <= contact.at]
            if causes:
                flag(RULE_SUPPRESSED, "; ".join(sorted(causes)))
            talked = [c for c in state.conversations if c <= contact.at < c + rules.pause_after_conversation]
            if talked:
                flag(RULE_PAUSE, f"a conversation at {max(talked).isoformat()}")
            _check_cap(contact, sent, rules, flag)
            if rules.third_party and not verification:
                _check_validation(contact, state, flag)
        if verification and state.verifying:  # FDCPA 809(b): the verification sent ends the dispute's pause
            state.verifying = False
            state.suppressed.pop("dispute", None)
        sent.append(contact)
    return violations


def _check_cap(contact: _Sent, sent: list[_Sent], rules: CheckRules, flag: _Flag) -> None:
    since = contact.at - rules.cap_period
    earlier = [s for s in sent if since < s.at <= contact.at]
    on_channel = sum(1 for s in earlier if s.channel == contact.channel)
    cap = rules.caps_per_channel.get(Channel(contact.channel)) if contact.channel in _CHANNELS else None
    days = rules.cap_period.days
    if cap is not None and on_channel >= cap:
        flag(RULE_CAP, f"{on_channel} {contact.channel} messages already in the {days} days before (cap {cap})")
    if len(earlier) >= rules.cap_all_channels:
        flag(RULE_CAP, f"{len(earlier)} messages already in the {days} days before (cap {rules.cap_all_channels})")


def _check_validation(contact: _Sent, state: _State, flag: _Flag) -> None:
    if contact.template == Template.VALIDATION_NOTICE.value:
        if state.validation_sent:
            flag(RULE_VALIDATION, "a second validation notice")
        elif contact.channel != Channel.EMAIL.value:
            flag(RULE_VALIDATION, "the validation notice went by text, not email")
        state.validation_sent = True
    elif not state.validation_sent:
        flag(RULE_VALIDATION, "a collection message before the validation notice")


_CHANNELS = frozenset(channel.value for channel in Channel)
_VERIFICATION = Template.DISPUTE_VERIFICATION.value


def check_all(
    records: Iterable[tuple[Account, Sequence[AuditEvent]]],
    rules_for: Mapping[str, CheckRules] | None = None,
    flag_onsets: Mapping[str, Mapping[Flag, datetime]] | None = None,
) -> list[Violation]:
    """`check_trail` over many accounts: (account, trail) pairs, each lender's rules by lender id (the
    defaults for a lender not named), flag dates by account id."""
    violations: list[Violation] = []
    fallback = default_rules()
    for account, trail in records:
        rules = (rules_for or {}).get(account.lender_id, fallback)
        violations += check_trail(account, trail, rules, (flag_onsets or {}).get(account.account_id))
    return violations
