"""`cleardue lender status|download`: a lender's self-service from the command line (docs/ops.md, "Lenders").

The same two transports as `cleardue ops` (local/ops_cli.py):
- the local stack (default): the ops function's handler in this process, as the lender named on the command
  line (no IAM locally: the scope is that one lender);
- a deployed stack (`--api-url`): `<ApiUrl>/lenders/...` signed with SigV4 with the caller's AWS credentials;
  the function scopes the answer to the lenders the caller's role names (cleardue-lender-<lender_id>).
Exit 0 on a 2xx answer, 1 on any other answer, 2 when the stack cannot be reached."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

from local.ops_cli import Answer, Request, Transport, add_transport_arguments, local_transport, run


def add_parser(commands: Any) -> None:
    """The `lender` command and its `status` and `download` subcommands."""
    lender = commands.add_parser("lender", help="a lender's uploads, portfolio and reports (self-service)")
    add_transport_arguments(lender)
    actions = lender.add_subparsers(dest="lender_command", required=True)
    status = actions.add_parser("status", help="the lender's uploads and outcomes, portfolio and latest report")
    status.add_argument("lender_id")
    download = actions.add_parser("download", help="pre-signed URLs (15 min) of an upload's summary and rejected rows")
    download.add_argument("lender_id")
    download.add_argument("--upload", help="an upload id (default: the latest finished upload)")


def request_for(args: argparse.Namespace) -> Request:
    lender = quote(args.lender_id, safe="")
    if args.lender_command == "status":
        return Request("GET", f"/lenders/{lender}/status")
    return Request("GET", f"/lenders/{lender}/reports", {"upload": args.upload} if args.upload else {})


def _counts(item: dict[str, Any]) -> str:
    return f"{item['total']} row(s): {item['accepted']} accepted, {item['rejected']} rejected"


def _upload_line(upload: dict[str, Any]) -> str:
    outcome = {
        "completed": _counts(upload),
        "failed": f"error: {upload['error']}",
        "processing": "in progress",
    }.get(upload["status"], "")
    received = f"received {upload['received_at']}"
    return f"  {upload['upload_id']}  {upload['file']:<24} {upload['status']:<10} {received}  {outcome}"


def render(request: Request, answer: Answer) -> list[str]:
    body = answer.body or {}
    if answer.status >= 300:
        return [f"error {answer.status} {body.get('code', '')}: {body.get('message', '')}".rstrip()]
    if request.path.endswith("/reports"):
        minutes = body["expires_in_seconds"] // 60
        lines = [
            f"upload {body['upload_id']} of {body['lender_id']} ({body['status']}); links expire in {minutes} min:"
        ]
        lines += [f"  {file['name']:<13} {file['url']}" for file in body["files"]]
        return lines if body["files"] else [*lines, "  (no report file yet)"]
    name = f" ({body['creditor_name']})" if body.get("creditor_name") else ""
    lines = [f"lender {body['lender_id']}{name}, as of {body['as_of']}", f"uploads ({len(body['uploads'])}):"]
    lines += [_upload_line(upload) for upload in body["uploads"]]
    portfolio = body["portfolio"]
    owed = ", ".join(f"{amount} {currency}" for currency, amount in portfolio["owed_minor"].items()) or "nothing"
    lines.append(f"portfolio: {portfolio['accounts']} account(s), owed {owed} (minor units)")
    for title, key, rows in (
        ("by status", "status", portfolio["by_status"]),
        ("by stage (active accounts)", "stage", portfolio["by_stage"]),
    ):
        lines.append(f"  {title}:")
        lines += [
            f"    {row[key]:<10} {row['currency']}  {row['accounts']:>6} account(s)  {row['owed_minor']:>12}"
            for row in rows
        ]
    latest = body.get("latest_report")
    if latest is None:
        lines.append("latest report: none yet")
    else:
        summary = latest.get("summary") or {}
        detail = (
            f"{summary.get('status')}, {summary.get('total', 0)} row(s): {summary.get('accepted', 0)} accepted, "
            f"{summary.get('rejected', 0)} rejected"
            if summary
            else "not written yet"
        )
        lines.append(f"latest report ({latest['upload_id']}): {detail}")
    daily = body.get("latest_daily_report")
    if daily is None:
        lines.append("latest daily report: none yet")
    else:
        minutes = daily["expires_in_seconds"] // 60
        lines.append(f"latest daily report ({daily['date']}, as of {daily['as_of']}); links expire in {minutes} min:")
        lines += [f"  {file['name']:<16} {file['url']}" for file in daily["files"]]
    return lines


def lender_command(
    args: argparse.Namespace, out: Callable[[str], None] = print, transport: Transport | None = None
) -> int:
    def local(at: datetime | None) -> Transport:
        scope = frozenset({args.lender_id})
        return local_transport(args.state_dir, at, operator=f"lender-{args.lender_id}", lenders=scope)

    return run("lender", args, request_for(args), render, out, transport, local)
