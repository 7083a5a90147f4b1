"""The lender report's files: a self-contained HTML page (PNG charts from matplotlib, base64-embedded, each
with alt text and its data as a table) and CSVs. matplotlib is imported here, inside `charts`, with the Agg
renderer and no pyplot (no global figure state): only the reports function loads it."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from functions.core.clock import iso_utc
from functions.core.kpis import Kpis, MessageStats
from functions.core.money import currency_exponent
from functions.core.reporting import WEEKDAYS, DayRow, LenderFigures, ModelFigures, SendTimeFigures

CSV_FILES = ("kpis.csv", "daily.csv", "messages.csv", "funnel.csv", "experiments.csv", "sendtime.csv", "model.csv")
PNG_DPI = 96
CHANNEL_COLOURS = {"email": "#1f5fa8", "sms": "#d9822b", "any": "#2a7d2e"}
CHANNEL_LABELS = {"any": "portal visit or payment"}
NOT_AVAILABLE = "not available"
BAR_COLOUR = "#1f5fa8"


@dataclass(frozen=True, slots=True)
class Chart:
    name: str
    title: str
    alt: str
    png: bytes


# --- formatting ------------------------------------------------------------------------------------------


def money(minor: int, currency: str) -> str:
    """Integer minor units shown in major units (no float): 1234567 USD -> "12,345.67 USD"."""
    exponent = currency_exponent(currency)
    whole, fraction = divmod(abs(minor), 10**exponent)
    sign = "-" if minor < 0 else ""
    return f"{sign}{whole:,}.{fraction:0{exponent}d} {currency}" if exponent else f"{sign}{whole:,} {currency}"


def pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{100 * rate:.1f} %"


def num(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


# --- the rows every format shares ------------------------------------------------------------------------


def kpi_rows(kpis: Kpis) -> list[tuple[str, str, str]]:
    """(metric, currency or "", shown value) for one group's KPIs."""
    rows: list[tuple[str, str, str]] = [("Accounts", "", f"{kpis.accounts:,}")]
    for currency in kpis.placed_minor:
        rows += [
            ("Placed", currency, money(kpis.placed_minor[currency], currency)),
            ("Collected", currency, money(kpis.collected_minor.get(currency, 0), currency)),
            ("Recovery rate", currency, pct(kpis.recovery_rate.get(currency))),
            ("Messages per unit recovered", currency, num(kpis.messages_per_unit_recovered.get(currency), 2)),
        ]
    rows += [
        ("Resolved (paid or settled)", "", f"{kpis.resolved:,} ({pct(kpis.resolution_rate)})"),
        ("Cure rate", "", pct(kpis.cure_rate)),
        ("Contacted", "", f"{kpis.contacted:,}"),
        ("Right-party contact rate", "", pct(kpis.right_party_contact_rate)),
        ("Engagement rate", "", pct(kpis.engagement_rate)),
        ("Messages sent", "", ", ".join(f"{c} {n:,}" for c, n in kpis.messages_by_channel.items()) or "0"),
        ("Opt-outs per 1,000 messages", "", num(kpis.opt_outs_per_1000_messages)),
        ("Complaints per 1,000 messages", "", num(kpis.complaints_per_1000_messages)),
        ("Promise-kept rate", "", f"{pct(kpis.promise_kept_rate)} of {kpis.promises_kept + kpis.promises_broken:,}"),
        ("Plan completion", "", f"{pct(kpis.plan_completion_rate)} of {kpis.plans_started:,} started"),
        ("Median days to resolution", "", num(kpis.median_days_to_resolution)),
    ]
    for name, roll in kpis.roll_rates.items():
        rows.append((f"Roll rate {name.replace('->', ' → ')}", "", f"{pct(roll['rate'])} of {roll['entered']:,}"))
    return rows


def _kpi_values(kpis: Kpis) -> list[tuple[str, str, Any]]:
    """(metric, currency, raw value) for the CSV."""
    values: list[tuple[str, str, Any]] = [("accounts", "", kpis.accounts)]
    for currency in kpis.placed_minor:
        values += [
            ("placed_minor", currency, kpis.placed_minor[currency]),
            ("collected_minor", currency, kpis.collected_minor.get(currency, 0)),
            ("recovery_rate", currency, kpis.recovery_rate.get(currency)),
            ("messages_per_unit_recovered", currency, kpis.messages_per_unit_recovered.get(currency)),
        ]
    for name in (
        "resolved", "resolution_rate", "cured", "cure_rate", "contacted", "right_party_contacts",
        "right_party_contact_rate", "engaged", "engagement_rate", "messages", "opt_outs", "opt_outs_per_1000_messages",
        "complaints", "complaints_per_1000_messages", "promises_made", "promises_kept", "promises_broken",
        "promises_pending", "promise_kept_rate", "plans_started", "plans_completed", "plans_broken", "plans_current",
        "plan_completion_rate", "median_days_to_resolution",
    ):  # fmt: skip
        values.append((name, "", getattr(kpis, name)))
    for channel, count in kpis.messages_by_channel.items():
        values.append((f"messages_{channel}", "", count))
    for name, roll in kpis.roll_rates.items():
        values.append((f"roll_rate_{name}", "", roll["rate"]))
    return values


