"""`cleardue train`: fit the propensity model (P(pay within 30 days)) from the audit trail and the accounts,
print its evaluation on held-out accounts (AUC, Brier score, reliability bins) and write the artifact.

Sources: the local stack's tables (default; `cleardue up` writes where they are), a deployed stack's tables
(`--accounts-table`/`--events-table`, the caller's AWS credentials), a directory export (`--from DIR`:
`accounts.jsonl` + `events.jsonl`, see `export`), or a synthetic population with a known signal
(`--synthetic N`, how the shipped default model was made). Writes `--out FILE` and, with `--bucket`,
`models/propensity/<version>.json` and `models/propensity/latest.json` in that bucket. docs/learning.md.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from functions import names
from functions.core import propensity
from functions.core.propensity import Example, Facts
from local.outputs import add_state_dir_argument, configure_tables

MODEL_PREFIX = names.PROPENSITY_MODEL_PREFIX


def add_parser(commands: Any) -> None:
    train = commands.add_parser(
        "train",
        help="train the propensity model from the audit trail and print its evaluation",
        description="Fit P(pay within 30 days) by L2-penalised logistic regression (IRLS, pure Python) on one "
        "example per collection message sent, split by account into training and held-out parts by --seed; "
        "print AUC, Brier score and reliability bins on the held-out part; write the model artifact.",
    )
    source = train.add_mutually_exclusive_group()
    source.add_argument("--from", dest="source", type=Path, help="a directory export: accounts.jsonl + events.jsonl")
    source.add_argument("--synthetic", type=int, metavar="N", help="N synthetic accounts with a known signal")
    train.add_argument("--accounts-table", help="a deployed stack's AccountsTableName (default: the local stack's)")
    train.add_argument("--events-table", help="a deployed stack's EventsTableName (default: the local stack's)")
    add_state_dir_argument(train)
    train.add_argument("--seed", type=int, default=7, help="shuffles accounts into the splits (default 7)")
    train.add_argument("--holdout", type=float, default=0.2, help="share of accounts held out (default 0.2)")
    train.add_argument("--l2", type=float, default=1.0, help="L2 penalty on standardised coefficients (default 1)")
    train.add_argument(
        "--out", type=Path, default=Path("propensity.json"), help="the artifact (default ./propensity.json)"
    )
    train.add_argument("--bucket", help="also put it at models/propensity/<version>.json (and latest.json) here")


def train_command(args: argparse.Namespace, out: Callable[[str], None] = print) -> int:
    from functions.store import StoreError

    try:
        examples = _examples(args)
    except (StoreError, FileNotFoundError, ValueError) as exc:
        print(f"cleardue train: {exc}", file=sys.stderr)
        return 2
    try:
        model = propensity.train(examples, seed=args.seed, holdout=args.holdout, l2=args.l2)
    except ValueError as exc:
        print(f"cleardue train: {exc}", file=sys.stderr)
        return 2
    artifact = json.dumps(model.to_json(), indent=2, sort_keys=True) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(artifact, encoding="utf-8")
    for line in report(model):
        out(line)
    out(f"artifact: {args.out}")
    if args.bucket:
        import boto3

        s3 = boto3.client("s3")
        for key in (f"{MODEL_PREFIX}{model.version}.json", names.PROPENSITY_MODEL_KEY):
            s3.put_object(Bucket=args.bucket, Key=key, Body=artifact.encode("utf-8"), ContentType="application/json")
            out(f"uploaded: s3://{args.bucket}/{key}")
    return 0


def report(model: propensity.Model) -> list[str]:
    """The evaluation, as printed: sizes, AUC, Brier score, reliability bins, coefficients."""
    t, e = model.training, model.evaluation
    lines = [
        f"model {model.version}: trained on {t.get('examples')} examples ({t.get('positives')} paid within 30 days) "
        f"from {t.get('accounts')} accounts, seed {t.get('seed')}, l2 {t.get('l2')}",
        f"held out: {e.get('examples', 0)} examples ({e.get('positives', 0)} paid): "
        f"AUC {e.get('auc')}, Brier score {e.get('brier')}",
        "reliability (predicted vs observed per bin):",
    ]
    for row in e.get("reliability", []):
        lines.append(
            f"  {row['bin']}  n={row['count']:<6} predicted {row['predicted']:.3f}  observed {row['observed']:.3f}"
        )
    lines.append("coefficients (per standard deviation):")
    for name, value in zip(model.features, model.coefficients, strict=True):
        lines.append(f"  {name:<18} {value:+.3f}")
    return lines


def _examples(args: argparse.Namespace) -> list[Example]:
    if args.synthetic:
        return synthetic_examples(args.synthetic, args.seed)
    if args.source:
        accounts, trails = read_export(args.source)
    else:
        accounts, trails = _read_tables(args)
    return propensity.examples_from_trails(accounts, trails)


def _read_tables(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    accounts_table, events_table = args.accounts_table, args.events_table
    if not (accounts_table and events_table):
        from local.upload import target_from_outputs

        outputs = target_from_outputs(args.state_dir)
        accounts_table = accounts_table or outputs[names.OUTPUT_ACCOUNTS_TABLE]
        events_table = events_table or outputs[names.OUTPUT_EVENTS_TABLE]
    configure_tables(accounts_table=accounts_table, events_table=events_table)
    return read_store()


def read_store() -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """Every trail (the events table) and the accounts they belong to, read without their PII (the features
    need none: store.report_reader's projection) through each lender's `by_lender` index."""
    from functions.store import audit_reader, report_reader

    trails: dict[str, list[Any]] = {}
    for found in audit_reader.trails():
        trails[found.account_id] = list(found.events)  # an account read again whole supersedes its partial run
    accounts: dict[str, Any] = {}
    for lender_id in sorted({account_id.split("#", 1)[0] for account_id in trails}):
        for account, _ in report_reader.lender_accounts(lender_id):
            accounts[account.account_id] = account
    return accounts, trails


def read_export(directory: Path) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """A directory export (`export` writes one): `accounts.jsonl`, one account per line with only what the
    features need (no PII: `account_id`, `due_date`, `timezone`, `owed_minor`, `currency`, `texts_allowed`),
    and `events.jsonl`, one audit event per line (`account_id`, `at`, `type`, `event_id`, `actor`, `detail`,
    `seq`)."""
    from functions.core.audit import AuditEvent, EventType
    from functions.core.clock import parse_utc

    accounts: dict[str, Any] = {}
    for line in (directory / "accounts.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            account = _account_from_export(json.loads(line))
            accounts[account.account_id] = account
    trails: dict[str, list[Any]] = {}
    for line in (directory / "events.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        raw = json.loads(line)
        event = AuditEvent(
            raw["account_id"],
            parse_utc(raw["at"]),
            EventType(raw["type"]),
            raw["event_id"],
            raw.get("actor", ""),
            raw.get("detail") or {},
            int(raw.get("seq") or 0),
        )
        trails.setdefault(event.account_id, []).append(event)
    return accounts, trails


def _account_from_export(raw: dict[str, Any]) -> Any:
    from datetime import date

    from functions.core.account import Account, Balance, Debtor
    from functions.core.money import Money

    lender_id, _, ref = str(raw["account_id"]).partition("#")
    currency = str(raw.get("currency") or "USD")
    allowed = bool(raw.get("texts_allowed"))
    return Account(
        lender_id=lender_id,
        external_ref=ref,
        debtor=Debtor("", None, None, str(raw["timezone"]), phone_is_mobile=allowed, sms_consent=allowed),
        balance=Balance(Money(int(raw["owed_minor"]), currency), Money(0, currency), Money(0, currency)),
        due_date=date.fromisoformat(str(raw["due_date"])),
    )


def export(accounts: Iterable[Any], trails: dict[str, list[Any]], directory: Path) -> None:
    """Write a directory export `read_export` reads: the accounts' feature inputs (no PII) and their trails."""
    from functions.core.clock import iso_utc
    from functions.core.compliance import owed_minor

    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "accounts.jsonl").open("w", encoding="utf-8") as handle:
        for account in accounts:
            row = {
                "account_id": account.account_id,
                "due_date": account.due_date.isoformat(),
                "timezone": account.debtor.timezone,
                "owed_minor": owed_minor(account),
                "currency": account.balance.currency,
                "texts_allowed": account.debtor.phone_is_mobile and account.debtor.sms_consent,
            }
            handle.write(json.dumps(row) + "\n")
    with (directory / "events.jsonl").open("w", encoding="utf-8") as handle:
        for trail in trails.values():
            for event in trail:
                row = {
                    "account_id": event.account_id,
                    "at": iso_utc(event.at),
                    "type": str(event.type),
                    "event_id": event.event_id,
                    "actor": event.actor,
                    "detail": event.detail,
                    "seq": event.seq,
                }
                handle.write(json.dumps(row, default=str) + "\n")


