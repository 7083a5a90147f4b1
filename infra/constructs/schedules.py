"""The EventBridge schedules that drive the functions."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

SCHEDULER_RATE = Duration.minutes(15)
# The lender reports: once a day at 02:00 UTC (the report describes the moment of the run; docs/reports.md).
REPORTS_SCHEDULE = events.Schedule.cron(minute="0", hour="2")
REPORTS_MAX_EVENT_AGE = Duration.hours(6)


class SchedulesConstruct(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        scheduler: lambda_.IFunction,
        failures: sqs.IQueue,
        reports: lambda_.IFunction | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.scheduler_rule = self._build_scheduler_rule(scheduler, failures)
        self.reports_rule = self._build_reports_rule(reports, failures) if reports else None

    def _build_scheduler_rule(self, scheduler: lambda_.IFunction, failures: sqs.IQueue) -> events.Rule:
        return events.Rule(
            self,
            "SchedulerTick",
            description="Plans and enqueues the contacts that are due",
            schedule=events.Schedule.rate(SCHEDULER_RATE),
            targets=[
                targets.LambdaFunction(
                    scheduler, max_event_age=SCHEDULER_RATE, retry_attempts=2, dead_letter_queue=failures
                )
            ],
        )

    def _build_reports_rule(self, reports: lambda_.IFunction, failures: sqs.IQueue) -> events.Rule:
        return events.Rule(
            self,
            "DailyReports",
            description="Writes each lender's daily report (HTML with charts + CSV) under reports/<lender>/<date>/",
            schedule=REPORTS_SCHEDULE,
            targets=[
                targets.LambdaFunction(
                    reports, max_event_age=REPORTS_MAX_EVENT_AGE, retry_attempts=2, dead_letter_queue=failures
                )
            ],
        )
