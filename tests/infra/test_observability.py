"""Alarms on everything that needs a person, and the KPI dashboard built from the metrics the functions emit."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from functions import names
from functions.observability import METRICS_NAMESPACE
from infra.constructs.functions import METRICS_NAMESPACE as INFRA_METRICS_NAMESPACE
from infra.constructs.monitoring import KPI_GRAPHS, KPI_SEARCHES
from tests.infra.helpers import OUR_HANDLERS, function_ids, ref, resources

pytestmark = pytest.mark.infra

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"


def _alarms(template):
    return resources(template, "AWS::CloudWatch::Alarm").values()


def test_every_alarm_notifies_the_alarm_topic(template):
    topic = {"Ref": ref(template, names.OUTPUT_ALARM_TOPIC)}

    assert _alarms(template)
    for alarm in _alarms(template):
        assert alarm["AlarmActions"] == [topic]
        assert alarm["OKActions"] == [topic]
        assert alarm["TreatMissingData"] == "notBreaching"


def test_every_dead_letter_queue_is_alarmed(template):
    queues = resources(template, "AWS::SQS::Queue")
    dead_letter_targets = {
        q["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0] for q in queues.values() if "RedrivePolicy" in q
    }
    function_dlqs = {
        f["DeadLetterConfig"]["TargetArn"]["Fn::GetAtt"][0]
        for f in resources(template, "AWS::Lambda::Function").values()
        if "DeadLetterConfig" in f
    }
    alarmed = {
        dimension["Value"]["Fn::GetAtt"][0]
        for alarm in _alarms(template)
        if alarm.get("MetricName") == "ApproximateNumberOfMessagesVisible"
        for dimension in alarm["Dimensions"]
    }

    assert len(dead_letter_targets) == 4 and len(function_dlqs) == 1  # email, SMS, ingest chunks, charges
    assert alarmed == dead_letter_targets | function_dlqs
    for alarm in _alarms(template):
        if alarm.get("MetricName") == "ApproximateNumberOfMessagesVisible":
            assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_is_alarmed_on_errors_and_throttles(template, metric):
    alarmed = {
        alarm["Dimensions"][0]["Value"]["Ref"]
        for alarm in _alarms(template)
        if alarm.get("Namespace") == "AWS/Lambda" and alarm["MetricName"] == metric
    }

    assert alarmed == set(function_ids(template).values())
    assert len(OUR_HANDLERS) == len(alarmed)


def test_webhook_signature_failures_are_alarmed(template):
    (alarm,) = [a for a in _alarms(template) if a.get("MetricName") == names.METRIC_WEBHOOK_SIGNATURE_FAILURES]

    assert alarm["Namespace"] == METRICS_NAMESPACE
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "webhooks"}]
    assert alarm["Statistic"] == "Sum"


def test_infra_and_functions_agree_on_the_metrics_namespace():
    assert INFRA_METRICS_NAMESPACE == METRICS_NAMESPACE


def test_the_dashboard_shows_the_collection_kpis(template):
    (dashboard,) = resources(template, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["DashboardBody"])
    kpis = {metric for _, _, metrics in KPI_GRAPHS for metric in metrics} | {metric for _, metric in KPI_SEARCHES}

    for metric in kpis:
        assert metric in body
    # due, enqueued, held, sent, suppressed, payments, amounts
    assert {"AccountsDue", "JobsEnqueued", "ContactsHeldByRule", "RemindersSent", "RemindersSuppressed"} <= kpis
    assert {names.METRIC_PAYMENTS_APPLIED, names.METRIC_AMOUNT_COLLECTED} <= kpis
    assert {"ChargesEnqueued", names.METRIC_INSTALLMENT_CHARGES} <= kpis  # plan installments charged off-session


def test_every_kpi_on_the_dashboard_is_a_metric_the_code_emits():
    emitted = {value for key, value in vars(names).items() if key.startswith("METRIC_")}
    for source in FUNCTIONS_DIR.rglob("*.py"):
        emitted |= set(re.findall(r'"([A-Z][A-Za-z]+)"', source.read_text()))
    shown = {metric for _, _, metrics in KPI_GRAPHS for metric in metrics} | {metric for _, metric in KPI_SEARCHES}

    assert shown <= emitted, shown - emitted
