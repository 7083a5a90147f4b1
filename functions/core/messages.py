"""Message content. The skeleton's one plain reminder: transparent about who, what and when.

Templates per channel, stage, tone, variant and language (Jinja2 + Babel) replace this as the
sender grows; the facts every message carries stay the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from functions.core.account import Account
from functions.core.lender import LenderProfile


@dataclass(frozen=True, slots=True)
class EmailContent:
    subject: str
    text: str


def reminder_email(account: Account, lender: LenderProfile, today: date) -> EmailContent:
    """The plain reminder for `account`, worded for `today` in the debtor's zone (due / was due)."""
    balance = account.balance
    due = account.due_date.isoformat()
    when = f"was due on {due}" if today > account.due_date else f"is due on {due}"
    first_name = account.debtor.name.split()[0] if account.debtor.name.strip() else "there"
    help_line = (
        f"Questions, or can't pay right now? Write to {lender.help_email} and we will help you find an option."
        if lender.help_email
        else "Questions, or can't pay right now? Reply to this email and we will help you find an option."
    )
    lines = [
        f"Hello {first_name},",
        "",
        f"This is a reminder about your {lender.creditor_name} account {account.masked_ref}.",
        f"The amount of {balance.total.display()} {when}:",
        f"  Principal  {balance.principal.display()}",
        f"  Interest   {balance.interest.display()}",
        f"  Fees       {balance.fees.display()}",
        "",
        help_line,
        "",
        f"{lender.creditor_name}",
    ]
    subject = f"{lender.creditor_name}: {balance.total.display()} {when} (account {account.masked_ref})"
    return EmailContent(subject=subject, text="\n".join(lines))
