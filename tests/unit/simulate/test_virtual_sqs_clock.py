"""moto's SQS on the simulation's virtual clock: a back-off, a delay and a failed batch's visibility end when the
virtual clock passes them, not after that many seconds of the run; the runner's clock finds when they end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sqs.models import sqs_backends

from local.simulate.runner import next_visible, virtual_sqs_clock

START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def test_a_back_off_ends_on_the_virtual_clock_and_the_runner_knows_when() -> None:
    now = [START]
    with mock_aws(), virtual_sqs_clock(lambda: now[0]):
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "2"})["QueueUrl"]
        queue = sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_queue("jobs")
        sqs.send_message(QueueUrl=url, MessageBody="retried")
        sqs.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=600)

        # Given a job received and backed off for 30 s (as the sender does), and one sent with a 10-minute delay
        (message,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        assert message["Body"] == "retried"
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=30)

        # Then neither is delivered while the virtual clock stands still, however long the run takes
        assert sqs.receive_message(QueueUrl=url).get("Messages") is None
        # and the runner's clock knows the back-off ends first, 30 virtual seconds on
        assert next_visible(iter([queue]), now[0]) == START + timedelta(seconds=30)

        # When the virtual clock passes it, the job is delivered again (a second receive)
        now[0] = START + timedelta(seconds=31)
        (again,) = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"]
        assert (again["Body"], again["Attributes"]["ApproximateReceiveCount"]) == ("retried", "2")
        sqs.delete_message(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"])
        # and the delayed one when its 10 minutes have passed on the virtual clock
        assert next_visible(iter([queue]), now[0]) == START + timedelta(seconds=600)
        now[0] = START + timedelta(minutes=10, seconds=1)
        (delayed,) = sqs.receive_message(QueueUrl=url)["Messages"]
        assert delayed["Body"] == "delayed"

    # and afterwards moto's SQS is on the real clock again
    from moto.sqs import models

    assert abs(models.unix_time() - datetime.now(UTC).timestamp()) < 60
