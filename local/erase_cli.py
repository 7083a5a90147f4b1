"""`cleardue erase ACCOUNT --reason TEXT`: a debtor's erasure request (GDPR Art. 17) through the ops API.

The same transports as `cleardue ops` (the local stack in-process, or `--api-url` SigV4-signed). Contact stops at
once; the data is destroyed now, or on the date Reg F 1006.100's retention ends, which is printed (deferred, never
refused). Exit 0 when recorded, 1 on an error answer, 2 when the stack cannot be reached."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from local import ops_cli


def add_parser(commands: Any) -> None:
    erase = commands.add_parser(
        "erase",
        help="erase a debtor (crypto-shredding; deferred while records must be kept)",
        description="Stops all contact now and destroys the debtor's data key, contact data and free text, now or "
        "(when Reg F 1006.100 keeps the records 3 years after the last collection activity) on the date printed. "
        "The audit trail keeps its non-personal skeleton and still verifies.",
    )
    ops_cli.add_transport_arguments(erase)
    erase.add_argument("account_id", help="e.g. acme#A-1001")
    erase.add_argument("--reason", required=True, help="the debtor's request: its channel, date or ticket")


def request_for(args: argparse.Namespace) -> ops_cli.Request:
    return ops_cli.Request(
        "POST", f"/ops/accounts/{quote(args.account_id, safe='')}/erase", body={"reason": args.reason}
    )


def render(request: ops_cli.Request, answer: ops_cli.Answer) -> list[str]:
    body = answer.body or {}
    if answer.status >= 300:
        return [f"error {answer.status} {body.get('code', '')}: {body.get('message', '')}".rstrip()]
    status = body["status"]
    lines = {
        "erased": [f"erased {body['account_id']} at {body['erasure_due_at']}"],
        "deferred": [
            f"erasure of {body['account_id']} DEFERRED until {body['erasure_due_at']} (contact stopped now)",
            f"  last collection activity: {body['last_collection_activity']}",
        ],
        "already_erased": [f"{body['account_id']} was erased already ({body['erasure_due_at']})"],
    }[status]
    lines.append(f"  basis: {body['basis']}")
    if body.get("note"):
        lines.append(f"  note: {body['note']}")
    return lines


def erase_command(
    args: argparse.Namespace, out: Callable[[str], None] = print, transport: ops_cli.Transport | None = None
) -> int:
    local = lambda at: ops_cli.local_transport(args.state_dir, at)  # noqa: E731
    return ops_cli.run("erase", args, request_for(args), render, out, transport, local)
