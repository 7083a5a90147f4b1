"""Given any bytes a lender might upload, when ingestion reads them, then the file is refused with a clear
reason or every row is accepted or rejected with a reason: never another exception.

The reading path is ingestion's own: CountingLines over the object's bytes, parse_header on the first
line, read_rows on the rest. The refusals of a whole file are those ingestion reports as "the file cannot
be read" (functions/ingest/service.py): PortfolioError, NotTextError and csv.Error."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from functions.core.lender import LenderProfile
from functions.core.portfolio import COLUMN_ALIASES, PortfolioError, RowAccepted, RowRejected, parse_header, read_rows
from functions.ingest.lines import NotTextError
from tests.fuzz.budget import fuzz_settings

pytestmark = pytest.mark.fuzz

KEY = b"fuzz-test-fact-key-0123456789abc"
LENDER = LenderProfile.default_for("acme")
FILE_REFUSALS = (PortfolioError, NotTextError)
DELIMITERS = (",", ";", "\t")

REQUIRED = ("external_ref", "name", "principal", "due_date", "email")
OPTIONAL = sorted(set(COLUMN_ALIASES) - set(REQUIRED) - {"first_name", "last_name"})
# Cells: plausible values, the characters that make CSV hard, and anything at all.
CELL = st.one_of(
    st.sampled_from(
        ["", " ", "A-1", "12.50", "1,234.56", "-3", "1e9", "2026-03-08", "08/03/2026", "yes", "no", "USD", "XXX",
         "a@b.example", "+15551234567", "555", "Europe/Madrid", "es-MX", '"', '""', "\r\n", "\x00", "\ufeff"]
    ),
    st.text(max_size=30),
)  # fmt: skip


def read_all(data: bytes) -> list[RowAccepted | RowRejected]:
    """Ingestion's reading of an object: the header line, then every data row."""
    from functions.ingest.lines import CountingLines

    lines = iter(CountingLines(io.BytesIO(data), 0, 1))
    header = parse_header(next(lines, ""))
    return list(read_rows(lines, header, LENDER, KEY))


def assert_every_row_has_an_outcome(results: list[RowAccepted | RowRejected]) -> None:
    for result in results:
        if isinstance(result, RowRejected):
            assert result.reasons and all(isinstance(r, str) and r.strip() for r in result.reasons), result
        else:
            assert isinstance(result, RowAccepted) and result.account.external_ref


def read_or_refuse(data: bytes) -> None:
    try:
        results = read_all(data)
    except FILE_REFUSALS as exc:
        assert str(exc).strip(), type(exc)  # a refusal says why
        event(f"file refused: {type(exc).__name__}")
        return
    assert_every_row_has_an_outcome(results)
    event("rows accepted" if any(isinstance(r, RowAccepted) for r in results) else "rows read, none accepted")


@fuzz_settings(300)
@given(st.binary(max_size=600))
def test_any_bytes_are_read_or_refused_with_a_reason(data: bytes) -> None:
    read_or_refuse(data)


@fuzz_settings(300)
@given(st.text(max_size=300))
def test_any_header_line_maps_or_is_refused(line: str) -> None:
    try:
        header = parse_header(line)
    except PortfolioError as exc:
        assert str(exc)
        return
    assert len(header.columns) == len(header.fields) and header.delimiter in DELIMITERS


FIELD_OF = {alias: name for name, aliases in COLUMN_ALIASES.items() for alias in aliases}
PLAUSIBLE = {
    "name": "Dana Reyes", "first_name": "Dana", "last_name": "Reyes", "email": "dana@example.com",
    "phone": "+13125550100", "postal_code": "60601", "country": "US", "language": "en",
    "timezone": "America/Chicago", "date_of_birth": "1980-05-17", "verification_fact": "blue", "currency": "USD",
    "principal": "1,234.56", "interest": "10", "fees": "0.5", "last_payment_amount": "20.00",
    "original_creditor": "Acme Bank", "sms_consent": "yes",
}  # fmt: skip


def plausible(column: str, row: int) -> str:
    field = FIELD_OF.get(column, "")
    if field == "external_ref":
        return f"R-{row}"
    if field.endswith("date") or field in ("due_date", "charged_off", "sol"):
        return "2026-03-08"
    return PLAUSIBLE.get(field, "no" if field else "x")


@st.composite
def portfolios(draw: st.DrawFn) -> bytes:
    """A header ingestion accepts (aliases in any case and order, unknown columns), then rows: plausible ones
    with some cells replaced by anything, and rows of anything at all."""
    delimiter = draw(st.sampled_from(DELIMITERS))
    optional = draw(st.lists(st.sampled_from(OPTIONAL), max_size=6, unique=True))
    columns = list(REQUIRED) + [draw(st.sampled_from(COLUMN_ALIASES[field])) for field in optional]
    columns += draw(st.lists(st.sampled_from(["Branch", "Agent Notes", "Región", "x"]), max_size=2, unique=True))
    columns = draw(st.permutations(columns))
    rows = []
    for n in range(draw(st.integers(0, 8))):
        if draw(st.integers(0, 3)):
            row = [plausible(column, n) for column in columns]
            for _ in range(draw(st.integers(0, 2))):
                row[draw(st.integers(0, len(row) - 1))] = draw(CELL)
        else:
            row = draw(st.lists(CELL, max_size=len(columns) + 2))
        rows.append(row)
    header = [draw(st.sampled_from([c, c.upper(), c.replace("_", " ").title()])) for c in columns]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(header)
    writer.writerows(rows)
    text = out.getvalue()
    if not draw(st.integers(0, 4)):  # raw damage: a stray quote, a cut line, a BOM, a NUL
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(['"', "\n", "\ufeff", "\x00", ";;", "\r"])) + text[at:]
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "latin-1"]))
    return text.encode(encoding, errors="replace")


@fuzz_settings(200)
@given(portfolios())
def test_every_row_of_a_messy_portfolio_is_accepted_or_rejected_with_a_reason(data: bytes) -> None:
    read_or_refuse(data)


# Found by the fuzzing above: csv.Error escaped parse_header and read_rows.


def test_a_file_with_old_mac_line_endings_is_refused_with_a_hint() -> None:
    cr_only = b"ref,name,email,principal,due_date\rR-1,Dana Reyes,dana@example.com,10,2026-03-08\r"
    with pytest.raises(PortfolioError, match="header row is not valid CSV.*Windows or Unix line endings"):
        read_all(cr_only)


def test_a_record_csv_cannot_read_fails_the_file_at_its_line() -> None:
    header = b"ref,name,email,principal,due_date\n"
    bad = header + b"R-1,Dana Reyes,dana@example.com,10,2026-03-08\nR-2,Ana\rLee,a@b.c,1,2026-03-08\n"
    with pytest.raises(PortfolioError, match="^line 3: not valid CSV from here on"):
        read_all(bad)
