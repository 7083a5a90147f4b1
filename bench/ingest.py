"""`python -m bench.ingest [--rows N]`: portfolio parse + validate throughput on one core.

Generates a realistic US portfolio in a temporary directory (unique debtors, emails and phone numbers;
the domains repeat as they do in life), then times `read_portfolio` over it: CSV parsing, every
field's validation (email-validator, phonenumbers, exact amounts, dates) and building the accounts.
One process, one thread. The file is deleted afterwards; no data is ever committed.
"""

from __future__ import annotations

import csv
import random
import tempfile
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from botocore.client import BaseClient

from bench import cli
from functions.core.lender import LenderProfile
from functions.core.portfolio import RowAccepted, read_portfolio

LENDER = LenderProfile(lender_id="bench", creditor_name="Bench Lending", date_formats=("%m/%d/%Y",))
FACT_KEY = b"bench-fact-key-0123456789abcdef!"

COLUMNS = [
    "account_number",
    "first_name",
    "last_name",
    "email",
    "mobile",
    "zip",
    "state",
    "currency",
    "principal",
    "interest",
    "fees",
    "due_date",
    "original_creditor",
    "open_date",
    "last_payment_date",
    "last_payment_amount",
    "sms_consent",
]
FIRST_NAMES = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan "
    "Joseph Jessica Thomas Sarah Carlos Ana José María Zoë Chloé Nguyễn Aiyana DeShawn Priya Wei Fatima"
).split()
LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez "
    "Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Pérez Thompson White Harris Núñez O'Brien "
    "Nguyen Kim Patel"
).split()
EMAIL_DOMAINS = (
    ("gmail.com", 40),
    ("yahoo.com", 15),
    ("hotmail.com", 8),
    ("outlook.com", 7),
    ("aol.com", 5),
    ("icloud.com", 5),
    ("comcast.net", 4),
    ("att.net", 3),
    ("verizon.net", 3),
    ("sbcglobal.net", 3),
    ("msn.com", 2),
    ("live.com", 2),
    ("bellsouth.net", 2),
    ("cox.net", 1),
)
AREA_CODES = (
    "201 202 205 206 210 212 213 214 215 216 217 224 248 267 281 301 303 304 305 310 312 313 314 317 323 "
    "347 404 407 412 415 469 480 502 503 504 510 512 513 602 612 614 615 617 619 646 678 702 704 713 718 "
    "720 757 773 786 801 813 818 832 901 904 916 917 919 949 954 972"
).split()
STATES = "NY CA TX FL IL PA OH GA NC MI NJ VA WA AZ MA TN IN MO MD WI CO MN".split()
CREDITORS = ("Acme Bank, N.A.", "Summit Card Services", "Northwind Auto Finance", "Bluebird Telecom")


def _phone(rng: random.Random) -> str:
    area = rng.choice(AREA_CODES)
    exchange = rng.randint(200, 999)
    line = rng.randint(0, 9999)
    style = rng.randrange(4)
    if style == 0:
        return f"({area}) {exchange}-{line:04d}"
    if style == 1:
        return f"{area}-{exchange}-{line:04d}"
    if style == 2:
        return f"+1 {area} {exchange} {line:04d}"
    return f"{area}{exchange}{line:04d}"


def _amount(rng: random.Random, low: int, high: int) -> str:
    cents = rng.randint(low * 100, high * 100)
    whole, fraction = divmod(cents, 100)
    return f"{whole:,}.{fraction:02d}" if rng.random() < 0.5 else f"{whole}.{fraction:02d}"


def generate_portfolio(path: Path, rows: int, seed: int = 1) -> None:
    """A portfolio of `rows` distinct debtors, written as a lender's system would export it."""
    rng = random.Random(seed)
    domains = [domain for domain, _ in EMAIL_DOMAINS]
    weights = [weight for _, weight in EMAIL_DOMAINS]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for n in range(rows):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            local = unicodedata.normalize("NFKD", f"{first}.{last}").encode("ascii", "ignore").decode().lower()
            email = f"{local}{n}@{rng.choices(domains, weights)[0]}" if rng.random() < 0.97 else ""
            phone = _phone(rng) if rng.random() < 0.95 or not email else ""
            due = date(2026, 3, 7) - timedelta(days=rng.randint(-10, 120))
            opened = due - timedelta(days=rng.randint(200, 3000))
            paid = due - timedelta(days=rng.randint(15, 90))
            writer.writerow(
                [
                    f"L-{n:08d}",
                    first,
                    last,
                    email,
                    phone,
                    f"{rng.randint(10001, 99950):05d}",
                    rng.choice(STATES),
                    "USD",
                    _amount(rng, 50, 25000),
                    _amount(rng, 0, 900),
                    rng.choice(("0", "25.00", "35.00", "")),
                    due.isoformat(),
                    rng.choice(CREDITORS),
                    opened.strftime("%m/%d/%Y"),
                    paid.isoformat(),
                    _amount(rng, 10, 400),
                    rng.choice(("yes", "no", "")),
                ]
            )


