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


class Manifest:
    """ref -> Entry, each kept as the one string it is stored as ("<fingerprint> <upload> <line> <outcome>").

    Strings, not lists: a million entries are then a million objects the garbage collector ignores,
    instead of a million containers it traverses on every full collection."""

    def __init__(self, raw: dict[str, str] | None = None) -> None:
        self._raw = raw or {}

    def __len__(self) -> int:
        return len(self._raw)

    def get(self, ref: str) -> Entry | None:
        value = self._raw.get(ref)
        if not value:
            return None
        fingerprint, upload_id, line, outcome = value.split(" ")
        return Entry(fingerprint, upload_id, int(line), outcome)

    def __setitem__(self, ref: str, entry: Entry) -> None:
        self._raw[ref] = f"{entry.fingerprint} {entry.upload_id} {entry.line} {entry.outcome}"

    def to_json(self) -> bytes:
        return json.dumps(self._raw, separators=(",", ":")).encode()


def exists(s3: Any, bucket: str, lender_id: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=manifest_key(lender_id))
    except s3.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def load(s3: Any, bucket: str, lender_id: str) -> Manifest | None:
    """The lender's manifest, or None if there is none yet."""
    try:
        body = s3.get_object(Bucket=bucket, Key=manifest_key(lender_id))["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return Manifest(json.loads(gzip.decompress(body)))


def save(s3: Any, bucket: str, lender_id: str, manifest: Manifest) -> None:
    body = gzip.compress(manifest.to_json(), compresslevel=1)
    s3.put_object(
        Bucket=bucket, Key=manifest_key(lender_id), Body=body, ContentType="application/json", ContentEncoding="gzip"
    )
