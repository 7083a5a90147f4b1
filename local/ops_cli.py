"""`cleardue ops queue|show|act`: the ops API from the command line (docs/ops.md).

Two transports, one request:
- the local stack (default; `cleardue up` running, `.local/outputs.json` says where): the ops function's
  handler runs in this process against the local tables, with the operator's identity taken from
  `CLEARDUE_OPERATOR` (default: the OS user) and recorded as `local:<name>` — there is no IAM locally;
- a deployed stack (`--api-url`, the stack's ApiUrl output): an HTTPS request to `<ApiUrl>/ops/...` signed
  with SigV4 (botocore's SigV4Auth, service execute-api) with the caller's AWS credentials; API Gateway's IAM
  authorizer checks it and the audit records the caller's IAM ARN.
Exit 0 on a 2xx answer, 1 on any other answer, 2 when the stack cannot be reached."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from functions import names
from functions.core.clock import ClockError, parse_utc
from functions.core.ops import Action, QueueReason
from local.outputs import add_state_dir_argument

OPERATOR_ENV = "CLEARDUE_OPERATOR"
LOCAL_PREFIX = "local:"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None

    @property
    def query_string(self) -> str:
        return urlencode(self.query)


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any


Transport = Callable[[Request], Answer]


def add_transport_arguments(parser: argparse.ArgumentParser) -> None:
    """Where requests go (a deployed API, SigV4-signed, or the local stack in-process) and how answers print:
    the options `cleardue ops` and `cleardue lender` share."""
    parser.add_argument(
        "--api-url", help="a deployed stack's ApiUrl: requests are SigV4-signed (default: the local stack)"
    )
    parser.add_argument("--region", help="with --api-url: the API's region (default: from the URL)")
    add_state_dir_argument(parser)
    parser.add_argument("--at", help="local stack only: the time of the request (ISO 8601 UTC; default now)")
    parser.add_argument("--json", action="store_true", help="print the API's JSON answer as it is")


def add_parser(commands: Any) -> None:
    """The `ops` command and its `queue`, `show` and `act` subcommands, on the `cleardue` parser's subcommands."""
    ops = commands.add_parser("ops", help="the work queue, an account's timeline, operators' actions")
    add_transport_arguments(ops)
    actions = ops.add_subparsers(dest="ops_command", required=True)
    queue = actions.add_parser("queue", help="the accounts that need a person, oldest first")
    queue.add_argument("--lender", required=True)
    queue.add_argument("--reason", choices=[r.value for r in QueueReason])
    show = actions.add_parser("show", help="an account's state, queue items, decision and timeline")
    show.add_argument("account_id", help="e.g. acme#A-1001")
    act = actions.add_parser(
        "act",
        help="apply one action to an account (audited with your identity and reason)",
        description="Parameters are --set KEY=VALUE (VALUE read as JSON when it parses: numbers, true, lists), e.g. "
        "`act acme#A-1 resolve_dispute --reason '...' --set outcome=verified --set verification_ref=letter-31`.",
    )
    act.add_argument("account_id")
    act.add_argument("action", choices=[a.value for a in Action])
    act.add_argument("-s", "--set", dest="params", action="append", default=[], metavar="KEY=VALUE")
    act.add_argument("--reason", required=True)
    act.add_argument("--expected-version", type=int, help="refuse (409) if the account moved past this version")