def parse_rate(rows: int) -> float:
    """Rows per second for parse + validate of a generated `rows`-row portfolio, in this process."""
    with tempfile.TemporaryDirectory(prefix="cleardue-bench-") as directory:
        path = Path(directory) / "portfolio.csv"
        generate_portfolio(path, rows)
        with path.open(encoding="utf-8-sig", newline="") as text:
            started = time.perf_counter()
            results = accepted = 0
            for result in read_portfolio(text, LENDER, FACT_KEY):
                results += 1
                accepted += isinstance(result, RowAccepted)
            elapsed = time.perf_counter() - started
    if results != rows or accepted != rows:
        raise SystemExit(f"expected {rows} accepted rows, got {accepted} of {results}: the generator drifted")
    return rows / elapsed


class CallCounter:
    """Counts the AWS API calls a handler makes (botocore, so PynamoDB's too), per operation.

    `observer`, if given, also sees each counted call's operation, parameters and response (bench.cost
    derives DynamoDB request units from them)."""

    def __init__(self, observer: Callable[[str, dict[str, Any], Any], None] | None = None) -> None:
        self.calls: Counter[str] = Counter()
        self._active = threading.local()
        self._observer = observer

    def install(self) -> None:
        original = BaseClient._make_api_call
        counter = self

        def counted(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
            if not getattr(counter._active, "on", False):
                return original(client, operation, params)
            key = f"{client.meta.service_model.service_name}:{operation}"
            counter.calls[key] += 1
            response = original(client, operation, params)
            if counter._observer is not None:
                counter._observer(key, params, response)
            return response

        BaseClient._make_api_call = counted  # type: ignore[method-assign]

    def wrap(self, handler: Any) -> Any:
        def invoke(event: dict[str, Any], context: Any) -> Any:
            self._active.on = True
            try:
                return handler(event, context)
            finally:
                self._active.on = False

        return invoke


def upload_generated(runner: Any, directory: Path, rows: int, at: Any) -> None:
    """Give the local stack the bench lender's policy, then upload a generated `rows`-row portfolio."""
    policy = directory / "policy.json"
    policy.write_text(LENDER.model_dump_json(exclude_none=True))
    runner.load_lender(policy, at)
    path = directory / "portfolio.csv"
    generate_portfolio(path, rows)
    runner.upload_portfolio(path, LENDER.lender_id)


def print_calls(by_operation: Counter[str]) -> None:
    for operation, count in by_operation.most_common():
        print(f"    {operation:40} {count}")


def calls_per_row(rows: int) -> tuple[float, Counter[str], float]:
    """AWS calls per row the ingest function makes for a new `rows`-row portfolio, on moto server.

    Returns (calls per row, calls by operation, seconds). Only the function's own calls count: the
    pumps' ReceiveMessage/DeleteMessage are what Lambda's event source mapping does."""
    from functions.core.clock import parse_utc
    from local.stack import running

    counter = CallCounter()
    counter.install()
    with tempfile.TemporaryDirectory(prefix="cleardue-bench-") as directory, running(Path(directory)) as stack:
        from local.runner import LocalRunner, VirtualClock

        at = parse_utc("2026-03-08T14:00:00Z")
        runner = LocalRunner(stack, VirtualClock(at), out=lambda line: None)
        policy = Path(directory) / "policy.json"
        policy.write_text(LENDER.model_dump_json(exclude_none=True))
        runner.load_lender(policy, at)
        path = Path(directory) / "portfolio.csv"
        generate_portfolio(path, rows)
        runner._ingest._handler = counter.wrap(runner._ingest._handler)
        runner._chunks._handler = counter.wrap(runner._chunks._handler)
        runner.upload_portfolio(path, LENDER.lender_id)
        started = time.perf_counter()
        report = runner.cycle(at, schedule=False)
        elapsed = time.perf_counter() - started
    (summary,) = report.uploads
    if summary["total"] != rows:
        raise SystemExit(f"expected {rows} rows in the summary, got {summary['total']}")
    return sum(counter.calls.values()) / rows, counter.calls, elapsed


def main() -> None:
    parser = cli.parser("bench.ingest", description="Portfolio ingestion figures.", rows=100_000)
    parser.add_argument("--aws-rows", type=int, help="rows for the calls-per-row run on moto server (default: --rows)")
    parser.add_argument("--skip-aws", action="store_true", help="parse + validate only")
    args = parser.parse_args()
    rate = parse_rate(args.rows)
    figures: dict[str, Any] = {"parse_rows": args.rows, "parse_rows_per_s": rate}
    print(f"parse+validate: {args.rows} rows in {args.rows / rate:.2f} s = {rate:,.0f} rows/s (one core)")
    if not args.skip_aws:
        aws_rows = args.aws_rows or args.rows
        per_row, by_operation, seconds = calls_per_row(aws_rows)
        figures |= {"aws_rows": aws_rows, "calls_per_row": per_row, "calls": dict(by_operation.most_common())}
        print(
            f"AWS calls per row (moto server, a new portfolio): {per_row:.4f} ({sum(by_operation.values())} calls "
            f"for {aws_rows} rows, ingestion took {seconds:.0f} s on the emulator)"
        )
        print_calls(by_operation)
    cli.write_figures(args.json, figures)


if __name__ == "__main__":
    main()
