"""Propensity: the probability that an account pays within 30 days, from its features and behaviour
(docs/learning.md).

A logistic model over `FEATURES`, trained offline (`cleardue train`) by iteratively reweighted least
squares with an L2 penalty on standardised features, deterministic for a seed (the seed only shuffles the
accounts into the training and held-out splits); evaluated on the held-out accounts by AUC, Brier score
and reliability bins; stored as a small versioned JSON artifact. The scheduler scores with it to set the
tier (segmentation reads 1 - p as the risk of not paying) and so the intensity of the treatment. It never
decides eligibility: the compliance gate does, after and whatever the score.

`features` is the one feature function, shared by training and scoring. Its input (`Facts`) comes from
the account as the scheduler sees it (`facts_of`) or, for training, from the account and its audit trail
as they stood at a past moment (`facts_at`).

Pure Python (no numpy in Lambda): a dozen features and a few thousand examples solve in well under a second.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from functions.core.account import Account, PromiseStatus, days_past_due
from functions.core.audit import AuditEvent, EventType
from functions.core.clock import ensure_utc, local_date
from functions.core.compliance import owed_minor
from functions.core.segmentation import broken_arrangements

HORIZON_DAYS = 30  # the label: a payment within this many days after the moment scored
KIND = "propensity"
FEATURES: tuple[str, ...] = (
    "dpd_months",  # days past due / 30, clipped to [-1, 12]
    "log_owed",  # ln(1 + owed in major units)
    "paid_share",  # paid / (paid + owed): how much of the debt is already paid
    "log_payments",  # ln(1 + payments made)
    "paid_recently",  # 1 if a payment in the last 30 days
    "promise_kept",  # 1 if the latest promise was kept
    "promise_broken",  # 1 if a promise or plan was broken
    "log_contacts",  # ln(1 + collection messages sent)
    "log_portal_visits",  # ln(1 + pay-page visits past the identity check)
    "texts_allowed",  # 1 if the debtor consented to texts on a mobile number
)
_COLLECTION_NOT = frozenset({"receipt", "payment_failed"})  # transactional messages: not contacts


@dataclass(frozen=True, slots=True)
class Facts:
    """What the features are computed from, as of one moment."""

    dpd: int
    owed_minor: int
    paid_minor: int = 0
    payments: int = 0
    days_since_payment: int | None = None
    promise_kept: bool = False
    promise_broken: bool = False
    contacts: int = 0
    portal_visits: int = 0
    texts_allowed: bool = False


def features(facts: Facts) -> tuple[float, ...]:
    """The model's inputs, in `FEATURES` order: the one feature function, for training and scoring."""
    paid, owed = max(facts.paid_minor, 0), max(facts.owed_minor, 0)
    recent = facts.days_since_payment is not None and facts.days_since_payment <= HORIZON_DAYS
    return (
        min(max(facts.dpd / 30.0, -1.0), 12.0),
        math.log1p(owed / 100.0),
        paid / (paid + owed) if paid + owed > 0 else 0.0,
        math.log1p(facts.payments),
        1.0 if recent else 0.0,
        1.0 if facts.promise_kept else 0.0,
        1.0 if facts.promise_broken else 0.0,
        math.log1p(facts.contacts),
        math.log1p(facts.portal_visits),
        1.0 if facts.texts_allowed else 0.0,
    )


def facts_of(account: Account, dpd: int, now: datetime) -> Facts:
    """The facts of an account as the scheduler holds it at `now` (its stored state and counters)."""
    paid = 0
    last = None
    for payment in account.payments:
        paid += payment.amount.minor - payment.credit_minor - payment.refunded_minor
        if last is None or payment.at > last:
            last = payment.at
    promise = account.promise
    debtor = account.debtor
    return Facts(
        dpd=dpd,
        owed_minor=owed_minor(account),
        paid_minor=paid,
        payments=len(account.payments),
        days_since_payment=(now - last).days if last is not None else None,
        promise_kept=promise is not None and promise.status is PromiseStatus.KEPT,
        promise_broken=broken_arrangements(account) > 0,
        contacts=account.contacts_sent,
        portal_visits=int(account.engagement.get("any:portal_visit", 0)) if account.engagement else 0,
        texts_allowed=debtor.phone_is_mobile and debtor.sms_consent,
    )