def _param(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise ValueError(f"{text!r} is not KEY=VALUE")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    if key in ("resolves",) and isinstance(value, str):
        value = [part for part in value.split(",") if part]
    return key, value


def request_for(args: argparse.Namespace) -> Request:
    if args.ops_command == "queue":
        query = {"lender": args.lender, **({"reason": args.reason} if args.reason else {})}
        return Request("GET", "/ops/queue", query)
    account = quote(args.account_id, safe="")
    if args.ops_command == "show":
        return Request("GET", f"/ops/accounts/{account}")
    body: dict[str, Any] = {"action": args.action, "reason": args.reason, **dict(map(_param, args.params))}
    if args.expected_version is not None:
        body["expected_version"] = args.expected_version
    return Request("POST", f"/ops/accounts/{account}/actions", body=body)


# --- transports -----------------------------------------------------------------------------------


def local_operator() -> str:
    return os.environ.get(OPERATOR_ENV) or getpass.getuser()


def local_transport(
    state_dir: Path, at: datetime | None = None, operator: str | None = None, lenders: frozenset[str] | None = None
) -> Transport:
    """The ops handler in this process on the local stack's tables and bucket; the operator named by the
    environment (every lender), or a lender's own scope (`lenders`)."""
    from local.upload import target_from_outputs

    outputs = target_from_outputs(state_dir)  # sets AWS_ENDPOINT_URL and fake credentials for the moto server
    bindings = {names.TABLE_ENV_VARS[field]: output_id for field, output_id in names.TABLE_OUTPUTS.items()}
    for setting, output_id in {**bindings, names.ENV_PORTFOLIO_BUCKET: names.OUTPUT_PORTFOLIO_BUCKET}.items():
        if output_id in outputs:
            os.environ[setting] = outputs[output_id]
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "cleardue-local")
    return in_process_transport(f"{LOCAL_PREFIX}{operator or local_operator()}", at, lenders)


def in_process_transport(identity: str, at: datetime | None = None, lenders: frozenset[str] | None = None) -> Transport:
    """Requests as HTTP API events to the ops handler here, authorized as `identity` seeing `lenders` (None: every
    lender) (local only)."""
    from functions.ops import handler as ops_handler
    from functions.ops.service import Principal
    from local.lambda_events import LocalLambdaContext
    from local.portal_gateway import event_from_request, response_parts

    warnings.filterwarnings("ignore", "No application metrics to publish")  # reads emit no metric: expected
    ops_handler.reset()
    ops_handler.authorize = lambda event: Principal(identity=identity, lenders=lenders)

    def send(request: Request) -> Answer:
        event = event_from_request(
            request.method,
            request.path,
            now=at or datetime.now(UTC),
            body=json.dumps(request.body) if request.body is not None else None,
            headers={"content-type": "application/json"},
            query=request.query_string,
        )
        status, _, data = response_parts(ops_handler.handler(event, LocalLambdaContext("cleardue-ops")))
        return Answer(status, json.loads(data) if data else None)

    return send


def region_of(api_url: str) -> str | None:
    """The region in an execute-api URL (https://<id>.execute-api.<region>.amazonaws.com)."""
    match = re.match(r"^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com", urlsplit(api_url).netloc)
    return match.group(1) if match else None


def signed_transport(
    api_url: str,
    region: str | None = None,
    credentials: Any = None,
    send: Callable[[str, str, dict[str, str], bytes | None], tuple[int, bytes]] | None = None,
) -> Transport:
    """Requests to `<api_url>/ops/...` signed with SigV4 (service execute-api) with the caller's credentials."""
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    session = boto3.Session()
    region = region or region_of(api_url) or session.region_name
    if not region:
        raise ValueError("the API's region is unknown: pass --region")
    credentials = credentials or session.get_credentials()
    if credentials is None:
        raise ValueError("no AWS credentials found to sign the request with")
    signer = SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region)
    deliver = send or _urlopen

    def transport(request: Request) -> Answer:
        url = api_url.rstrip("/") + request.path + (f"?{request.query_string}" if request.query else "")
        data = json.dumps(request.body).encode() if request.body is not None else None
        headers = {"content-type": "application/json"} if data is not None else {}
        signed = AWSRequest(method=request.method, url=url, data=data, headers=headers)
        signer.add_auth(signed)
        status, payload = deliver(request.method, url, dict(signed.headers.items()), data)
        try:
            return Answer(status, json.loads(payload) if payload else None)
        except json.JSONDecodeError:
            return Answer(status, {"message": payload.decode(errors="replace")})

    return transport


