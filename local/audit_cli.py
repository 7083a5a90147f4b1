"""`cleardue audit verify [--account ID]`: recompute every account's hash chain and report each break.

Against the local stack (`cleardue up` running; its `.local/outputs.json` says where) or, with
`--table`, a deployed stack's events table with the caller's AWS credentials. Exit 0 when every trail
verifies, 1 when a break is found, 2 when the trail cannot be read."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from functions import names
from local.outputs import add_state_dir_argument, configure_tables, local_outputs


def add_parser(commands: Any) -> None:
    """The `audit` command and its `verify` subcommand, on the `cleardue` parser's subcommands."""
    audit = commands.add_parser("audit", help="verify the tamper-evident audit trail")
    actions = audit.add_subparsers(dest="audit_command", required=True)
    verify = actions.add_parser(
        "verify",
        help="recompute every account's hash chain and report each break",
        description="Read every account's trail (or one, with --account), recompute each event's hash, check "
        "positions and links, print one line per break and a summary. Exit 0 when clean, 1 on a break.",
    )
    verify.add_argument("--account", help="verify one account's trail only (e.g. acme#A-1)")
    verify.add_argument("--table", help="a deployed stack's EventsTableName (default: the local stack's)")
    add_state_dir_argument(verify)


def audit_command(args: argparse.Namespace, out: Callable[[str], None] = print) -> int:
    from functions.store import StoreError

    table = args.table
    if not table:
        outputs = local_outputs("audit", args.state_dir)
        if outputs is None:
            return 2
        table = outputs[names.OUTPUT_EVENTS_TABLE]
    configure_tables(events_table=table)
    try:
        return verify(args.account, out)
    except StoreError as exc:
        print(f"cleardue audit: {exc}", file=sys.stderr)
        return 2


def verify(account_id: str | None, out: Callable[[str], None] = print) -> int:
    """Verify one trail or all of them, print each break and the summary; the exit code."""
    from functions.store import audit_reader

    if account_id:
        found = audit_reader.trail(account_id)
        if not found.events and not found.recorded:
            print(f"cleardue audit: no audit trail for {account_id}", file=sys.stderr)
            return 2
        trails = {account_id: found}
    else:
        trails = {}
        for found in audit_reader.trails():
            trails[found.account_id] = found  # an account read again whole supersedes its partial run
    breaks = 0
    for found in trails.values():
        for broken in found.verify():
            out(str(broken))
            breaks += 1
    events = sum(len(found.events) for found in trails.values())
    verdict = "the trail verifies" if not breaks else "the trail does NOT verify"
    out(f"{len(trails)} account(s), {events} event(s), {breaks} break(s): {verdict}")
    return 1 if breaks else 0
