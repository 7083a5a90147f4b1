"""Persistence: PynamoDB models (one module per table) and the queries each access pattern needs.

The only package that touches pynamodb or boto3 for data; functions take and return domain objects.
"""


class StoreError(RuntimeError):
    """A data-store operation failed (wraps the SDK's exception)."""
