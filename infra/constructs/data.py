"""The DynamoDB tables, derived from the PynamoDB models (the schema's single source), and their key."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct
from pynamodb.attributes import Attribute
from pynamodb.indexes import GlobalSecondaryIndex, Index
from pynamodb.models import Model

from functions import names
from functions.store.idempotency import TTL_ATTRIBUTE
from functions.store.tables import models_by_setting


@dataclass(frozen=True)
class TableBinding:
    """How a table reaches the functions (environment variable) and the outside (stack output)."""

    env_var: str
    output_id: str
    ttl_attribute: str | None = None


# Keyed by StoreSettings field, like functions.store.tables.models_by_setting().
_TTL_ATTRIBUTES = {"idempotency_table": TTL_ATTRIBUTE}
TABLE_BINDINGS: dict[str, TableBinding] = {
    field: TableBinding(env_var, names.TABLE_OUTPUTS[field], _TTL_ATTRIBUTES.get(field))
    for field, env_var in names.TABLE_ENV_VARS.items()
}

_ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}
_PROJECTION_TYPES = {
    "ALL": dynamodb.ProjectionType.ALL,
    "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY,
    "INCLUDE": dynamodb.ProjectionType.INCLUDE,
}


class DataConstruct(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        models = models_by_setting()
        if models.keys() != TABLE_BINDINGS.keys():
            raise ValueError(f"TABLE_BINDINGS must cover exactly the store's tables: {sorted(models)}")
        self.key = self._build_key()
        self.tables = {field: self._build_table(field, model) for field, model in models.items()}
        self.accounts = self.tables["accounts_table"]
        self.events = self.tables["events_table"]
        self.uploads = self.tables["uploads_table"]
        self.lenders = self.tables["lenders_table"]
        self.idempotency = self.tables["idempotency_table"]
        self.experiments = self.tables["experiments_table"]
        self.keys = self.tables["keys_table"]

    def table_environment(self) -> dict[str, str]:
        """Every table's name under its environment variable (the store reads all of them)."""
        return {TABLE_BINDINGS[field].env_var: table.table_name for field, table in self.tables.items()}

    def grant_read_update(self, table: dynamodb.Table, grantee: iam.IGrantable) -> None:
        """Read and UpdateItem: the item changes in place, it is never replaced or deleted."""
        table.grant_read_data(grantee)
        table.grant(grantee, "dynamodb:UpdateItem")
        self.key.grant_encrypt(grantee)

    def grant_append(self, table: dynamodb.Table, grantee: iam.IGrantable) -> None:
        """Read and PutItem only: the audit trail is append-only (the last hash is read before each append)."""
        table.grant_read_data(grantee)
        table.grant(grantee, "dynamodb:PutItem")
        self.key.grant_encrypt(grantee)

    def _build_key(self) -> kms.Key:
        key = kms.Key(
            self,
            "Key",
            description="cleardue data at rest",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # The functions' and the API's log groups are encrypted with this key too: CloudWatch Logs in this
        # region may use it for this account's log groups only.
        stack = Stack.of(self)
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],  # in a key policy "*" means this key
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            )
        )
        return key

    def _build_table(self, field: str, model: type[Model]) -> dynamodb.Table:
        # Table rather than TableV2: TableV2 cannot render a customer-managed key in a region-agnostic stack.
        attributes = model.get_attributes().values()
        table = dynamodb.Table(
            self,
            "".join(part.capitalize() for part in field.split("_")),
            partition_key=_hash_key(attributes),
            sort_key=_range_key(attributes),
            time_to_live_attribute=TABLE_BINDINGS[field].ttl_attribute,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        for index in model._indexes.values():
            if not isinstance(index, GlobalSecondaryIndex):
                raise NotImplementedError(f"{model.__name__}: only global secondary indexes are supported")
            table.add_global_secondary_index(**_global_index(index))
        return table


def _key_attribute(attribute: Attribute) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=attribute.attr_name, type=_ATTRIBUTE_TYPES[attribute.attr_type])


def _hash_key(attributes: Collection[Attribute]) -> dynamodb.Attribute:
    return _key_attribute(next(attribute for attribute in attributes if attribute.is_hash_key))


def _range_key(attributes: Collection[Attribute]) -> dynamodb.Attribute | None:
    range_key = next((attribute for attribute in attributes if attribute.is_range_key), None)
    return _key_attribute(range_key) if range_key else None


def _global_index(index: Index) -> dict[str, Any]:
    attributes = index.Meta.attributes.values()
    projection = index.Meta.projection
    return {
        "index_name": index.Meta.index_name,
        "partition_key": _hash_key(attributes),
        "sort_key": _range_key(attributes),
        "projection_type": _PROJECTION_TYPES[projection.projection_type],
        "non_key_attributes": projection.non_key_attributes,
    }
