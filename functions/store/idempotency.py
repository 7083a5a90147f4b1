"""The idempotency table, in the layout Powertools' DynamoDB persistence layer writes.

Powertools owns the items; this model is the schema's single source for infra and the local stack."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from functions.store.attributes import OnDemandTable


class IdempotencyModel(Model):
    class Meta(OnDemandTable):
        table_name = "cleardue-idempotency"

    id = UnicodeAttribute(hash_key=True)
    expiration = NumberAttribute(null=True)  # epoch seconds; the table's TTL attribute
    status = UnicodeAttribute(null=True)
    data = UnicodeAttribute(null=True)


TTL_ATTRIBUTE = "expiration"