def features_of(account: Account, dpd: int, now: datetime, owed: int | None = None) -> tuple[float, ...]:
    """`features(facts_of(account, dpd, now))` without the `Facts` (the decision's hot path: one per account scored;
    `owed` is the balance in minor units when the caller has it). tests/unit/core/test_propensity.py checks they
    are equal."""
    if owed is None:
        owed = owed_minor(account)
    paid = 0
    last = None
    payments = account.payments
    for payment in payments:
        paid += payment.amount.minor - payment.credit_minor - payment.refunded_minor
        if last is None or payment.at > last:
            last = payment.at
    paid, owed = max(paid, 0), max(owed, 0)
    promise = account.promise
    debtor = account.debtor
    engagement = account.engagement
    visits = int(engagement.get("any:portal_visit", 0)) if engagement else 0
    broken = (promise is not None and promise.status is _BROKEN) or (
        account.plan is not None and broken_arrangements(account) > 0
    )
    return (
        min(max(dpd / 30.0, -1.0), 12.0),
        _log1p(owed / 100.0),
        paid / (paid + owed) if paid + owed > 0 else 0.0,
        _log1p(len(payments)),
        1.0 if last is not None and (now - last).days <= HORIZON_DAYS else 0.0,
        1.0 if promise is not None and promise.status is _KEPT else 0.0,
        1.0 if broken else 0.0,
        _log1p(account.contacts_sent),
        _log1p(visits),
        1.0 if debtor.phone_is_mobile and debtor.sms_consent else 0.0,
    )


_log1p = math.log1p
_KEPT, _BROKEN = PromiseStatus.KEPT, PromiseStatus.BROKEN


def facts_at(account: Account, trail: Sequence[AuditEvent], at: datetime) -> Facts:
    """The facts of an account as they stood at `at`, from its audit trail (events before `at`) and what
    the account says now (its due date, zone, consent, and its balance with the later payments added back)."""
    at = ensure_utc(at)
    paid = later = payments = contacts = visits = 0
    last_payment: datetime | None = None
    promise_made: datetime | None = None
    promise_kept = promise_broken = False
    for event in trail:
        kind, detail = event.type, event.detail
        if kind is EventType.PAYMENT_APPLIED:
            net = int(detail.get("amount_minor") or 0) - int(detail.get("credit_minor") or 0)
            if event.at >= at:
                later += net
                continue
            paid += net
            payments += 1
            last_payment = event.at if last_payment is None or event.at > last_payment else last_payment
            if promise_made is not None and event.at >= promise_made:
                promise_kept = True
        elif event.at >= at:
            continue
        elif kind is EventType.REMINDER_SENT:
            template = str(detail.get("template") or "")
            if template not in _COLLECTION_NOT:
                contacts += 1
            if template in ("broken_promise", "missed_installment"):
                promise_broken = True
        elif kind is EventType.PORTAL_VERIFIED:
            visits += 1
        elif kind is EventType.PORTAL_PROMISE_MADE:
            promise_made, promise_kept = event.at, False
    debtor = account.debtor
    return Facts(
        dpd=days_past_due(account.due_date, local_date(at, debtor.timezone)),
        owed_minor=owed_minor(account) + later,
        paid_minor=paid,
        payments=payments,
        days_since_payment=(at - last_payment).days if last_payment is not None else None,
        promise_kept=promise_kept,
        promise_broken=promise_broken,
        contacts=contacts,
        portal_visits=visits,
        texts_allowed=debtor.phone_is_mobile and debtor.sms_consent,
    )


@dataclass(frozen=True, slots=True)
class Example:
    account_id: str
    x: tuple[float, ...]
    y: int  # 1: paid within HORIZON_DAYS after the moment


def examples_from_trails(
    accounts: Mapping[str, Account], trails: Mapping[str, Sequence[AuditEvent]], as_of: datetime | None = None
) -> list[Example]:
    """Training examples: one per collection message sent (the moment a decision was made), labelled by
    whether a payment followed within 30 days. A moment less than 30 days before `as_of` (default: the
    latest event of all trails) is kept only if it is already labelled paid (else its outcome is unknown)."""
    if as_of is None:
        moments = [e.at for trail in trails.values() for e in trail]
        if not moments:
            return []
        as_of = max(moments)
    horizon = timedelta(days=HORIZON_DAYS)
    found: list[Example] = []
    for account_id in sorted(trails):
        account = accounts.get(account_id)
        if account is None:
            continue
        trail = sorted(trails[account_id], key=lambda e: (e.at, e.seq))
        paid_at = [e.at for e in trail if e.type is EventType.PAYMENT_APPLIED]
        for event in trail:
            if event.type is not EventType.REMINDER_SENT or str(event.detail.get("template")) in _COLLECTION_NOT:
                continue
            y = int(any(event.at < p <= event.at + horizon for p in paid_at))
            if not y and event.at + horizon > as_of:
                continue  # censored: not yet 30 days to see
            found.append(Example(account_id, features(facts_at(account, trail, event.at)), y))
    return found


