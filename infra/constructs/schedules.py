"""The EventBridge schedules that drive the functions."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

SCHEDULER_RATE = Duration.minutes(15)


class SchedulesConstruct(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, scheduler: lambda_.IFunction, failures: sqs.IQueue
    ) -> None:
        super().__init__(scope, construct_id)
        self.scheduler_rule = self._build_scheduler_rule(scheduler, failures)

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
