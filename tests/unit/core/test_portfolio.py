import io

import pytest

from functions.core.lender import LenderProfile
from functions.core.money import Money
from functions.core.portfolio import PortfolioError, RowAccepted, RowRejected, read_portfolio

LENDER = LenderProfile(lender_id="acme", creditor_name="Acme Lending", timezone="America/Denver")
HEADER = "Reference,Debtor Name,EMAIL,Phone,Currency,Principal,Interest,Fees,Due Date,Branch"


def read(text: str) -> list[RowAccepted | RowRejected]:
    return list(read_portfolio(io.StringIO(text, newline=""), LENDER))


def test_reads_rows_with_aliased_headers_and_keeps_unknown_columns() -> None:
    rows = read(
        f'{HEADER}\r\nA-1,Dana Reyes,dana@example.com,+1 (312) 555-0147,USD,"1,200.00",8.5,25,2026-02-20,Denver\r\n'
    )
    assert len(rows) == 1 and isinstance(rows[0], RowAccepted)
    account = rows[0].account
    assert rows[0].line == 2
    assert account.account_id == "acme#A-1"
    assert account.debtor.phone == "+13125550147"
    assert account.debtor.timezone == "America/Denver"  # the lender's default
    assert account.balance.total == Money(123350, "USD")
    assert account.lender_attributes == {"Branch": "Denver"}


def test_every_bad_row_is_rejected_with_its_line_and_reason() -> None:
    text = (
        f"{HEADER}\n"
        "A-1,Dana Reyes,dana@example.com,,USD,100,0,0,2026-02-20,x\n"
        "A-2,,x@example.com,,USD,100,0,0,2026-02-20,x\n"
        '"A-3","Multi\nLine Name",not-an-email,,USD,100,0,0,2026-02-20,x\n'
        "A-4,Sam Lee,sam@example.com,,USD,1.005,0,0,2026-02-20,x\n"
        "A-5,Sam Lee,sam@example.com,,USD,100,0,0,20/02/2026,x\n"
        "A-6,Sam Lee,,12345,USD,100,0,0,2026-02-20,x\n"
        "A-1,Dana Reyes,dana@example.com,,USD,100,0,0,2026-02-20,x\n"
        "A-8,Sam Lee,sam@example.com,,USD,100,0\n"
        "A-9,Sam Lee,sam@example.com,,XXX,100,0,0,2026-02-20,x\n"
        "A-10,Sam Lee,sam@example.com,,USD,-5,0,0,2026-02-20,x\n"
    )
    rows = read(text)
    rejected = {row.line: row.reason for row in rows if isinstance(row, RowRejected)}
    assert [row.line for row in rows if isinstance(row, RowAccepted)] == [2]
    assert rejected.keys() == {3, 4, 6, 7, 8, 9, 10, 11, 12}  # the quoted newline makes row A-3 span lines 4-5
    assert "name is required" in rejected[3]
    assert "not a valid address" in rejected[4]
    assert "more than 2 decimal places" in rejected[6]
    assert "not a date" in rejected[7]
    assert "E.164" in rejected[8]
    assert "duplicate external_ref" in rejected[9]
    assert "expected 10 fields, found 7" in rejected[10]
    assert "unknown currency" in rejected[11]
    assert "cannot be negative" in rejected[12]
    assert len(rows) == 10  # nothing is lost: every data row is accepted or rejected


def test_a_file_without_the_required_columns_is_refused_as_a_whole() -> None:
    with pytest.raises(PortfolioError, match="missing required column\\(s\\): principal"):
        read("reference,name,email,due_date\nA-1,Dana,d@example.com,2026-01-01\n")
    with pytest.raises(PortfolioError, match="email and/or phone"):
        read("reference,name,principal,due_date\nA-1,Dana,1,2026-01-01\n")
    with pytest.raises(PortfolioError, match="empty"):
        read("")


def test_blank_lines_are_skipped_not_rejected() -> None:
    rows = read(f"{HEADER}\n\nA-1,Dana Reyes,dana@example.com,,JPY,1200,0,0,2026-02-20,x\n,,,,,,,,,\n")
    assert len(rows) == 1 and isinstance(rows[0], RowAccepted)
    assert rows[0].account.balance.principal == Money(1200, "JPY")