# -- the model ---------------------------------------------------------------------------------------


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@dataclass(frozen=True, slots=True)
class Model:
    """A trained logistic model: standardisation, intercept and coefficients, with how it was evaluated."""

    version: str
    features: tuple[str, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    intercept: float
    coefficients: tuple[float, ...]
    evaluation: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    # The standardisation folded into raw-scale weights (computed once; the hot path is one dot product).
    _weights: tuple[float, ...] = field(default=(), repr=False, compare=False)
    _bias: float = field(default=0.0, repr=False, compare=False)

    def __post_init__(self) -> None:
        weights = tuple(c / s for c, s in zip(self.coefficients, self.scales, strict=True))
        bias = self.intercept - sum(w * m for w, m in zip(weights, self.means, strict=True))
        object.__setattr__(self, "_weights", weights)
        object.__setattr__(self, "_bias", bias)

    def probability(self, x: Sequence[float]) -> float:
        """P(payment within 30 days) for one feature vector (`features`)."""
        w = self._weights
        if len(w) == 10 == len(x):  # the shipped features, written out (the decision's hot path): the same sum in order
            z = (
                self._bias
                + w[0] * x[0]
                + w[1] * x[1]
                + w[2] * x[2]
                + w[3] * x[3]
                + w[4] * x[4]
                + w[5] * x[5]
                + w[6] * x[6]
                + w[7] * x[7]
                + w[8] * x[8]
                + w[9] * x[9]
            )
            return _sigmoid(z)
        z = self._bias
        for weight, v in zip(w, x, strict=True):
            z += weight * v
        return _sigmoid(z)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": KIND,
            "version": self.version,
            "horizon_days": HORIZON_DAYS,
            "features": list(self.features),
            "means": list(self.means),
            "scales": list(self.scales),
            "intercept": self.intercept,
            "coefficients": list(self.coefficients),
            "training": self.training,
            "evaluation": self.evaluation,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Model:
        """A model from its artifact; refuses one of another kind or for other features than this code's."""
        if data.get("kind") != KIND:
            raise ValueError(f"not a propensity model artifact (kind {data.get('kind')!r})")
        names = tuple(data["features"])
        if names != FEATURES:
            raise ValueError(f"the artifact's features {list(names)} are not this code's {list(FEATURES)}")
        return cls(
            version=str(data["version"]),
            features=names,
            means=tuple(float(v) for v in data["means"]),
            scales=tuple(float(v) for v in data["scales"]),
            intercept=float(data["intercept"]),
            coefficients=tuple(float(v) for v in data["coefficients"]),
            evaluation=dict(data.get("evaluation") or {}),
            training=dict(data.get("training") or {}),
        )


DEFAULT_ARTIFACT = Path(__file__).with_name("propensity_default.json")


@cache
def default_model() -> Model:
    """The model shipped with the code (trained on a synthetic population: docs/learning.md), read once."""
    return Model.from_json(json.loads(DEFAULT_ARTIFACT.read_text(encoding="utf-8")))


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (the IRLS normal equations: small and positive definite)."""
    n = len(vector)
    a = [row[:] + [vector[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        if abs(a[col][col]) < 1e-12:
            raise ValueError("singular system")
        for row in range(col + 1, n):
            factor = a[row][col] / a[col][col]
            if factor:
                for k in range(col, n + 1):
                    a[row][k] -= factor * a[col][k]
    solution = [0.0] * n
    for row in range(n - 1, -1, -1):
        solution[row] = (a[row][n] - sum(a[row][k] * solution[k] for k in range(row + 1, n))) / a[row][row]
    return solution


def fit(xs: Sequence[Sequence[float]], ys: Sequence[int], l2: float = 1.0, iterations: int = 25) -> Model:
    """A logistic model by IRLS (Newton's method) with an L2 penalty `l2` on the standardised coefficients
    (not the intercept). Deterministic: no randomness at all; the same data give the same coefficients."""
    if not xs:
        raise ValueError("no examples to train on")
    n, d = len(xs), len(xs[0])
    means = [sum(x[j] for x in xs) / n for j in range(d)]
    scales = []
    for j in range(d):
        variance = sum((x[j] - means[j]) ** 2 for x in xs) / n
        scales.append(math.sqrt(variance) if variance > 1e-12 else 1.0)
    rows = [[1.0, *((x[j] - means[j]) / scales[j] for j in range(d))] for x in xs]
    beta = [0.0] * (d + 1)
    for _ in range(iterations):
        hessian = [[0.0] * (d + 1) for _ in range(d + 1)]
        gradient = [0.0] * (d + 1)
        for row, y in zip(rows, ys, strict=True):
            p = _sigmoid(sum(b * v for b, v in zip(beta, row, strict=True)))
            w = max(p * (1 - p), 1e-9)
            residual = y - p
            for i in range(d + 1):
                ri = row[i]
                gradient[i] += ri * residual
                wi = w * ri
                h = hessian[i]
                for k in range(i, d + 1):
                    h[k] += wi * row[k]
        for i in range(d + 1):
            for k in range(i):
                hessian[i][k] = hessian[k][i]
        for i in range(1, d + 1):
            gradient[i] -= l2 * beta[i]
            hessian[i][i] += l2
        step = _solve(hessian, gradient)
        beta = [b + s for b, s in zip(beta, step, strict=True)]
        if max(abs(s) for s in step) < 1e-8:
            break
    return Model(
        version="unversioned",
        features=FEATURES if d == len(FEATURES) else tuple(f"x{j}" for j in range(d)),
        means=tuple(means),
        scales=tuple(scales),
        intercept=beta[0],
        coefficients=tuple(beta[1:]),
    )


# -- evaluation --------------------------------------------------------------------------------------


def auc(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    """Area under the ROC curve (Mann-Whitney, ties count half); None without both classes."""
    positives = sum(labels)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return None
    ranked = sorted(zip(scores, labels, strict=True))
    rank_sum = 0.0
    i = 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        mid_rank = (i + 1 + j) / 2  # ranks i+1..j share their mean
        rank_sum += mid_rank * sum(label for _, label in ranked[i:j])
        i = j
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def brier(scores: Sequence[float], labels: Sequence[int]) -> float:
    return sum((p - y) ** 2 for p, y in zip(scores, labels, strict=True)) / len(labels)


def reliability(scores: Sequence[float], labels: Sequence[int], bins: int = 10) -> list[dict[str, Any]]:
    """Calibration: per equal-width bin of predicted probability, how many, the mean predicted, the observed."""
    found: list[dict[str, Any]] = []
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        inside = [(p, y) for p, y in zip(scores, labels, strict=True) if low <= p < high or (b == bins - 1 and p == 1)]
        if not inside:
            continue
        found.append(
            {
                "bin": f"{low:.1f}-{high:.1f}",
                "count": len(inside),
                "predicted": round(sum(p for p, _ in inside) / len(inside), 4),
                "observed": round(sum(y for _, y in inside) / len(inside), 4),
            }
        )
    return found


def evaluate(model: Model, examples: Sequence[Example]) -> dict[str, Any]:
    scores = [model.probability(e.x) for e in examples]
    labels = [e.y for e in examples]
    found_auc = auc(scores, labels)
    return {
        "examples": len(examples),
        "positives": sum(labels),
        "auc": round(found_auc, 4) if found_auc is not None else None,
        "brier": round(brier(scores, labels), 4) if examples else None,
        "reliability": reliability(scores, labels),
    }


def split(examples: Sequence[Example], holdout: float, seed: int) -> tuple[list[Example], list[Example]]:
    """Training and held-out examples, split by account (no account on both sides), shuffled by `seed`."""
    accounts = sorted({e.account_id for e in examples})
    random.Random(seed).shuffle(accounts)
    held = set(accounts[: max(1, round(len(accounts) * holdout))]) if holdout > 0 and len(accounts) > 1 else set()
    return [e for e in examples if e.account_id not in held], [e for e in examples if e.account_id in held]


def train(examples: Iterable[Example], seed: int = 7, holdout: float = 0.2, l2: float = 1.0) -> Model:
    """Split (by account, seeded), fit on the training part, evaluate on the held-out part; versioned by
    content (`p-<sha256 of the coefficients>[:12]`): the same examples and seed give the same artifact."""
    training, held_out = split(list(examples), holdout, seed)
    if not training or len({e.y for e in training}) < 2:
        raise ValueError("the training split needs both payers and non-payers")
    model = fit([e.x for e in training], [e.y for e in training], l2=l2)
    evaluation = evaluate(model, held_out) if held_out else {}
    training_summary = {
        "examples": len(training),
        "positives": sum(e.y for e in training),
        "accounts": len({e.account_id for e in training}),
        "seed": seed,
        "holdout": holdout,
        "l2": l2,
    }
    content = json.dumps(
        [model.means, model.scales, model.intercept, model.coefficients, training_summary], sort_keys=True
    )
    version = "p-" + hashlib.sha256(content.encode("utf-8")).hexdigest()[:12]
    return Model(
        version,
        model.features,
        model.means,
        model.scales,
        model.intercept,
        model.coefficients,
        evaluation,
        training_summary,
    )
