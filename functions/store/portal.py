"""The portal's own state on the account item: failed verification attempts, the link's lock, and the
preferences the account model has no field for (language, preferred time of day).

Why here: the counter and the lock belong to one link, which belongs to one account, so they live on
the account's item (no new table, no second read). A second model over the accounts table (as
`EventIdModel` shares the events table) writes only these `portal_*` attributes with conditional
UpdateItem calls: an upload's merge (`accounts.update_placement`) and `accounts.save_state` never
touch them, and they never touch the account's version lock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PynamoDBException, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from functions.store import StoreError, get_or_none
from functions.store.accounts import AccountModel
from functions.store.attributes import UTCTimestampAttribute


class PortalStateModel(Model):
    Meta = AccountModel.Meta  # type: ignore[assignment]  # the same table, bound by tables.configure

    account_id = UnicodeAttribute(hash_key=True)
    portal_failures = NumberAttribute(null=True)
    portal_locked_until = UTCTimestampAttribute(null=True)
    portal_language = UnicodeAttribute(null=True)
    portal_preferred_time = UnicodeAttribute(null=True)
    portal_settlement_minor = NumberAttribute(null=True)  # a hardship settlement offer, in the balance's currency
    portal_settlement_expires_at = UTCTimestampAttribute(null=True)


@dataclass(frozen=True, slots=True)
class PortalState:
    failures: int = 0
    locked_until: datetime | None = None
    language: str | None = None
    preferred_time: str | None = None
    settlement_minor: int | None = None
    settlement_expires_at: datetime | None = None

    def settlement_open(self, now: datetime) -> int | None:
        """The amount of a settlement offer still open at `now`, else None."""
        if self.settlement_minor and self.settlement_expires_at and now < self.settlement_expires_at:
            return self.settlement_minor
        return None


def reset_connection() -> None:
    """Drop the cached connection (tables.configure does this for the models it knows)."""
    PortalStateModel._connection = None


def get(account_id: str) -> PortalState:
    item = get_or_none(PortalStateModel, account_id, "portal state")
    if item is None:
        return PortalState()
    return PortalState(
        failures=int(item.portal_failures or 0),
        locked_until=item.portal_locked_until,
        language=item.portal_language,
        preferred_time=item.portal_preferred_time,
        settlement_minor=int(item.portal_settlement_minor) if item.portal_settlement_minor is not None else None,
        settlement_expires_at=item.portal_settlement_expires_at,
    )


def record_failure(account_id: str, max_failures: int, lock_until: datetime) -> tuple[int, datetime | None]:
    """Count a failed verification atomically; the `max_failures`-th locks the link until `lock_until`
    and starts the count again. Returns (failures now counted, the lock set by this call or None)."""
    item = PortalStateModel(account_id)
    try:
        item.update(actions=[PortalStateModel.portal_failures.add(1)], condition=PortalStateModel.account_id.exists())
    except PynamoDBException as exc:
        raise StoreError(f"counting a failed verification failed: {exc}") from exc
    failures = int(item.portal_failures or 0)
    if failures < max_failures:
        return failures, None
    try:
        PortalStateModel(account_id).update(
            actions=[PortalStateModel.portal_locked_until.set(lock_until), PortalStateModel.portal_failures.set(0)],
            condition=PortalStateModel.portal_failures >= max_failures,
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":  # a concurrent attempt locked it first
            raise StoreError(f"locking the link failed: {exc}") from exc
    except PynamoDBException as exc:
        raise StoreError(f"locking the link failed: {exc}") from exc
    return failures, lock_until


def record_success(account_id: str) -> None:
    """A verified debtor starts with a clean count."""
    try:
        PortalStateModel(account_id).update(
            actions=[PortalStateModel.portal_failures.remove(), PortalStateModel.portal_locked_until.remove()],
            condition=PortalStateModel.account_id.exists(),
        )
    except PynamoDBException as exc:
        raise StoreError(f"resetting verification attempts failed: {exc}") from exc


def set_preferences(account_id: str, language: str | None, preferred_time: str | None) -> None:
    """Keep the language and time of day the debtor chose (None: leave as it is)."""
    actions: list[Action] = []
    if language is not None:
        actions.append(PortalStateModel.portal_language.set(language))
    if preferred_time is not None:
        actions.append(PortalStateModel.portal_preferred_time.set(preferred_time))
    if not actions:
        return
    try:
        PortalStateModel(account_id).update(actions=actions, condition=PortalStateModel.account_id.exists())
    except PynamoDBException as exc:
        raise StoreError(f"saving preferences failed: {exc}") from exc


def offer_settlement(account_id: str, amount_minor: int, expires_at: datetime) -> None:
    """Keep the settlement offered to the debtor until it lapses (the latest offer replaces any earlier one)."""
    try:
        PortalStateModel(account_id).update(
            actions=[
                PortalStateModel.portal_settlement_minor.set(amount_minor),
                PortalStateModel.portal_settlement_expires_at.set(expires_at),
            ],
            condition=PortalStateModel.account_id.exists(),
        )
    except PynamoDBException as exc:
        raise StoreError(f"saving the settlement offer failed: {exc}") from exc
