"""A 1,000,000-row portfolio completes through the checkpoint path (`-m large`; part of `make test`).

The lender sends its whole book again with 1,000 new accounts at the end: every row is streamed,
validated and checkpointed across many short chunks; the unchanged rows are recognised from the
manifest (no write), the new ones are written. Generated at run time, never committed."""

from __future__ import annotations

import io
import os
import random
from datetime import UTC, datetime

import pytest

from functions.core.account import placement_fingerprint
from functions.core.clock import iso_utc
from functions.core.lender import LenderProfile
from functions.core.portfolio import RowAccepted, read_portfolio
from functions.ingest.service import Ingestion, ObjectCreated
from functions.store import accounts, lenders, manifests, uploads
from functions.store.manifests import Entry
from tests.conftest import BUCKET

pytestmark = [pytest.mark.large, pytest.mark.timeout(1200)]
# `make test` runs it with LARGE_TEST_ROWS=200000 (the same checkpoint path, a proportionally smaller time
# budget so it still takes many chunks: about 40 s instead of 3.5 min); `make large` runs the million rows.
ROWS = int(os.environ.get("LARGE_TEST_ROWS", "1000000"))
BUDGET_SECONDS = max(0.5, 3.0 * ROWS / 1_000_000)
NEW = 1_000
AT = datetime(2026, 3, 8, 14, tzinfo=UTC)
KEY = b"large-test-key"


def portfolio(rows: int) -> bytes:
    rng = random.Random(7)
    lines = ["external_ref,name,email,principal,due_date\n"]
    lines += [
        f"L{n:07d},Debtor {n},debtor{n}@example.com,{rng.randint(1, 99999)}.{rng.randint(0, 99):02d},"
        f"2026-0{1 + n % 9}-{1 + n % 28:02d}\n"
        for n in range(rows)
    ]
    return "".join(lines).encode()


def test_a_million_rows_complete_in_many_checkpointed_chunks(aws) -> None:
    lender = LenderProfile(lender_id="big", creditor_name="Big Bank")
    lenders.put(lender)
    body = portfolio(ROWS)
    # What earlier uploads left: every account but the last NEW ones, known to the manifest.
    known = manifests.Manifest()
    for row in read_portfolio(io.StringIO(body.decode(), newline=""), lender, KEY):
        assert isinstance(row, RowAccepted)
        if row.line <= ROWS + 1 - NEW:
            known[row.account.external_ref] = Entry(placement_fingerprint(row.account), "u-earlier", row.line, "new")
    manifests.save(aws["s3"], BUCKET, "big", known)
    etag = aws["s3"].put_object(Bucket=BUCKET, Key="portfolios/big/book.csv", Body=body)["ETag"].strip('"')

    queue: list[dict] = []
    enqueue = lambda message, delay: queue.append(message)  # noqa: E731
    ingestion = Ingestion(
        aws["s3"], enqueue, lambda: KEY, due_shards=4, budget_seconds=BUDGET_SECONDS
    )  # a small budget: many chunks
    started = ingestion.object_created(ObjectCreated(BUCKET, "portfolios/big/book.csv", etag, None, AT))
    assert started.status == "queued"
    outcome = None
    while queue:
        message = queue.pop(0)
        outcome = ingestion.process_chunk(message["upload_id"], message["offset"], AT, attempt=1)

    assert outcome is not None and outcome.status == "completed"
    summary = outcome.detail
    assert summary["chunks"] >= 5
    assert (summary["total"], summary["accepted"], summary["rejected"]) == (ROWS, ROWS, 0)
    assert summary["accepted_by_outcome"] == {"new": NEW, "updated": 0, "unchanged": ROWS - NEW}
    record = uploads.get(started.upload_id)
    assert record is not None and record.offset == len(body)
    last = accounts.get(f"big#L{ROWS - 1:07d}")
    assert last is not None and last.next_contact_at is not None and iso_utc(last.next_contact_at) == iso_utc(AT)
