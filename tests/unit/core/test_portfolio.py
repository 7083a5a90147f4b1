import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from functions.core.account import Flag
from functions.core.lender import LenderProfile
from functions.core.money import Money
from functions.core.portfolio import (
    COLUMN_ALIASES,
    PortfolioError,
    RowAccepted,
    RowRejected,
    detect_delimiter,
    parse_header,
    read_portfolio,
    read_rows,
)
from functions.core.verification import fact_hash, fact_matches

KEY = b"k" * 32
LENDER = LenderProfile(
    lender_id="acme", creditor_name="Acme Lending", timezone="America/Denver", date_formats=("%m/%d/%Y",)
)
HEADER = "Reference,Debtor Name,EMAIL,Phone,Currency,Principal,Interest,Fees,Due Date,Branch"


def read(text: str, lender: LenderProfile = LENDER) -> list[RowAccepted | RowRejected]:
    return list(read_portfolio(io.StringIO(text, newline=""), lender, KEY))


def accepted(text: str, lender: LenderProfile = LENDER):
    rows = read(text, lender)
    assert all(isinstance(row, RowAccepted) for row in rows), rows
    return [row.account for row in rows]  # type: ignore[union-attr]


def test_reads_rows_with_aliased_headers_and_keeps_unknown_columns() -> None:
    (account,) = accepted(
        f'{HEADER}\r\nA-1,Dana Reyes,dana@example.com,(312) 555-0147,USD,"1,200.00",8.5,25,2026-02-20,Denver\r\n'
    )
    assert account.account_id == "acme#A-1"
    assert account.debtor.phone == "+13125550147"  # national form, the lender's region
    assert account.debtor.timezone == "America/Chicago"  # inferred from the phone's area
    assert account.balance.total == Money(123350, "USD")
    assert account.lender_attributes == {"Branch": "Denver"}


@pytest.mark.parametrize(
    ("line", "delimiter"),
    [("a,b;c", ","), ("a;b;c", ";"), ("a\tb\tc", "\t"), ("abc", ","), ('"a;b;c",d', ",")],
)
def test_delimiter_is_detected_from_the_header(line: str, delimiter: str) -> None:
    assert detect_delimiter(line) == delimiter


def test_semicolon_files_with_decimal_amounts_are_read() -> None:
    (account,) = accepted("ref;name;email;principal;due_date\nB-7;Ana Silva;ana@example.com;1234.5;03/04/2026\n")
    assert account.balance.principal == Money(123450, "USD")
    assert account.due_date == date(2026, 3, 4)  # the lender's policy says month first


def test_every_bad_row_is_rejected_with_its_line_and_every_reason() -> None:
    text = (
        f"{HEADER}\n"
        "A-1,Dana Reyes,dana@example.com,,USD,100,0,0,2026-02-20,x\n"
        "A-2,,x@example.com,,USD,100,0,0,2026-02-20,x\n"
        '"A-3","Multi\nLine Name",not-an-email,,USD,100,0,0,2026-02-20,x\n'
        "A-4,Sam Lee,sam@example.com,,USD,1.005,0,0,2026-02-20,x\n"
        "A-5,Sam Lee,sam@example.com,,USD,100,0,0,20.02.2026,x\n"
        "A-6,Sam Lee,,12345,USD,100,0,0,2026-02-20,x\n"
        "A-1,Dana Reyes,dana@example.com,,USD,100,0,0,2026-02-20,x\n"
        "A-8,Sam Lee,sam@example.com,,USD,100,0\n"
        "A-9,Sam Lee,sam@example.com,,XXX,100,0,0,2026-02-20,x\n"
        "A-10,,bad@,+1 000,USD,-5,abc,0,,x\n"
    )
    rows = read(text)
    rejected = {row.line: row.reasons for row in rows if isinstance(row, RowRejected)}
    assert [row.line for row in rows if isinstance(row, RowAccepted)] == [2]
    assert rejected.keys() == {3, 4, 6, 7, 8, 9, 10, 11, 12}  # the quoted newline makes row A-3 span lines 4-5
    assert rejected[3] == ("name is required",)
    assert "not valid" in rejected[4][0]
    assert "more than 2 decimal places" in rejected[6][0]
    assert "due_date '20.02.2026' is not a date (YYYY-MM-DD or %m/%d/%Y)" in rejected[7]
    assert "phone '12345'" in rejected[8][0]
    assert "duplicate external_ref" in rejected[9][0]
    assert "expected 10 fields, found 7" in rejected[10][0]
    assert "unknown currency" in rejected[11][0]
    assert len(rejected[12]) == 6  # name, email, phone, principal, interest, due date: all of them
    assert len(rows) == 10  # nothing is lost: every data row is accepted or rejected