def _kpi_groups(figures: LenderFigures) -> list[tuple[str, str, Kpis]]:
    groups = [("all", "", figures.overall)]
    groups += [("entry_stage", stage, kpis) for stage, kpis in figures.by_stage.items()]
    groups += [("tier", tier, kpis) for tier, kpis in figures.by_tier.items()]
    return groups


def _message_slices(figures: LenderFigures) -> list[tuple[str, Mapping[str, MessageStats]]]:
    return [
        ("channel", figures.messages_by_channel),
        ("stage", figures.messages_by_stage),
        ("template_variant", figures.messages_by_variant),
        ("tier", figures.messages_by_tier),
    ]


# --- CSV -------------------------------------------------------------------------------------------------


def _csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    return buffer.getvalue().encode("utf-8")


def csv_files(figures: LenderFigures) -> dict[str, bytes]:
    """kpis.csv (long: group, key, metric, currency, value), daily.csv, messages.csv, funnel.csv, experiments.csv.
    Money in integer minor units; rates as fractions."""
    kpis_csv = _csv(
        ("group", "key", "metric", "currency", "value"),
        ((group, key, metric, currency, value) for group, key, kpis in _kpi_groups(figures)
         for metric, currency, value in _kpi_values(kpis)),
    )  # fmt: skip
    compliance = [("compliance", "", "violations", "", figures.violations)]
    compliance += [("compliance", rule, "violations", "", count) for rule, count in figures.violations_by_rule.items()]
    kpis_csv += _csv((), compliance).lstrip(b"\n")
    channels = sorted({channel for row in figures.daily for channel in row.messages_by_channel})
    daily_csv = _csv(
        ("date", "currency", "accounts_placed_to_date", "placed_to_date_minor", "messages",
         *(f"messages_{c}" for c in channels), "verified", "promises_made", "payments", "collected_minor",
         "collected_to_date_minor", "recovery_rate_to_date", "refunds", "resolved", "opt_outs", "complaints"),
        ((r.day.isoformat(), r.currency, r.accounts_placed, r.placed_minor, r.messages,
          *(r.messages_by_channel.get(c, 0) for c in channels), r.verified, r.promises_made, r.payments,
          r.collected_minor, r.collected_to_date_minor, r.recovery_rate_to_date, r.refunds, r.resolved, r.opt_outs,
          r.complaints) for r in figures.daily),
    )  # fmt: skip
    messages_csv = _csv(
        ("slice", "key", "messages", "accounts", "payments", "payments_per_1000_messages", "collected_minor",
         "currency", "portal_visits", "opt_outs", "opt_outs_per_1000_messages", "complaints",
         "complaints_per_1000_messages"),
        ((name, key, s.messages, s.accounts, s.payments, s.payments_per_1000_messages,
          sum(s.collected_minor.values()), ";".join(sorted(s.collected_minor)), s.portal_visits, s.opt_outs,
          s.opt_outs_per_1000_messages, s.complaints, s.complaints_per_1000_messages)
         for name, stats in _message_slices(figures) for key, s in stats.items()),
    )  # fmt: skip
    funnel_csv = _csv(
        ("step", "label", "accounts", "observed_accounts", "signals"),
        ((s.step, s.label, s.accounts, s.observed, s.signals) for s in figures.funnel),
    )
    experiments_csv = _csv(
        ("segment", "template", "variant", "exposures", "rewards", "rate", "posterior_mean", "probability_best"),
        ((r.segment, r.template, r.variant, r.exposures, r.rewards, r.rate, round(r.posterior_mean, 6),
          r.probability_best) for r in figures.experiments),
    )  # fmt: skip
    return {
        "kpis.csv": kpis_csv,
        "daily.csv": daily_csv,
        "messages.csv": messages_csv,
        "funnel.csv": funnel_csv,
        "experiments.csv": experiments_csv,
        "sendtime.csv": sendtime_csv(figures.sendtime),
        "model.csv": model_csv(figures.model),
    }


