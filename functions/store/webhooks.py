"""What the webhooks function needs from the tables beyond `accounts` and `events`.

- whether an audit fact is already recorded (the once-only `id#` markers of the events table), so a
  side effect that must follow a fact (a receipt job) is repeated until the fact is recorded;
- the accounts a phone number or an email address belongs to (SMS replies, SES events without an
  account tag), through the sparse, keys-only `by_phone` / `by_email` indexes of the accounts table,
  which hold keyed blind indexes (store.pii.blind_index), never the number or the address;
- engagement counters on the account item (`engagement`, a map of counters), incremented atomically.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException

from functions.store import StoreError, pii
from functions.store.account_state import DELIVERED_ATTRIBUTES, with_delivered
from functions.store.accounts import AccountModel
from functions.store.events import ID_KEY_PREFIX, EventIdModel

ENGAGEMENT_ATTRIBUTE = "engagement"


def fact_recorded(account_id: str, event_id: str) -> bool:
    """True if the audit trail of `account_id` already holds the event with this id."""
    try:
        EventIdModel.get(account_id, f"{ID_KEY_PREFIX}{event_id}")
    except EventIdModel.DoesNotExist:
        return False
    except PynamoDBException as exc:
        raise StoreError(f"reading audit marker failed: {exc}") from exc
    return True


def _account_ids_where(index: Any, value: str) -> list[str]:
    try:
        return sorted({item.account_id for item in index.query(value)})
    except PynamoDBException as exc:
        raise StoreError(f"finding accounts failed: {exc}") from exc


def account_ids_by_phone(phone: str) -> list[str]:
    """Every account whose debtor has this E.164 number (one person may owe several lenders)."""
    return _account_ids_where(AccountModel.by_phone_index, pii.blind_index("phone", phone))


def account_ids_by_email(email: str) -> list[str]:
    """Every account whose debtor has this (normalised) address."""
    return _account_ids_where(AccountModel.by_email_index, pii.blind_index("email", email))


def _client() -> Any:
    return AccountModel._get_connection().connection.client


def add_engagement(account_id: str, counts: dict[str, int], marks: dict[str, str] | None = None) -> bool:
    """Add to the account's engagement counters; False if the account does not exist. `marks` set a
    counter to another's current value in the same write (`<channel>:answered` := `<channel>:delivered`,
    core.channels.answered_marks).

    One UpdateItem when the counters' map exists; the first signal of an account creates it (a
    nested path needs its parent map) and tries again."""
    if not counts:
        return True
    table = AccountModel.Meta.table_name
    key = {"account_id": {"S": account_id}}
    names: dict[str, str] = {"#e": ENGAGEMENT_ATTRIBUTE}
    values: dict[str, Any] = {":zero": {"N": "0"}}
    sets = []
    for index, (name, amount) in enumerate(sorted(counts.items())):
        names[f"#k{index}"] = name
        values[f":v{index}"] = {"N": str(int(amount))}
        sets.append(f"#e.#k{index} = if_not_exists(#e.#k{index}, :zero) + :v{index}")
    client = _client()
    for index, (name, source) in enumerate(sorted((marks or {}).items())):
        names[f"#m{index}"], names[f"#s{index}"] = name, source
        counted = DELIVERED_ATTRIBUTES.get(source)  # the sender's count beside the map (account_state)
        if counted is None:
            sets.append(f"#e.#m{index} = if_not_exists(#e.#s{index}, :zero)")
        else:
            names[f"#d{index}"] = counted
            sets.append(f"#e.#m{index} = if_not_exists(#e.#s{index}, :zero) + if_not_exists(#d{index}, :zero)")
    for attempt in range(2):
        try:
            client.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="attribute_exists(account_id)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
            return True
        except client.exceptions.ConditionalCheckFailedException:
            return False
        except ClientError as exc:
            missing_map = exc.response.get("Error", {}).get("Code") == "ValidationException"
            if not missing_map or attempt:
                raise StoreError(f"recording engagement failed: {exc}") from exc
            try:
                client.update_item(
                    TableName=table,
                    Key=key,
                    UpdateExpression="SET #e = if_not_exists(#e, :empty)",
                    ConditionExpression="attribute_exists(account_id)",
                    ExpressionAttributeNames={"#e": ENGAGEMENT_ATTRIBUTE},
                    ExpressionAttributeValues={":empty": {"M": {}}},
                )
            except client.exceptions.ConditionalCheckFailedException:
                return False
        except BotoCoreError as exc:
            raise StoreError(f"recording engagement failed: {exc}") from exc
    return True


def engagement_counts(account_id: str) -> dict[str, int]:
    """The account's engagement counters (empty when none were recorded)."""
    try:
        item = (
            _client()
            .get_item(
                TableName=AccountModel.Meta.table_name,
                Key={"account_id": {"S": account_id}},
                ProjectionExpression=", ".join(["#e", *DELIVERED_ATTRIBUTES.values()]),
                ExpressionAttributeNames={"#e": ENGAGEMENT_ATTRIBUTE},
            )
            .get("Item")
        )
    except (BotoCoreError, ClientError) as exc:
        raise StoreError(f"reading engagement failed: {exc}") from exc
    item = item or {}
    stored = item.get(ENGAGEMENT_ATTRIBUTE, {}).get("M", {})
    counts = {name: int(value["N"]) for name, value in stored.items() if "N" in value}
    return with_delivered(
        counts, {attribute: item.get(attribute, {}).get("N") for attribute in DELIVERED_ATTRIBUTES.values()}
    )