def test_full_format_with_placement_facts_flags_consent_and_hashed_identity() -> None:
    header = (
        "account_number,first_name,last_name,mobile,zip,country,lang,dob,principal,interest,fees,ccy,due_date,"
        "original_creditor,itemization_date,open_date,last_payment_date,last_payment_amount,charge_off_date,"
        "sol_date,sms_consent,bankruptcy,recalled,deceased"
    )
    row = (
        'L-1,José,Núñez,+34 612 345 678,28013,es,es,1980-05-17,"1.234,00",0,0,EUR,2026-01-31,Banco Uno,'
        "2025-12-31,2021-06-01,2025-11-02,50.00,2026-01-15,2030-01-31,yes,no,Y,"
    )
    rows = read(f"{header}\n{row}\n")
    assert isinstance(rows[0], RowRejected)  # "1.234,00" is not an amount: decimal point, comma groups only
    (account,) = accepted(f"{header}\n{row.replace(chr(34) + '1.234,00' + chr(34), '1234.00')}\n")
    debtor = account.debtor
    assert (debtor.name, debtor.phone, debtor.country, debtor.language) == ("José Núñez", "+34612345678", "ES", "es")
    assert debtor.phone_is_mobile and debtor.sms_consent
    assert debtor.timezone == "Europe/Madrid"
    assert account.balance.total == Money(123400, "EUR")
    assert account.placement.original_creditor == "Banco Uno"
    assert account.placement.last_payment == Money(5000, "EUR")
    assert account.placement.statute_of_limitations == date(2030, 1, 31)
    assert account.flags == {Flag.RECALLED}
    assert not account.is_collectible  # a recalled account is never contacted
    assert "1980" not in str(account.verification)
    assert fact_matches(KEY, "acme#L-1", "date_of_birth", "1980-05-17", account.verification["date_of_birth"])
    assert account.verification["date_of_birth"] != fact_hash(KEY, "acme#L-2", "date_of_birth", "1980-05-17")


def test_zones_from_row_phone_country_or_lender_default() -> None:
    text = (
        "ref,name,email,phone,country,timezone,principal,due_date\n"
        "1,A,,+12125550142,,,10,2026-01-01\n"  # phone: New York
        "2,B,b@example.com,,FR,,10,2026-01-01\n"  # country with one zone
        "3,C,,+12125550142,,America/Los_Angeles,10,2026-01-01\n"  # the row wins; the phone's zone is kept
        "4,D,,+12125550142,GB,,10,2026-01-01\n"  # phone and address disagree: both are kept
        "5,E,,+33123456789,,,10,2026-01-01\n"
        "6,F,f@example.com,,,,10,2026-01-01\n"  # nothing to go on: the lender's default
    )
    zones = [account.debtor.contact_zones for account in accepted(text)]
    assert zones == [
        ("America/New_York",),
        ("Europe/Paris",),
        ("America/Los_Angeles", "America/New_York"),
        ("America/New_York", "Europe/London"),
        ("Europe/Paris",),
        ("America/Denver",),
    ]


def test_a_file_without_the_required_columns_is_refused_as_a_whole() -> None:
    with pytest.raises(PortfolioError, match="missing required column\\(s\\): principal"):
        read("reference,name,email,due_date\nA-1,Dana,d@example.com,2026-01-01\n")
    with pytest.raises(PortfolioError, match="email and/or phone"):
        read("reference,name,principal,due_date\nA-1,Dana,1,2026-01-01\n")
    with pytest.raises(PortfolioError, match="empty"):
        read("")
    with pytest.raises(PortfolioError, match="given twice: email"):
        read("ref,name,email,e-mail,principal,due_date\n")


def test_blank_lines_are_skipped_not_rejected_and_bom_is_ignored() -> None:
    (account,) = accepted(f"\ufeff{HEADER}\n\nA-1,Dana Reyes,dana@example.com,,JPY,1200,0,0,2026-02-20,x\n,,,,,,,,,\n")
    assert account.balance.principal == Money(1200, "JPY")