def sendtime_csv(sendtime: SendTimeFigures | None) -> bytes:
    """sendtime.csv: one row per prior segment and hour of the week with responses (the debtor's local time;
    weekday Mon..Sun, hour 0-23). Only the header when the priors were not available."""
    cells = sendtime.cells if sendtime is not None else []
    return _csv(
        ("segment", "hour_of_week", "weekday", "hour", "count"),
        ((segment, how, WEEKDAYS[how // 24], how % 24, count) for segment, how, count in cells),
    )


def model_csv(model: ModelFigures | None) -> bytes:
    """model.csv (long: metric, key, value): the model's version, source, training summary, held-out AUC and
    Brier score, and per reliability bin its count, mean predicted and observed rate. Only the header when the
    model was not available."""
    rows: list[tuple[str, str, Any]] = []
    if model is not None:
        rows += [("version", "", model.version), ("source", "", model.source)]
        rows += [("training", key, value) for key, value in sorted(model.training.items())]
        rows += [
            ("held_out_examples", "", model.held_out),
            ("held_out_positives", "", model.held_out_positives),
            ("auc", "", model.auc),
            ("brier", "", model.brier),
            ("calibration_error", "", None if model.calibration_error is None else round(model.calibration_error, 6)),
        ]
        for b in model.reliability:
            rows += [
                ("bin_count", b.bin, b.count),
                ("bin_predicted", b.bin, b.predicted),
                ("bin_observed", b.bin, b.observed),
            ]
        rows += [("coefficient", name, value) for name, value in zip(model.features, model.coefficients, strict=True)]
    return _csv(("metric", "key", "value"), rows)


def summary(figures: LenderFigures, files: Iterable[str]) -> dict[str, Any]:
    """summary.json: the headline figures and the report's files (what `cleardue lender status` shows)."""
    overall = figures.overall
    return {
        "lender_id": figures.lender_id,
        "as_of": iso_utc(figures.as_of),
        "date": figures.as_of.date().isoformat(),
        "accounts": overall.accounts,
        "placed_minor": overall.placed_minor,
        "collected_minor": overall.collected_minor,
        "recovery_rate": overall.recovery_rate,
        "cure_rate": overall.cure_rate,
        "messages": overall.messages,
        "violations": figures.violations,
        "sendtime_responses": figures.sendtime.responses if figures.sendtime is not None else None,
        "model_version": figures.model.version if figures.model is not None else None,
        "files": sorted(files),
    }


# --- charts ----------------------------------------------------------------------------------------------


def charts(figures: LenderFigures) -> list[Chart]:
    """The report's charts as PNGs (matplotlib, Agg renderer). Charts without data are left out."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    made: list[Chart] = []

    def save(name: str, title: str, alt: str, figure: Figure) -> None:
        figure.suptitle(title, fontsize=11)
        figure.tight_layout()
        buffer = io.BytesIO()
        FigureCanvasAgg(figure)
        figure.savefig(buffer, format="png", dpi=PNG_DPI)
        made.append(Chart(name, title, alt, buffer.getvalue()))

    days = figures.daily
    currencies = sorted({row.currency for row in days})
    if days:
        figure = Figure(figsize=(7.5, 3.2))
        axes = figure.add_subplot()
        for currency in currencies:
            rows = [row for row in days if row.currency == currency]
            axes.plot(
                [row.day for row in rows],  # type: ignore[arg-type]
                [100 * (row.recovery_rate_to_date or 0.0) for row in rows],
                marker="." if len(rows) < 40 else None,
                label=currency,
            )
        axes.set_ylabel("recovered so far (%)")
        axes.set_ylim(bottom=0)
        axes.grid(alpha=0.3)
        if len(currencies) > 1:
            axes.legend()
        figure.autofmt_xdate()
        final = {c: [r for r in days if r.currency == c][-1].recovery_rate_to_date for c in currencies}
        save(
            "recovery",
            "Recovery rate to date",
            "Line chart of the share of the placed amount collected so far, by day: "
            + "; ".join(f"{pct(rate)} {c} on {days[-1].day.isoformat()}" for c, rate in final.items())
            + ". The daily table below has every value.",
            figure,
        )

        figure = Figure(figsize=(7.5, 3.2))
        axes = figure.add_subplot()
        per_day: dict[Any, dict[str, int]] = {}
        for row in days:
            cell = per_day.setdefault(row.day, {})
            for channel, count in row.messages_by_channel.items():
                cell[channel] = cell.get(channel, 0) + count
        channels = sorted({channel for cell in per_day.values() for channel in cell})
        bottoms = [0] * len(per_day)
        for channel in channels:
            heights = [cell.get(channel, 0) for cell in per_day.values()]
            axes.bar(
                list(per_day), heights, bottom=bottoms, label=channel, color=CHANNEL_COLOURS.get(channel), width=0.8
            )
            bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
        payments = [sum(r.payments for r in days if r.day == d) for d in per_day]
        axes.plot(list(per_day), payments, color="#2a7d2e", marker=".", label="payments")
        axes.set_ylabel("per day")
        axes.grid(alpha=0.3, axis="y")
        axes.legend(fontsize=8)
        figure.autofmt_xdate()
        total = {c: sum(cell.get(c, 0) for cell in per_day.values()) for c in channels}
        save(
            "activity",
            "Messages and payments per day",
            "Stacked bar chart of messages sent per day by channel ("
            + ", ".join(f"{c}: {n:,} in all" for c, n in total.items())
            + f"), with a line of payments per day ({sum(payments):,} in all). The daily table below has every value.",
            figure,
        )

    if figures.funnel and figures.funnel[0].accounts:
        figure = Figure(figsize=(7.5, 3.0))
        axes = figure.add_subplot()
        labels = [step.label for step in figures.funnel][::-1]
        values = [step.accounts for step in figures.funnel][::-1]
        axes.barh(labels, values, color=BAR_COLOUR)
        top = figures.funnel[0].accounts
        for position, value in enumerate(values):
            axes.text(value, position, f" {value:,} ({100 * value / top:.0f} %)", va="center", fontsize=8)
        axes.set_xlim(right=top * 1.3)
        axes.set_xlabel("accounts")
        save(
            "funnel",
            "From message to payment",
            "Horizontal bar chart of the accounts sent a collection message reaching each step: "
            + "; ".join(f"{step.label} {step.accounts:,}" for step in figures.funnel)
            + ". The funnel table below has the same figures.",
            figure,
        )

    for name, title, groups in (
        ("by_stage", "Recovery by entry stage", figures.by_stage),
        ("by_tier", "Recovery by tier", figures.by_tier),
    ):
        if not groups:
            continue
        figure = Figure(figsize=(7.5, 3.0))
        axes = figure.add_subplot()
        keys = list(groups)
        width = 0.8 / max(1, len(currencies) + 1)
        for index, currency in enumerate(currencies):
            rates = [100 * (groups[k].recovery_rate.get(currency) or 0.0) for k in keys]
            axes.bar([i + index * width for i in range(len(keys))], rates, width, label=f"recovery {currency}")
        cures = [100 * (groups[k].cure_rate or 0.0) for k in keys]
        axes.bar([i + len(currencies) * width for i in range(len(keys))], cures, width, label="cure", color="#2a7d2e")
        axes.set_xticks([i + width * len(currencies) / 2 for i in range(len(keys))], keys)
        axes.set_ylabel("%")
        axes.grid(alpha=0.3, axis="y")
        axes.legend(fontsize=8)
        save(
            name,
            title,
            f"Bar chart of the recovery and cure rates {title.lower().removeprefix('recovery ')}: "
            + "; ".join(
                f"{k}: recovery "
                + ", ".join(f"{pct(groups[k].recovery_rate.get(c))} {c}" for c in groups[k].recovery_rate)
                + f", cure {pct(groups[k].cure_rate)}"
                for k in keys
            )
            + ". The table below has every KPI of each group.",
            figure,
        )

    variants = figures.messages_by_variant
    if variants:
        figure = Figure(figsize=(7.5, 3.0))
        axes = figure.add_subplot()
        keys = list(variants)
        rates = [variants[k].payments_per_1000_messages or 0.0 for k in keys]
        axes.bar(keys, rates, color=BAR_COLOUR)
        axes.set_ylabel("payments per 1,000 messages")
        axes.grid(alpha=0.3, axis="y")
        axes.tick_params(axis="x", labelrotation=30, labelsize=8)
        save(
            "variants",
            "Payments per 1,000 messages by template and variant",
            "Bar chart of the payments that followed each template variant's messages (last touch within 7 days), "
            "per 1,000 messages: "
            + "; ".join(f"{k} {num(variants[k].payments_per_1000_messages)}" for k in keys)
            + ". The messages table below has the counts.",
            figure,
        )

    totals = [row for row in figures.experiments if row.segment == "all" and row.probability_best is not None]
    if totals:
        figure = Figure(figsize=(7.5, 2.8))
        axes = figure.add_subplot()
        labels = [f"{row.template}/{row.variant}" for row in totals]
        axes.bar(labels, [100 * (row.probability_best or 0.0) for row in totals], color="#6a3d9a")
        axes.set_ylim(0, 100)
        axes.set_ylabel("probability best (%)")
        axes.grid(alpha=0.3, axis="y")
        save(
            "experiments",
            "Experiments: probability each variant is the best of its template",
            "Bar chart of the probability each is the best of its template (a variant of its wording, a tone), over "
            "all segments: "
            + "; ".join(
                f"{label} {pct(row.probability_best)} ({_counted(row.rewards, 'reward')} of "
                f"{_counted(row.exposures, 'exposure')})"
                for label, row in zip(labels, totals, strict=True)
            )
            + ". The experiments table below has each segment.",
            figure,
        )

    sendtime = figures.sendtime
    if sendtime is not None and sendtime.responses:
        figure = Figure(figsize=(7.5, 3.0))
        axes = figure.add_subplot()
        hours = list(range(24))
        start = sendtime.window_start.hour + sendtime.window_start.minute / 60
        end = sendtime.window_end.hour + sendtime.window_end.minute / 60
        axes.axvspan(start - 0.5, end - 0.5, color="#e8eef6", zorder=0, label="contact window")
        bottoms = [0] * 24
        for channel, counts in sendtime.by_channel.items():
            axes.bar(
                hours, counts, bottom=bottoms, width=0.8, label=CHANNEL_LABELS.get(channel, channel),
                color=CHANNEL_COLOURS.get(channel), zorder=2,
            )  # fmt: skip
            bottoms = [b + c for b, c in zip(bottoms, counts, strict=True)]
        axes.set_xticks(hours[::2], [f"{h:02d}" for h in hours[::2]])
        axes.set_xlim(-0.6, 23.6)
        axes.set_xlabel("local hour of the day (the debtor's time zone)")
        axes.set_ylabel("responses")
        axes.grid(alpha=0.3, axis="y")
        axes.legend(fontsize=8)
        save(
            "sendtime",
            "Responses by the debtor's local hour of the day",
            f"Stacked bar chart of the {sendtime.responses:,} responses the send-time priors counted, by local hour "
            "of the day and channel ("
            + ", ".join(f"{CHANNEL_LABELS.get(c, c)}: {sum(v):,}" for c, v in sendtime.by_channel.items())
            + "). Best hours: "
            + ", ".join(f"{h:02d}:00" for h in sendtime.best_hours)
            + f"; {pct(sendtime.window_share)} of responses fall inside the contact window "
            f"{sendtime.window_start:%H:%M}-{sendtime.window_end:%H:%M}. The table below has each hour.",
            figure,
        )

    model = figures.model
    if model is not None and model.reliability:
        figure = Figure(figsize=(4.5, 4.0))
        axes = figure.add_subplot()
        axes.plot([0, 1], [0, 1], color="#888888", linestyle="--", linewidth=1, label="perfect calibration")
        axes.plot(
            [b.predicted for b in model.reliability], [b.observed for b in model.reliability], marker="o",
            color="#6a3d9a", label="held-out bins",
        )  # fmt: skip
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1)
        axes.set_xlabel("predicted probability of paying within 30 days")
        axes.set_ylabel("observed share that paid")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8, loc="upper left")
        save(
            "calibration",
            "Propensity model: predicted vs observed",
            f"Calibration chart of model {model.version} on its held-out examples, mean predicted against observed "
            "payment rate per bin: "
            + "; ".join(f"{b.bin} predicted {pct(b.predicted)}, observed {pct(b.observed)}" for b in model.reliability)
            + ". The reliability table below has the counts.",
            figure,
        )
    return made


# --- HTML ------------------------------------------------------------------------------------------------

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1b1b;background:#fff}
main{max-width:60rem;margin:0 auto;padding:1rem 1.25rem 3rem}
h1{font-size:1.6rem;margin-bottom:.25rem}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.75rem 0;font-size:.9rem;font-variant-numeric:tabular-nums}
caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}th[scope=row],td.text{text-align:left}
thead th{background:#f1f3f5}thead th:first-child{text-align:left}figure{margin:1rem 0}img{max-width:100%;height:auto}
figcaption{font-size:.85rem;color:#444}.note{font-size:.9rem;color:#333}.ok{color:#1d6b22;font-weight:600}
.bad{color:#a4121b;font-weight:600}details{margin:.5rem 0}summary{cursor:pointer}
"""


def _table(caption: str, header: Sequence[str], rows: Iterable[Sequence[Any]], table_id: str = "") -> str:
    head = "".join(f'<th scope="col">{_e(h)}</th>' for h in header)
    body = []
    for row in rows:
        first, *rest = row
        cells = "".join(f"<td>{_e(value)}</td>" for value in rest)
        body.append(f'<tr><th scope="row">{_e(first)}</th>{cells}</tr>')
    identity = f' id="{_e(table_id)}"' if table_id else ""
    return (
        f"<table{identity}><caption>{_e(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _figure(chart: Chart | None) -> str:
    if chart is None:
        return ""
    data = base64.b64encode(chart.png).decode("ascii")
    return (
        f'<figure><img class="chart" data-chart="{_e(chart.name)}" src="data:image/png;base64,{data}" '
        f'alt="{_e(chart.alt)}"><figcaption>{_e(chart.title)}</figcaption></figure>'
    )


def _group_table(caption: str, column: str, groups: Mapping[str, Kpis], table_id: str) -> str:
    rows = []
    for key, k in groups.items():
        placed = "; ".join(money(v, c) for c, v in k.placed_minor.items())
        collected = "; ".join(money(k.collected_minor.get(c, 0), c) for c in k.placed_minor)
        recovery = "; ".join(pct(r) for r in k.recovery_rate.values())
        rows.append(
            (key, f"{k.accounts:,}", placed, collected, recovery, pct(k.cure_rate), pct(k.right_party_contact_rate),
             pct(k.engagement_rate), f"{k.messages:,}", num(k.opt_outs_per_1000_messages),
             num(k.complaints_per_1000_messages))
        )  # fmt: skip
    header = (column, "accounts", "placed", "collected", "recovery", "cure", "RPC", "engagement", "messages",
              "opt-outs /1,000", "complaints /1,000")  # fmt: skip
    return _table(caption, header, rows, table_id)


def _messages_table(caption: str, column: str, stats: Mapping[str, MessageStats], table_id: str) -> str:
    rows = [
        (key, f"{s.messages:,}", f"{s.accounts:,}", f"{s.payments:,}", num(s.payments_per_1000_messages),
         "; ".join(money(v, c) for c, v in s.collected_minor.items()) or "0", f"{s.portal_visits:,}",
         num(s.opt_outs_per_1000_messages), num(s.complaints_per_1000_messages))
        for key, s in stats.items()
    ]  # fmt: skip
    header = (column, "messages", "accounts", "payments after", "payments /1,000", "collected after",
              "pay page visits", "opt-outs /1,000", "complaints /1,000")  # fmt: skip
    return _table(caption, header, rows, table_id)


def _daily_table(days: Sequence[DayRow]) -> str:
    rows = [
        (row.day.isoformat(), row.currency, f"{row.accounts_placed:,}", f"{row.messages:,}",
         f"{row.verified:,}", f"{row.payments:,}", money(row.collected_minor, row.currency),
         money(row.collected_to_date_minor, row.currency), pct(row.recovery_rate_to_date), f"{row.resolved:,}",
         f"{row.opt_outs:,}", f"{row.complaints:,}")
        for row in days
    ]  # fmt: skip
    header = ("date (UTC)", "currency", "accounts placed", "messages", "identity checks", "payments", "collected",
              "collected to date", "recovery to date", "resolved", "opt-outs", "complaints")  # fmt: skip
    return _table("Day by day", header, rows, "daily")


def _hours(hours: Sequence[int]) -> str:
    return ", ".join(f"{hour:02d}:00" for hour in hours) or "none"


def _sendtime_part(sendtime: SendTimeFigures | None, chart: Chart | None) -> str:
    heading = '<h3 id="h-sendtime">Send time</h3>'
    if sendtime is None:
        return heading + (
            f'<p class="note" id="sendtime-unavailable">Send-time distributions: {NOT_AVAILABLE} (the priors could '
            "not be read for this report).</p>"
        )
    if not sendtime.responses:
        return heading + (
            '<p class="note">No response has been counted yet: the send-time priors are empty, so the scheduler '
            "times contacts from each debtor's own responses only (or the cadence's moment).</p>"
        )
    window = f"{sendtime.window_start:%H:%M}-{sendtime.window_end:%H:%M}"
    channels = list(sendtime.by_channel)
    hour_rows = [
        (f"{hour:02d}:00", *(f"{sendtime.by_channel[c][hour]:,}" for c in channels), f"{sendtime.by_hour[hour]:,}",
         pct(sendtime.by_hour[hour] / sendtime.responses))
        for hour in range(24)
    ]  # fmt: skip
    segment_rows = [
        (s.segment, s.stage, s.tier, CHANNEL_LABELS.get(s.channel, s.channel), f"{s.responses:,}",
         _hours(s.best_hours), pct(s.window_share))
        for s in sendtime.segments
    ]  # fmt: skip
    weekdays = ", ".join(f"{day} {count:,}" for day, count in zip(WEEKDAYS, sendtime.by_weekday, strict=True))
    return "\n".join(
        [
            heading,
            f'<p class="note">The responses (opens, clicks, replies, pay page visits, payments) the send-time priors '
            f"counted for this lender: {sendtime.responses:,}, at the debtor's local hour (docs/learning.md). Best "
            f"hours over every segment: {_hours(sendtime.best_hours)}; {pct(sendtime.window_share)} inside the contact "
            f"window ({window} local). By weekday: {weekdays}. The scheduler only ever sends inside the window: a "
            "response outside it (an email read late at night) still tells it which end of the window is better.</p>",
            _figure(chart),
            "<details><summary>Responses by local hour of the day (24 rows)</summary>"
            + _table(
                "Responses by the debtor's local hour of the day",
                ("local hour", *(CHANNEL_LABELS.get(c, c) for c in channels), "all", "share"),
                hour_rows,
                "sendtime-hours",
            )
            + "</details>",
            _table(
                f"Send-time priors by segment (stage#tier#channel): best local hours and share in the window {window}",
                ("segment", "stage", "tier", "channel", "responses", "best local hours", "in the window"),
                segment_rows,
                "sendtime",
            ),
        ]
    )


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else "n/a"


def _model_part(model: ModelFigures | None, chart: Chart | None) -> str:
    heading = '<h3 id="h-model">Propensity model</h3>'
    plainly = (
        '<p class="note"><strong>The score sets the tier (and with it the intensity of treatment) only; it never '
        "decides whether an account may be contacted</strong>: eligibility, the contact window, caps and consent "
        "are the compliance rules' alone.</p>"
    )
    if model is None:
        return heading + (
            f'<p class="note" id="model-unavailable">The propensity model: {NOT_AVAILABLE} (it could not be read for '
            "this report).</p>" + plainly
        )
    t = model.training
    trained_on = (
        f"{_count(t.get('examples'))} examples ({_count(t.get('positives'))} paid within 30 days) from "
        f"{_count(t.get('accounts'))} accounts"
    )
    settings = ", ".join(f"{key} {t[key]}" for key in ("seed", "holdout", "l2") if key in t)
    when = next((str(t[key]) for key in ("trained_at", "as_of", "date") if key in t), "not recorded in the artifact")
    rows = [
        ("Version", model.version),
        ("Read from", model.source),
        ("Trained", when),
        ("Trained on", trained_on + (f" ({settings})" if settings else "")),
        (
            "Held out",
            "n/a"
            if model.held_out is None
            else f"{model.held_out:,} examples ({model.held_out_positives or 0:,} paid)",
        ),
        ("AUC (held out)", num(model.auc, 3)),
        ("Brier score (held out; lower is better)", num(model.brier, 4)),
        (
            "Mean calibration gap (|predicted − observed|, by count)",
            "n/a" if model.calibration_error is None else f"{100 * model.calibration_error:.1f} pt",
        ),
    ]
    bins = [
        (b.bin, f"{b.count:,}", pct(b.predicted), pct(b.observed), f"{100 * (b.observed - b.predicted):+.1f} pt")
        for b in model.reliability
    ]
    return "\n".join(
        [
            heading,
            plainly,
            _table("The propensity model in use (P(paying within 30 days))", ("figure", "value"), rows, "model"),
            _figure(chart),
            _table(
                "Reliability on the held-out examples: per bin of predicted probability",
                ("predicted bin", "examples", "mean predicted", "observed", "observed − predicted"),
                bins,
                "reliability",
            )
            if bins
            else '<p class="note">The artifact records no reliability bins.</p>',
        ]
    )


def html_page(figures: LenderFigures, made: Sequence[Chart], files: Iterable[str]) -> str:
    """The report as one self-contained HTML page (no external resource)."""
    chart = {c.name: c for c in made}
    lender, as_of = _e(figures.lender_id), iso_utc(figures.as_of)
    overall_rows = [(metric, currency, value) for metric, currency, value in kpi_rows(figures.overall)]
    verdict = (
        '<p class="ok">The independent check found no compliance violation.</p>'
        if not figures.violations
        else f'<p class="bad">The independent check found {figures.violations:,} compliance violation(s).</p>'
    )
    overall_rows.append(("Compliance violations (independent check)", "", f"{figures.violations:,}"))
    funnel_top = figures.funnel[0].accounts if figures.funnel else 0
    funnel_rows = [
        (s.label, f"{s.accounts:,}", pct(s.accounts / funnel_top if funnel_top else None), f"{s.observed:,}",
         f"{s.signals:,}")
        for s in figures.funnel
    ]  # fmt: skip
    experiment_rows = [
        (r.segment, r.template, r.variant, f"{r.exposures:,}", f"{r.rewards:,}", pct(r.rate), pct(r.posterior_mean),
         pct(r.probability_best))
        for r in figures.experiments
    ]  # fmt: skip
    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Collections report: {lender}, {figures.as_of.date().isoformat()}</title>",
        f"<style>{STYLE}</style></head><body><main>",
        f"<h1>Collections report: {lender}</h1>",
        f'<p class="note">As of <time datetime="{as_of}">{as_of}</time>. Every figure is computed from the '
        "accounts and their audit trails (and the experiments table for the standings), never from anyone's "
        "own count. Money in the account's currency; rates are shares of their denominators (docs/kpis.md). "
        "Each chart's data is in the table beside it.</p>",
        '<section aria-labelledby="h-kpis"><h2 id="h-kpis">Key figures</h2>',
        _table("Key performance indicators, all accounts", ("metric", "currency", "value"), overall_rows, "kpis"),
        verdict,
        "</section>",
        '<section aria-labelledby="h-time"><h2 id="h-time">Over time</h2>',
        _figure(chart.get("recovery")),
        _figure(chart.get("activity")),
        f"<details><summary>Day by day ({len(figures.daily):,} rows)</summary>{_daily_table(figures.daily)}</details>",
        "</section>",
        '<section aria-labelledby="h-funnel"><h2 id="h-funnel">From message to payment</h2>',
        _figure(chart.get("funnel")),
        _table(
            "Funnel: accounts sent a collection message reaching each step",
            ("step", "accounts", "of messaged", "seen at this step", "signals"),
            funnel_rows,
            "funnel",
        ),
        '<p class="note">A later step counts as passing the earlier ones: a payment proves the debtor was reached '
        "even when no delivery receipt or open was seen (opens are a lower bound; mail privacy proxies inflate "
        f"them). Accounts that paid without a collection message: {figures.paid_without_message:,}.</p>",
        "</section>",
        '<section aria-labelledby="h-stage"><h2 id="h-stage">By stage</h2>',
        _figure(chart.get("by_stage")),
        _group_table("KPIs by the stage the account was placed in", "entry stage", figures.by_stage, "by-stage"),
        _messages_table("Messages by the stage they were sent in", "stage", figures.messages_by_stage, "msg-stage"),
        "</section>",
        '<section aria-labelledby="h-tier"><h2 id="h-tier">By tier</h2>',
        _figure(chart.get("by_tier")),
        _group_table("KPIs by the account's tier now", "tier", figures.by_tier, "by-tier"),
        _messages_table("Messages by the account's tier now", "tier", figures.messages_by_tier, "msg-tier"),
        "</section>",
        '<section aria-labelledby="h-channel"><h2 id="h-channel">By channel and template variant</h2>',
        _messages_table("Messages by channel", "channel", figures.messages_by_channel, "msg-channel"),
        _figure(chart.get("variants")),
        _messages_table(
            "Messages by template and variant", "template/variant", figures.messages_by_variant, "msg-variant"
        ),
        '<p class="note">"After": the payments, pay page visits, opt-outs and complaints that followed a message '
        "(last touch: a payment or a visit within 7 days of the last collection message; an opt-out to the last "
        "message on its channel; a complaint to the last email).</p>",
        "</section>",
        '<section aria-labelledby="h-experiments"><h2 id="h-experiments">Experiments</h2>',
        _figure(chart.get("experiments")),
        _table(
            "Experiment standings by segment (stage#tier#language) and over all segments",
            (
                "segment",
                "template",
                "variant",
                "exposures",
                "rewards",
                "reward rate",
                "posterior mean",
                "probability best",
            ),
            experiment_rows,
            "experiments",
        )  # fmt: skip
        if experiment_rows
        else '<p class="note">No message experiment has counted an exposure for this lender.</p>',
        "</section>",
        '<section aria-labelledby="h-learned"><h2 id="h-learned">What cleardue learned</h2>',
        _sendtime_part(figures.sendtime, chart.get("sendtime")),
        _model_part(figures.model, chart.get("calibration")),
        "</section>",
        '<section aria-labelledby="h-compliance"><h2 id="h-compliance">Compliance</h2>',
        verdict,
        _table("Violations by rule", ("rule", "contacts"), figures.violations_by_rule.items(), "violations")
        if figures.violations_by_rule
        else "",
        "</section>",
        '<section aria-labelledby="h-files"><h2 id="h-files">Files</h2><ul>',
        "".join(f"<li>{_e(name)}</li>" for name in sorted(files)),
        "</ul></section></main></body></html>",
    ]
    return "\n".join(part for part in parts if part)


def render(figures: LenderFigures) -> dict[str, bytes]:
    """Every file of the report by name: report.html, the CSVs and summary.json."""
    files = csv_files(figures)
    names = ["report.html", *files, "summary.json"]
    files["report.html"] = html_page(figures, charts(figures), names).encode("utf-8")
    files["summary.json"] = json.dumps(summary(figures, names), indent=2).encode("utf-8")
    return files


def _counted(number: int, noun: str) -> str:
    """'1 reward', '2,000 rewards'."""
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"
