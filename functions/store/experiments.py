"""The experiments table: bandit statistics per message segment and variant (atomic counters)."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from functions.store.attributes import OnDemandTable


class ExperimentModel(Model):
    class Meta(OnDemandTable):
        table_name = "cleardue-experiments"

    segment = UnicodeAttribute(hash_key=True)  # "<stage>#<tier>#<language>"
    variant = UnicodeAttribute(range_key=True)
    sends = NumberAttribute(default=0)
    rewards = NumberAttribute(default=0)
    state = UnicodeAttribute(default="active")  # active | pinned | retired