def test_the_documented_example_file_is_accepted_whole() -> None:
    lender = LenderProfile(
        lender_id="example", creditor_name="Example Lending", country="US", date_formats=("%m/%d/%Y",)
    )
    example = Path(__file__).parents[3] / "docs" / "examples" / "portfolio-example.csv"
    with example.open(encoding="utf-8-sig", newline="") as text:
        rows = list(read_portfolio(text, lender, KEY))
    assert len(rows) == 8
    assert all(isinstance(row, RowAccepted) for row in rows), [row for row in rows if isinstance(row, RowRejected)]
    by_ref = {row.account.external_ref: row.account for row in rows}  # type: ignore[union-attr]
    assert by_ref["JP-0042"].balance.total == Money(151100, "JPY")
    assert by_ref["ES-2201"].debtor.contact_zones[0] == "Europe/Madrid"
    assert by_ref["AC-100237"].flags == {Flag.RECALLED}
    assert by_ref["AC-100237"].lender_attributes["product"] == "Auto loan\nrefinanced 2023"
    assert by_ref["AC-100234"].placement.open_date == date(2019, 6, 15)  # the lender's %m/%d/%Y


def test_the_format_document_lists_every_column_and_alias() -> None:
    document = (Path(__file__).parents[3] / "docs" / "portfolio-format.md").read_text(encoding="utf-8")
    missing = [alias for aliases in COLUMN_ALIASES.values() for alias in aliases if f"`{alias}`" not in document]
    assert not missing


def test_rows_are_read_one_record_at_a_time_without_reading_ahead() -> None:
    # The ingest checkpoints by byte offset: after each result, the lines handed out must be exactly
    # those of the records read so far.
    lines = [
        f"{HEADER}\n",
        "A-1,Dana Reyes,dana@example.com,,USD,100,0,0,2026-02-20,x\n",
        'A-2,"Sam\n',
        'Lee",sam@example.com,,USD,100,0,0,2026-02-20,x\n',
        "\n",
        "A-3,Ana Silva,,,USD,100,0,0,2026-02-20,x\n",
    ]
    handed_out = 0

    def feed() -> Iterator[str]:
        nonlocal handed_out
        for line in lines:
            handed_out += 1
            yield line

    source = feed()
    header = parse_header(next(source))
    consumed = [(row.line, handed_out) for row in read_rows(source, header, LENDER, KEY)]
    assert consumed == [(2, 2), (3, 4), (6, 6)]


def test_rows_can_be_resumed_from_a_later_line() -> None:
    header = parse_header(HEADER)
    rest = io.StringIO("A-9,Ana Silva,ana@example.com,,USD,100,0,0,2026-02-20,x\n", newline="")
    (row,) = read_rows(rest, header, LENDER, KEY, first_line=1234)
    assert row.line == 1234 and isinstance(row, RowAccepted)


def test_unnamed_columns_are_kept_by_position_and_quoted_names_do_not_fool_the_delimiter() -> None:
    (account,) = accepted(
        'ref;name;email;principal;due_date;"Notes, internal";\nB-1;Ana;a@example.com;5;2026-01-01;vip;x\n'
    )
    assert account.lender_attributes == {"Notes, internal": "vip", "column_7": "x"}


@pytest.mark.parametrize(
    ("currency", "text", "minor"),
    [("JPY", "150,000", 150000), ("KWD", "12.345", 12345), ("USD", "12.340", 1234), ("USD", ".5", 50)],
)
def test_amounts_are_exact_in_the_currencys_minor_unit(currency: str, text: str, minor: int) -> None:
    (account,) = accepted(
        f'ref,name,email,currency,principal,due_date\nC-1,Ana,a@example.com,{currency},"{text}",2026-01-01\n'
    )
    assert account.balance.principal == Money(minor, currency)


@pytest.mark.parametrize(("currency", "text"), [("JPY", "5.5"), ("USD", "1.005"), ("KWD", "1.0001")])
def test_amounts_finer_than_the_minor_unit_are_rejected_never_rounded(currency: str, text: str) -> None:
    (row,) = read(f"ref,name,email,currency,principal,due_date\nC-1,Ana,a@example.com,{currency},{text},2026-01-01\n")
    assert isinstance(row, RowRejected) and "decimal places" in row.reason
