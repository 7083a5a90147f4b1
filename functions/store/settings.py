"""Table names and the due-index shard count, read once from the environment."""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field

from functions import names


class StoreSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    accounts_table: str = "cleardue-accounts"
    events_table: str = "cleardue-events"
    uploads_table: str = "cleardue-uploads"
    lenders_table: str = "cleardue-lenders"
    idempotency_table: str = "cleardue-idempotency"
    experiments_table: str = "cleardue-experiments"
    keys_table: str = "cleardue-keys"
    due_shards: int = Field(default=names.DEFAULT_DUE_SHARDS, ge=1, le=100)
    region: str | None = None
    pii_key_id: str | None = None  # None: the local stack's key (functions.store.pii.DEFAULT_KEY_ID)

    @classmethod
    def env_fields(cls) -> dict[str, str | None]:
        env = os.environ
        values: dict[str, str | None] = {
            **{field: env.get(env_var) for field, env_var in names.TABLE_ENV_VARS.items()},
            "due_shards": env.get(names.ENV_DUE_SHARDS),
            "region": env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
            "pii_key_id": env.get(names.ENV_PII_KEY_ID),
        }
        return {key: value for key, value in values.items() if value}

    @classmethod
    def from_env(cls) -> StoreSettings:
        return cls.model_validate(cls.env_fields())

    def table_environment(self) -> dict[str, str]:
        """Every table's name under the environment variable the functions read it from."""
        return {env_var: getattr(self, field) for field, env_var in names.TABLE_ENV_VARS.items()}

    def table_outputs(self) -> dict[str, str]:
        """Every table's name under its stack output id (as .local/outputs.json holds them)."""
        return {output_id: getattr(self, field) for field, output_id in names.TABLE_OUTPUTS.items()}
