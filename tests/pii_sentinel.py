"""Every log line the functions' logger writes during the test session, checked for the sample debtors' PII.

The test data's debtors (tests/events/factories.py, local/sample_portfolio.csv, the portal fixtures) have
known names, addresses, numbers and birth dates. A handler beside Powertools' own formats each record with
the same masking formatter, as it would reach CloudWatch, and notes any line holding one of them; the session
fails at the end if one did (tests/conftest.py). Cheap: a substring check per line, no record is kept."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXED = ("Dana Reyes", "dana.reyes@example.com", "+13125550147", "3125550147", "1985-04-12")


def sample_values() -> tuple[str, ...]:
    values = set(FIXED)
    with (ROOT / "local" / "sample_portfolio.csv").open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            values |= {row["name"], row["email"], row["phone"], row["date_of_birth"]}
    return tuple(sorted(value for value in values if value))


class PiiSentinel(logging.Handler):
    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(formatter)
        self.values = sample_values()
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # noqa: BLE001 - a record the formatter cannot render is Powertools' problem, not a leak
            return
        for value in self.values:
            if value in line:
                self.leaks.append(f"{value!r} in a log line from {record.pathname}:{record.lineno}: {line[:300]}")


def install() -> PiiSentinel:
    from functions.observability import logger

    sentinel = PiiSentinel(logger.registered_formatter)  # type: ignore[arg-type]
    logger.addHandler(sentinel)
    return sentinel