def _urlopen(method: str, url: str, headers: dict[str, str], data: bytes | None) -> tuple[int, bytes]:
    http = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(http, timeout=30) as response:  # noqa: S310 - an https URL the operator gave
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


# --- output ---------------------------------------------------------------------------------------


def render(request: Request, answer: Answer) -> list[str]:
    """The answer for a person: the queue as a table, an account as state, decision and timeline."""
    body = answer.body or {}
    if answer.status >= 300:
        return [f"error {answer.status} {body.get('code', '')}: {body.get('message', '')}".rstrip()]
    if request.path == "/ops/queue":
        items = body["items"]
        lines = [f"{len(items)} account(s) need a person ({body['lender_id']}, as of {body['as_of']})"]
        for item in items:
            late = "OVERDUE" if item["overdue"] else "       "
            lines.append(
                f"  {item['account_id']:<24} {item['reason']:<15} {item['age_days']:>3}d old  due {item['due_by']}"
                f" {late}  {item['note']}"
            )
        return lines
    lines = []
    if "action" in body:
        lines.append(f"done: {body['action']}")
        if body.get("event"):
            lines.append(f"  audited: {body['event']}")
        if body.get("note"):
            lines.append(f"  note: {body['note']}")
    account, decision = body["account"], body["decision"]
    lines += [
        f"account {account['account_id']} ({account['ref']}): {account['status']}, version {account['version']}",
        f"  owed {account['owed_minor']} {account['currency']} (minor units: principal {account['principal_minor']},"
        f" interest {account['interest_minor']}, fees {account['fees_minor']})",
        f"  flags: {', '.join(account['flags']) or 'none'}; next contact: {account['next_contact_at'] or 'none'}",
    ]
    if decision["contact_now"]:
        contact = decision["contact_now"]
        lines.append(f"  decision now: send {contact['template']} by {contact['channel']}")
    else:
        lines.append(
            f"  decision now: no contact ({decision['reason']}); next look {decision['next_look_at'] or 'never'}"
        )
    lines += [f"    why: {why}" for why in decision["why"]]
    for item in body.get("queue", []):
        lines.append(f"  queue: {item['reason']} since {item['since']}, due by {item['due_by']}")
    if "timeline" in body:
        lines.append(f"  timeline ({len(body['timeline'])} event(s)):")
        lines += [f"    {line}" for line in body["timeline"]]
    return lines


def ops_command(
    args: argparse.Namespace, out: Callable[[str], None] = print, transport: Transport | None = None
) -> int:
    try:
        request = request_for(args)
    except ValueError as exc:
        print(f"cleardue ops: {exc}", file=sys.stderr)
        return 2
    return run("ops", args, request, render, out, transport, lambda at: local_transport(args.state_dir, at))


def run(
    command: str,
    args: argparse.Namespace,
    request: Request,
    render_answer: Callable[[Request, Answer], list[str]],
    out: Callable[[str], None],
    transport: Transport | None,
    local: Callable[[datetime | None], Transport],
) -> int:
    """Send one request (signed to `--api-url`, else to the local stack) and print its answer: exit 0 for
    a 2xx, 1 for an error answer, 2 when the request cannot be sent."""
    if transport is None:
        try:
            transport = signed_transport(args.api_url, args.region) if args.api_url else local(_at(args.at))
        except (FileNotFoundError, ValueError, ClockError) as exc:
            print(f"cleardue {command}: {exc}", file=sys.stderr)
            return 2
    answer = transport(request)
    if args.json:
        out(json.dumps(answer.body, indent=2, ensure_ascii=False))
    else:
        for line in render_answer(request, answer):
            out(line)
    return 0 if answer.status < 300 else 1


def _at(text: str | None) -> datetime | None:
    return parse_utc(text) if text else None
