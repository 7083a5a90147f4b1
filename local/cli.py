"""The `cleardue` command."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from functions import names
from functions.core.clock import ClockError, parse_utc
from functions.core.lender import LENDER_ID_RE, LenderProfile
from local import audit_cli, erase_cli, lender_cli, ops_cli, report_cli, train_cli
from local.outputs import add_state_dir_argument, local_outputs
from local.simulate import cli as simulate_cli


def _utc(text: str):  # type: ignore[no-untyped-def]
    try:
        return parse_utc(text)
    except ClockError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _lender_id(text: str) -> str:
    if not LENDER_ID_RE.match(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a lender id (lower-case letters, digits and '-')")
    return text


def _existing_file(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text} is not a file")
    return path


def _positive(text: str) -> float:
    value = float(text)  # a clock speed factor, not money
    if value <= 0:
        raise argparse.ArgumentTypeError("speed must be positive")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cleardue", description="cleardue: serverless digital debt recovery")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser(
        "up",
        help="run the local stack (moto server + the real handlers on a clock)",
        description="Start moto in server mode, create every resource, load a portfolio, and run the "
        "scheduler every 15 (virtual) minutes until Ctrl-C. If AWS_ENDPOINT_URL is set, use that server.",
    )
    up.add_argument("--once", action="store_true", help="run one full cycle (ingest, schedule, send) and exit")
    up.add_argument("--at", type=_utc, help="virtual clock start, e.g. 2026-03-08T14:00:00Z (default: now)")
    up.add_argument("--speed", type=_positive, default=1.0, help="virtual seconds per real second (default 1)")
    up.add_argument("--portfolio", type=_existing_file, help="portfolio CSV to load instead of the sample")
    up.add_argument("--lender", type=_lender_id, help="lender id the portfolio belongs to (with --portfolio)")
    up.add_argument("--policy", type=_existing_file, help="lender policy, .json or .yaml (default: the sample's)")
    add_state_dir_argument(up, "where outputs.json is written")
    up.add_argument(
        "--port", type=int, default=8080, help="the pay page and API gateway's port (default 8080; 0: any free one)"
    )
    up.add_argument("--links", type=int, default=3, help="how many demo pay links to print (default 3)")
    upload = commands.add_parser(
        "upload",
        help="upload a portfolio and follow its ingestion to the summary",
        description="Upload FILE to portfolios/<lender>/ and show progress and the summary. Targets the local "
        "stack (cleardue up must be running) unless --bucket names a deployed portfolio bucket.",
    )
    upload.add_argument("file", type=_existing_file)
    upload.add_argument("--lender", type=_lender_id, required=True)
    upload.add_argument("--bucket", help="a deployed stack's PortfolioBucketName (default: the local stack's)")
    upload.add_argument("--uploads-table", help="with --bucket: the stack's UploadsTableName")
    upload.add_argument("--timeout", type=_positive, default=3600.0, help="seconds to wait for the summary")
    add_state_dir_argument(upload)
    audit_cli.add_parser(commands)
    ops_cli.add_parser(commands)
    erase_cli.add_parser(commands)
    lender_cli.add_parser(commands)
    simulate_cli.add_parser(commands)
    report_cli.add_parser(commands)
    train_cli.add_parser(commands)
    return parser


def upload_command(args: argparse.Namespace) -> int:
    from local.upload import upload_and_follow

    if args.bucket:
        if not args.uploads_table:
            print("cleardue upload: --bucket needs --uploads-table", file=sys.stderr)
            return 2
        bucket, table = args.bucket, args.uploads_table
    else:
        outputs = local_outputs("upload", args.state_dir)
        if outputs is None:
            return 2
        bucket, table = outputs[names.OUTPUT_PORTFOLIO_BUCKET], outputs[names.OUTPUT_UPLOADS_TABLE]
    return upload_and_follow(args.file, args.lender, bucket, table, timeout_s=args.timeout)


def up(args: argparse.Namespace) -> int:
    if args.portfolio and not args.lender:
        print("cleardue up: --portfolio needs --lender", file=sys.stderr)
        return 2
    from local.stack import LocalStack

    stack = LocalStack(state_dir=args.state_dir)
    endpoint = stack.start()
    emulator = gateway = None
    try:
        stack.provision(publish=False)
        from local.runner import VirtualClock

        clock = VirtualClock(start=args.at, speed=args.speed)
        emulator, gateway = _start_payments_and_portal(stack, clock, args.port)
        # Imported after the stack has set the environment the handlers configure themselves from.
        from local.runner import SAMPLE_LENDER, SAMPLE_PORTFOLIO, LocalRunner

        runner = LocalRunner(stack, clock)
        print(f"cleardue local stack: AWS (moto server) at {endpoint}")
        print(f"pay page at {gateway.url} (its API under /api), Stripe emulator at {emulator.base_url}")
        print(f"clock starts {clock.now():%Y-%m-%dT%H:%M:%SZ} at x{args.speed:g}")
        policy = args.policy or (None if args.portfolio else SAMPLE_LENDER)
        if policy is None:
            # A portfolio needs its lender's policy first; without --policy, a default one is uploaded.
            policy = args.state_dir / f"{args.lender}-policy.json"
            policy.write_text(LenderProfile.default_for(args.lender).model_dump_json(indent=2, exclude_none=True))
            print(f"no --policy: uploading a default policy for {args.lender} ({policy})")
        profile = runner.load_lender(policy, clock.now())
        if args.lender and args.lender != profile.lender_id:
            print(f"cleardue up: policy is for {profile.lender_id}, not {args.lender}", file=sys.stderr)
            return 2
        lender_id = profile.lender_id
        runner.upload_portfolio(args.portfolio or SAMPLE_PORTFOLIO, lender_id)
        if args.once:
            print(f"ready: outputs written to {stack.publish()}")
            report = runner.cycle(clock.now())
            _print_pay_links(runner, lender_id, gateway.url, args.links)
            print(f"one cycle done: {len(report.emails)} email(s) and {len(report.texts)} text(s) sent")
            return 0
        runner.cycle(clock.now(), schedule=False)  # ingest the portfolio, so its pay links exist
        # Only now is the stack ready for `cleardue upload` and the pay links from another shell.
        print(f"ready: outputs written to {stack.publish()}")
        _print_pay_links(runner, lender_id, gateway.url, args.links)
        print("running; Ctrl-C to stop")
        runner.run_forever()
    except KeyboardInterrupt:
        print("\nstopped")
    finally:
        if gateway is not None:
            gateway.stop()
        if emulator is not None:
            emulator.stop()
        stack.stop()
    return 0


def _start_payments_and_portal(stack: Any, clock: Any, port: int) -> tuple[Any, Any]:
    """The Stripe emulator and the gateway (pay page + portal API + Stripe webhooks) on the virtual clock."""
    from local.gateway import (
        API_BASE,
        WEBHOOK_PATH,
        Gateway,
        portal_api_handler,
        portal_environment,
        stripe_webhooks_handler,
    )
    from local.stripe_emulator import StripeEmulator

    emulator = StripeEmulator().start()
    gateway = Gateway(
        port=port,
        api_handler=portal_api_handler(),
        webhooks_handler=stripe_webhooks_handler(),
        clock=clock.now,
    )
    try:
        url = gateway.start()
    except OSError:  # the port is taken: any free one will do (the links printed say where)
        gateway.port = 0
        url = gateway.start()
    emulator.set_webhook_url(f"{url}{WEBHOOK_PATH}")
    os.environ.update(portal_environment(url, emulator.base_url, emulator.webhook_secret))
    stack.outputs.update(
        {
            names.OUTPUT_PORTAL_URL: url,
            names.OUTPUT_API_URL: f"{url}{API_BASE}",
            names.OUTPUT_STRIPE_API_BASE: emulator.base_url,
            names.OUTPUT_STRIPE_WEBHOOK_SECRET: emulator.webhook_secret,
        }
    )
    return emulator, gateway


def _print_pay_links(runner: Any, lender_id: str, portal_url: str, count: int) -> None:
    """Working pay links for the first accounts of the lender (demo data: the identity fact is shown)."""
    for account, link, birth in runner.pay_links(lender_id, portal_url, count):
        fact = f"date of birth {birth}" if birth else "postal code + last 4 of the reference"
        print(f"pay link for {account.debtor.name} ({fact}): {link}")
    if count:
        print("cards on the emulator's checkout: 4242 4242 4242 4242 pays; 4000 0000 0000 0002 is declined")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    commands = {
        "up": up,
        "upload": upload_command,
        "audit": audit_cli.audit_command,
        "ops": ops_cli.ops_command,
        "erase": erase_cli.erase_command,
        "lender": lender_cli.lender_command,
        "simulate": simulate_cli.simulate_command,
        "report": report_cli.report_command,
        "train": train_cli.train_command,
    }
    return commands[args.command](args)  # argparse has rejected any other command


if __name__ == "__main__":
    sys.exit(main())
