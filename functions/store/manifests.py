"""Per-lender manifest (S3): what each upload last wrote for each account reference.

An optimisation and a ledger, never the source of truth: unchanged rows are skipped without a write,
rows written by this same upload are recognised on a replay after a crash (same outcome again) and a
reference repeated within one file is caught across invocations. The accounts table decides what is
new: ingestion creates accounts only where none exists.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from typing import Any

MANIFEST_PREFIX = "manifests/"


@dataclass(frozen=True, slots=True)
class Entry:
    fingerprint: str
    upload_id: str
    line: int
    outcome: str  # new | updated | unchanged


def manifest_key(lender_id: str) -> str:
    return f"{MANIFEST_PREFIX}{lender_id}.json.gz"


def load(s3: Any, bucket: str, lender_id: str) -> dict[str, Entry] | None:
    """The lender's manifest, or None if there is none yet."""
    try:
        body = s3.get_object(Bucket=bucket, Key=manifest_key(lender_id))["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    raw: dict[str, list[Any]] = json.loads(gzip.decompress(body))
    return {ref: Entry(*values) for ref, values in raw.items()}


def save(s3: Any, bucket: str, lender_id: str, entries: dict[str, Entry]) -> None:
    document = {ref: [e.fingerprint, e.upload_id, e.line, e.outcome] for ref, e in entries.items()}
    body = gzip.compress(json.dumps(document, separators=(",", ":")).encode(), compresslevel=5)
    s3.put_object(
        Bucket=bucket, Key=manifest_key(lender_id), Body=body, ContentType="application/json", ContentEncoding="gzip"
    )
