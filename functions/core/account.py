"""The account: who owes what, since when, and where it stands in the collection cycle."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from functions.core.money import Money, total


class AccountStatus(StrEnum):
    ACTIVE = "active"  # placed and collectible
    PAID = "paid"  # balance cleared
    SETTLED = "settled"  # closed for less than the balance by agreement
    RECALLED = "recalled"  # withdrawn by the lender
    CLOSED = "closed"  # closed for any other reason


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class ContactKind(StrEnum):
    ATTEMPT = "attempt"  # a message sent or a call placed
    CONVERSATION = "conversation"  # the debtor was reached and talked with us


@dataclass(frozen=True, slots=True)
class Contact:
    at: datetime
    channel: Channel
    kind: ContactKind = ContactKind.ATTEMPT


# How much contact history an account keeps (`bounded_history`): every rule that reads it looks back at most
# this far (the longest rolling cap period and conversation pause a policy may set, core.policy) or at most
# this many contacts, or attempts on one channel (the most unanswered attempts a policy may wait for before
# escalating).
HISTORY_DAYS = 31
HISTORY_COUNT = 10


def bounded_history(contacts: tuple[Contact, ...], now: datetime) -> tuple[Contact, ...]:
    """The contacts worth keeping at `now` (in the order given, oldest first): all from the last `HISTORY_DAYS`,
    the last `HISTORY_COUNT` contacts, and the last `HISTORY_COUNT` attempts on each channel.

    Every decision taken at `now` or later reads the same from it as from the whole history: the caps and the
    pause look back at most `HISTORY_DAYS`; escalation counts at most `HISTORY_COUNT` attempts on a channel, or
    contacts in all; the last attempt on each channel and the last contacts stay. Without it the history grows
    with every message, and so does every write of the account (1 write unit per KB). Returns `contacts`
    itself when nothing is dropped."""
    oldest_kept = now - timedelta(days=HISTORY_DAYS)
    if all(contact.at >= oldest_kept for contact in contacts):
        return contacts  # nothing older than the window (most accounts): nothing to drop
    attempts: dict[Channel, int] = {}
    last_ones = len(contacts) - HISTORY_COUNT
    keep = [n >= last_ones for n in range(len(contacts))]
    for n in range(len(contacts) - 1, -1, -1):  # the last ones first, in the order they were appended
        contact = contacts[n]
        if contact.kind is ContactKind.ATTEMPT:
            attempts[contact.channel] = attempts.get(contact.channel, 0) + 1
            keep[n] = keep[n] or attempts[contact.channel] <= HISTORY_COUNT
        keep[n] = keep[n] or contact.at >= oldest_kept
    return tuple(contact for contact, kept in zip(contacts, keep, strict=True) if kept)


class Stage(StrEnum):
    """Outreach stage by days past due; `NONE` means no outreach window is open today."""

    NONE = "none"
    PRE_DUE = "pre_due"
    EARLY = "early"
    MID = "mid"
    LATE = "late"
    ADVANCED = "advanced"


@dataclass(frozen=True, slots=True)
class StageBound:
    stage: Stage
    first_dpd: int
    last_dpd: int | None  # None: open-ended


# Default stage windows in days past due (pre-due: 3 to 5 days before the due date).
DEFAULT_STAGE_BOUNDS: tuple[StageBound, ...] = (
    StageBound(Stage.PRE_DUE, -5, -3),
    StageBound(Stage.EARLY, 1, 15),
    StageBound(Stage.MID, 16, 30),
    StageBound(Stage.LATE, 31, 60),
    StageBound(Stage.ADVANCED, 61, None),
)


def days_past_due(due_date: date, today: date) -> int:
    """Days since the due date; negative before it, 0 on the due date itself."""
    return (today - due_date).days


def stage_for(dpd: int, bounds: tuple[StageBound, ...] = DEFAULT_STAGE_BOUNDS) -> Stage:
    """The outreach stage whose window contains `dpd`, or `Stage.NONE` between windows."""
    for bound in bounds:
        if dpd >= bound.first_dpd and (bound.last_dpd is None or dpd <= bound.last_dpd):
            return bound.stage
    return Stage.NONE


def next_stage_opens(dpd: int, bounds: tuple[StageBound, ...] = DEFAULT_STAGE_BOUNDS) -> int | None:
    """The first DPD after `dpd` at which an outreach window opens (None if none ever does)."""
    upcoming = [bound.first_dpd for bound in bounds if bound.first_dpd > dpd]
    return min(upcoming) if upcoming else None


class Flag(StrEnum):
    """Status flags a lender (or, later, an operator) sets; each suppresses outreach."""

    BANKRUPTCY = "bankruptcy"  # Reg F 1006.30(b), 11 USC 362/524
    DECEASED = "deceased"  # 1006.6(a): only the estate's representative
    DISPUTE = "dispute"  # FDCPA 809(b): stop until verified
    CEASE_COMMUNICATION = "cease_communication"  # FDCPA 805(c)
    FRAUD = "fraud"  # identity theft: 1006.30(b)
    RECALLED = "recalled"  # withdrawn by the lender
    ATTORNEY = "attorney"  # represented by an attorney: 1006.6(b)(2)


class Block(StrEnum):
    """Why cleardue must not use a channel of an account (kept per channel in `blocked_channels`)."""

    OPTED_OUT = "opted_out"  # STOP, unsubscribe, or a preference set in the portal (1006.6(e))
    BOUNCED = "bounced"  # a permanent bounce: the address does not exist
    COMPLAINED = "complained"  # marked as spam: treated as an opt-out
    INVALID = "invalid"  # the provider refused the address or number permanently
    EMPLOYER = "employer"  # known employer-provided email (1006.22(f)(3))


class PromiseStatus(StrEnum):
    PENDING = "pending"
    KEPT = "kept"
    BROKEN = "broken"


@dataclass(frozen=True, slots=True)
class Promise:
    """The debtor promised to pay `amount` by `due` (a date in their own time zone)."""

    amount: Money
    due: date
    made_at: datetime
    status: PromiseStatus = PromiseStatus.PENDING


class InstallmentStatus(StrEnum):
    SCHEDULED = "scheduled"
    PAID = "paid"
    FAILED = "failed"  # a charge failed; retried by the plan rules
    MISSED = "missed"  # failed past the plan's grace: the plan may break


@dataclass(frozen=True, slots=True)
class Installment:
    number: int  # 1-based
    due: date
    amount: Money
    status: InstallmentStatus = InstallmentStatus.SCHEDULED
    attempts: int = 0
    payment_id: str | None = None  # the Stripe PaymentIntent that paid (or last tried) it


class PlanStatus(StrEnum):
    AWAITING_CARD = "awaiting_card"  # chosen in the portal; the card is being saved through Checkout
    CURRENT = "current"
    BROKEN = "broken"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Plan:
    plan_id: str
    created_at: datetime
    installments: tuple[Installment, ...]
    status: PlanStatus = PlanStatus.AWAITING_CARD
    customer_id: str | None = None  # Stripe Customer
    payment_method_id: str | None = None  # saved by Checkout in setup mode, charged off-session


@dataclass(frozen=True, slots=True)
class Payment:
    """A payment applied to the account (once per Stripe PaymentIntent), and how it was allocated."""

    payment_id: str  # Stripe PaymentIntent id
    amount: Money
    at: datetime
    fees_minor: int = 0
    interest_minor: int = 0
    principal_minor: int = 0
    credit_minor: int = 0  # the part above the balance, held as a credit
    refunded_minor: int = 0
    source: str = "checkout"  # checkout | installment


class DisputeStatus(StrEnum):
    OPEN = "open"  # outreach paused until verified (FDCPA 809(b))
    VERIFYING = "verifying"  # an operator verified the debt: cleardue sends the verification, still paused
    VERIFIED = "verified"  # verification sent: outreach may resume
    UPHELD = "upheld"  # the debtor was right: adjusted or closed


@dataclass(frozen=True, slots=True)
class Dispute:
    opened_at: datetime
    reason: str
    status: DisputeStatus = DisputeStatus.OPEN
    verification_ref: str | None = None  # the operator's reference for the verification (a document id)
    verification_sent_at: datetime | None = None  # when cleardue's verification email went out


@dataclass(frozen=True, slots=True)
class Debtor:
    name: str
    email: str | None
    phone: str | None  # E.164
    timezone: str  # IANA, the primary zone
    language: str = "en"
    timezones: tuple[str, ...] = ()  # every plausible zone, primary first (contact must suit all)
    postal_code: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2
    phone_is_mobile: bool = False
    sms_consent: bool = False  # TCPA prior express consent for texts

    @property
    def contact_zones(self) -> tuple[str, ...]:
        return self.timezones or (self.timezone,)


@dataclass(frozen=True, slots=True)
class Placement:
    """What the lender told us about the debt's history (validation notice facts, Reg F 1006.34)."""

    original_creditor: str | None = None
    itemization_date: date | None = None
    open_date: date | None = None
    last_payment_date: date | None = None
    last_payment: Money | None = None
    charge_off_date: date | None = None
    statute_of_limitations: date | None = None


