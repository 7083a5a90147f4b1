"""Persistence: PynamoDB models (one module per table) and the queries each access pattern needs.

The only package that touches pynamodb or boto3 for data; functions take and return domain objects.
"""

from collections.abc import Callable
from typing import TypeVar

from pynamodb.exceptions import PutError, PynamoDBException, UpdateError
from pynamodb.models import Model

M = TypeVar("M", bound=Model)


class StoreError(RuntimeError):
    """A data-store operation failed (wraps the SDK's exception)."""


def conditional_write(write: Callable[[], object], what: str) -> bool:
    """Run a conditional PynamoDB write: True if it happened, False if its condition did not hold.

    Any other failure becomes a StoreError saying `what` failed."""
    try:
        write()
    except (PutError, UpdateError) as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise StoreError(f"{what} failed: {exc}") from exc
    except PynamoDBException as exc:
        raise StoreError(f"{what} failed: {exc}") from exc
    return True


def get_or_none(model: type[M], key: str, what: str) -> M | None:
    """The item with this hash key, or None; SDK failures become a StoreError about `what`."""
    try:
        return model.get(key)
    except model.DoesNotExist:
        return None
    except PynamoDBException as exc:
        raise StoreError(f"reading {what} failed: {exc}") from exc
