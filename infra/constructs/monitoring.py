"""Alarms (dead letters, function errors and throttles, webhook signature failures) to one SNS topic, and a
dashboard of the collection KPIs the functions emit as EMF metrics (namespace cleardue, `service` dimension)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from functions import names
from infra.config import StageConfig
from infra.constructs.functions import METRICS_NAMESPACE

PERIOD = Duration.minutes(5)
KPI_PERIOD = Duration.minutes(15)  # one scheduler tick
SIGNATURE_FAILURES_THRESHOLD = 5  # in 5 minutes: a wrong webhook secret or someone forging Stripe events

# (title, service, metric names): the funnel from due to sent, as the functions emit it.
KPI_GRAPHS = (
    (
        "Scheduler: due, enqueued, held, timed",
        "scheduler",
        ("AccountsDue", "JobsEnqueued", "ContactsHeld", "ContactsTimed", "EnqueueFailures", "AccountsLeftForNextRun"),
    ),
    (
        "Senders: sent, suppressed at send time, undeliverable",
        "sender",
        ("RemindersSent", "RemindersSuppressed", "RemindersUndeliverable"),
    ),
    ("Payments applied", "webhooks", (names.METRIC_PAYMENTS_APPLIED,)),
    ("Installment charges queued", "scheduler", ("ChargesEnqueued", "ChargeEnqueueFailures")),
    ("Ingestion: rows", "ingest", ("RowsAccepted", "RowsRejected")),
    ("Ingestion: uploads", "ingest", ("UploadsCompleted", "UploadsFailed")),
)
# Metrics with a dimension of their own (reason, currency): every series the functions emit, found by search.
KPI_SEARCHES = (
    ("Held by reason (compliance rule)", "ContactsHeldByRule"),
    ("Jobs enqueued by channel", "JobsEnqueuedByChannel"),
    ("Amount collected (minor units, by currency)", names.METRIC_AMOUNT_COLLECTED),
    ("Installment charges (by outcome)", names.METRIC_INSTALLMENT_CHARGES),
)


def kpi_metric(service: str, metric_name: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=metric_name,
        dimensions_map={"service": service},
        statistic="Sum",
        period=KPI_PERIOD,
    )


class MonitoringConstruct(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        key: kms.IKey,
        functions: dict[str, lambda_.Function],
        dead_letter_queues: dict[str, sqs.Queue],
    ) -> None:
        super().__init__(scope, construct_id)
        self.alarm_topic = self._build_alarm_topic(config, key)
        self.alarms: list[cloudwatch.Alarm] = []
        for name, queue in dead_letter_queues.items():
            self._dead_letter_alarm(name, queue)
        for name, function in functions.items():
            self._function_alarms(name, function)
        self._signature_failure_alarm()
        self.dashboard = self._build_dashboard(config, functions, dead_letter_queues)

    def _build_alarm_topic(self, config: StageConfig, key: kms.IKey) -> sns.Topic:
        topic = sns.Topic(
            self, "Alarms", display_name=f"cleardue {config.stage} alarms", master_key=key, enforce_ssl=True
        )
        # CloudWatch publishes alarm notifications to the encrypted topic.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],  # in a key policy "*" means this key
                conditions={"StringEquals": {"aws:SourceAccount": topic.stack.account}},
            )
        )
        if config.alarm_email:
            topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        return topic

    def _alarm(self, construct_id: str, metric: cloudwatch.IMetric, threshold: float, description: str) -> None:
        alarm = metric.create_alarm(
            self,
            construct_id,
            alarm_description=description,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(actions.SnsAction(self.alarm_topic))
        alarm.add_ok_action(actions.SnsAction(self.alarm_topic))
        self.alarms.append(alarm)

    def _dead_letter_alarm(self, name: str, queue: sqs.IQueue) -> None:
        self._alarm(
            f"{name}DeadLetters",
            queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
            1,
            f"{name}: messages in the dead-letter queue (work that failed {names.MAX_RECEIVE_COUNT} times or an "
            "invocation Lambda gave up on). Inspect, fix, redrive: docs/deploy.md.",
        )

    def _function_alarms(self, name: str, function: lambda_.IFunction) -> None:
        self._alarm(f"{name}Errors", function.metric_errors(period=PERIOD), 1, f"{name}: invocations failed")
        self._alarm(f"{name}Throttles", function.metric_throttles(period=PERIOD), 1, f"{name}: invocations throttled")

    def _signature_failure_alarm(self) -> None:
        metric = cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=names.METRIC_WEBHOOK_SIGNATURE_FAILURES,
            dimensions_map={"service": "webhooks"},
            statistic="Sum",
            period=PERIOD,
        )
        self._alarm(
            "WebhookSignatureFailures",
            metric,
            SIGNATURE_FAILURES_THRESHOLD,
            "Stripe webhook calls whose signature did not verify: the webhook secret is wrong or someone is forging "
            "events.",
        )

    def _build_dashboard(
        self, config: StageConfig, functions: dict[str, lambda_.Function], dead_letter_queues: dict[str, sqs.Queue]
    ) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"cleardue-{config.stage}")
        kpis: list[cloudwatch.IWidget] = [
            _graph(title, [kpi_metric(service, metric) for metric in metrics]) for title, service, metrics in KPI_GRAPHS
        ]
        kpis += [
            _graph(
                title,
                [
                    cloudwatch.MathExpression(
                        expression=f"SEARCH('Namespace=\"{METRICS_NAMESPACE}\" MetricName=\"{metric}\"', 'Sum', "
                        f"{int(KPI_PERIOD.to_seconds())})",
                        label="",
                        period=KPI_PERIOD,
                    )
                ],
            )
            for title, metric in KPI_SEARCHES
        ]
        dashboard.add_widgets(*kpis)
        dashboard.add_widgets(
            _graph(
                "Dead letters",
                [
                    queue.metric_approximate_number_of_messages_visible(label=name, period=PERIOD, statistic="Maximum")
                    for name, queue in dead_letter_queues.items()
                ],
            ),
            _graph(
                "Function errors",
                [function.metric_errors(label=name, period=PERIOD) for name, function in functions.items()],
            ),
            _graph(
                "Function duration p95",
                [
                    function.metric_duration(label=name, period=PERIOD, statistic="p95")
                    for name, function in functions.items()
                ],
            ),
        )
        return dashboard


def _graph(title: str, metrics: Sequence[cloudwatch.IMetric]) -> cloudwatch.GraphWidget:
    """A graph a third of the dashboard wide."""
    return cloudwatch.GraphWidget(title=title, left=metrics, width=8, height=6)