@dataclass(frozen=True, slots=True)
class Balance:
    principal: Money
    interest: Money
    fees: Money

    @property
    def currency(self) -> str:
        return self.principal.currency

    @property
    def total(self) -> Money:
        if not self.principal.currency == self.interest.currency == self.fees.currency:
            return total([self.principal, self.interest, self.fees], self.currency)  # raises the mismatch
        return Money(self.principal.minor + self.interest.minor + self.fees.minor, self.currency)


def account_id_for(lender_id: str, external_ref: str) -> str:
    """Accounts are keyed `<lender_id>#<external_ref>`: a lender's reference is unique per lender only."""
    return f"{lender_id}#{external_ref}"


def due_shard(account_id: str, shards: int) -> str:
    """Stable partition of the sparse `due` index, "00".."NN": spreads the scheduler's queries."""
    digest = hashlib.sha256(account_id.encode("utf-8")).digest()
    return f"{int.from_bytes(digest[:4], 'big') % shards:02d}"


@dataclass(frozen=True, slots=True)
class Account:
    lender_id: str
    external_ref: str
    debtor: Debtor
    balance: Balance
    due_date: date
    status: AccountStatus = AccountStatus.ACTIVE
    next_contact_at: datetime | None = None
    contacts_sent: int = 0
    last_contact_at: datetime | None = None
    lender_attributes: dict[str, str] = field(default_factory=dict)
    flags: frozenset[Flag] = frozenset()
    placement: Placement = field(default_factory=Placement)
    verification: dict[str, str] = field(default_factory=dict)  # fact kind -> keyed hash, never the fact
    recent_contacts: tuple[Contact, ...] = ()  # for frequency caps and pauses (newest last)
    # What happened through cleardue (never overwritten by a portfolio upload; see store.accounts).
    blocked_channels: dict[Channel, Block] = field(default_factory=dict)
    preferred_channel: Channel | None = None
    promise: Promise | None = None
    plan: Plan | None = None
    payments: tuple[Payment, ...] = ()
    credit: Money | None = None  # overpayment held for the debtor
    dispute: Dispute | None = None
    hardship_requested_at: datetime | None = None
    validation_notice_at: datetime | None = None  # third-party regime: when the notice was sent
    tier: int | None = None  # 1..4, set by segmentation
    version: int = 0  # optimistic lock for state changes (store.accounts.save_state)
    link_ref: str | None = None  # the pay link's opaque reference (core.links), set at placement
    # Engagement counters the webhooks keep (core.engagement: hour of week, per-channel signals).
    engagement: dict[str, int] = field(default_factory=dict)
    # What the debtor chose in the portal: a time of day for messages (`TIMES_OF_DAY`), and an open
    # hardship settlement offer (its amount in the balance's currency, until when it stands).
    preferred_time: str | None = None
    settlement_minor: int | None = None
    settlement_expires_at: datetime | None = None

    @property
    def account_id(self) -> str:
        return account_id_for(self.lender_id, self.external_ref)

    @property
    def is_collectible(self) -> bool:
        """Only an active, unflagged account with something owed may be contacted about the debt."""
        return self.status is AccountStatus.ACTIVE and not self.flags and self.balance.total.is_positive

    @property
    def masked_ref(self) -> str:
        """The reference as shown in messages: only the last four characters."""
        tail = self.external_ref[-4:]
        return f"••••{tail}" if len(self.external_ref) > 4 else tail

    def with_changes(self, **changes: object) -> Account:
        return replace(self, **changes)  # type: ignore[arg-type]


def placement_fingerprint(account: Account) -> str:
    """A digest of everything the lender's row says about the account: equal means nothing to write."""
    debtor, balance, placement = account.debtor, account.balance, account.placement
    facts = (
        debtor.name, debtor.email, debtor.phone, debtor.timezone, debtor.language, debtor.timezones,
        debtor.postal_code, debtor.country, debtor.phone_is_mobile, debtor.sms_consent,
        balance.currency, balance.principal.minor, balance.interest.minor, balance.fees.minor,
        account.due_date.toordinal(), sorted(account.flags),
        placement.original_creditor, placement.itemization_date, placement.open_date, placement.last_payment_date,
        placement.last_payment.minor if placement.last_payment else None, placement.charge_off_date,
        placement.statute_of_limitations,
        sorted(account.lender_attributes.items()), sorted(account.verification.items()),
    )  # fmt: skip
    return hashlib.sha256(repr(facts).encode("utf-8")).hexdigest()[:16]