# -- a synthetic population with a known signal ---------------------------------------------------------

# The "true" model of the synthetic population, per feature (in `propensity.FEATURES` order) on the raw
# feature scale, and its intercept: fresher, smaller, partly paid debts of debtors who visit the pay page
# and keep promises pay more often; broken promises and long delinquency pay less.
TRUE_INTERCEPT = 0.6
TRUE_WEIGHTS: tuple[float, ...] = (-0.6, -0.35, 1.5, 0.2, 1.2, 1.4, -1.6, -0.15, 1.2, 0.4)


def synthetic_facts(rng: random.Random) -> Facts:
    dpd = rng.randint(-5, 150)
    owed = int(math.exp(rng.gauss(8.5, 1.1)))  # minor units: about $50 to $500, a long tail
    payments = min(int(rng.expovariate(1.2)), 6)
    paid = sum(int(owed * rng.uniform(0.05, 0.3)) for _ in range(payments))
    days_since = rng.randint(1, max(2, dpd + 30)) if payments else None
    kept = rng.random() < 0.12
    broken = not kept and rng.random() < 0.15
    return Facts(
        dpd=dpd,
        owed_minor=owed,
        paid_minor=paid,
        payments=payments,
        days_since_payment=days_since,
        promise_kept=kept,
        promise_broken=broken,
        contacts=rng.randint(0, min(12, max(0, dpd // 5 + 2))),
        portal_visits=min(int(rng.expovariate(1.5)), 5),
        texts_allowed=rng.random() < 0.4,
    )


def synthetic_examples(count: int, seed: int = 7) -> list[Example]:
    """`count` accounts of one example each, labelled by drawing from the true model (seeded)."""
    rng = random.Random(seed)
    found = []
    for n in range(count):
        x = propensity.features(synthetic_facts(rng))
        z = TRUE_INTERCEPT + sum(w * (v - c) for w, v, c in zip(TRUE_WEIGHTS, x, _CENTRE, strict=True))
        found.append(Example(f"synthetic#{n}", x, int(rng.random() < 1 / (1 + math.exp(-z)))))
    return found


# Rough centres of the raw features, so the intercept is the log-odds of a typical account.
_CENTRE: tuple[float, ...] = (1.5, 4.5, 0.1, 0.3, 0.1, 0.1, 0.1, 1.5, 0.3, 0.4)
