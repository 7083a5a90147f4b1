"""A deployment's configuration, read from CDK context (`cdk deploy -c stage=prod -c senderEmail=...`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from constructs import Construct

DEFAULT_STAGE = "dev"
DEFAULT_SENDER_EMAIL = "reminders@example.com"
_STAGE_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
_SENDER_ID_PATTERN = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9]{1,11}$")  # SNS: 1-11 alphanumerics, a letter at least


@dataclass(frozen=True)
class StageConfig:
    """Every value a deployment may change; the defaults deploy a working stack with no context at all."""

    stage: str = DEFAULT_STAGE
    sender_email: str = DEFAULT_SENDER_EMAIL  # a verified SES identity (the address or its domain)
    sms_sender_id: str = ""  # AWS.SNS.SMS.SenderID default, where the destination country supports one
    portal_domain: str | None = None  # e.g. pay.example.com; needs portal_certificate_arn (us-east-1)
    portal_certificate_arn: str | None = None
    alarm_email: str | None = None  # subscribed to the alarm topic (confirm the e-mail AWS sends)
    # Lambda's active tracing records every invocation; the X-Ray SDK's subsegments per AWS call cost about
    # 110 ms of each cold start (importing and patching), so they are opt-in: -c xraySdk=true.
    xray_sdk: bool = False

    def __post_init__(self) -> None:
        if not _STAGE_PATTERN.match(self.stage):
            raise ValueError(f"stage {self.stage!r}: lower-case letters, digits and '-', at most 20, a letter first")
        if "@" not in self.sender_email:
            raise ValueError(f"senderEmail {self.sender_email!r} is not an e-mail address")
        if self.sms_sender_id and not _SENDER_ID_PATTERN.match(self.sms_sender_id):
            raise ValueError(f"smsSenderId {self.sms_sender_id!r}: 1 to 11 letters or digits, a letter at least")
        if bool(self.portal_domain) != bool(self.portal_certificate_arn):
            raise ValueError("portalDomain and portalCertificateArn go together (an ACM certificate in us-east-1)")

    @property
    def stack_name(self) -> str:
        return f"cleardue-{self.stage}"

    @classmethod
    def from_context(cls, scope: Construct) -> StageConfig:
        def value(key: str) -> str | None:
            found = scope.node.try_get_context(key)
            return str(found) if found not in (None, "") else None

        return cls(
            stage=value("stage") or DEFAULT_STAGE,
            sender_email=value("senderEmail") or DEFAULT_SENDER_EMAIL,
            sms_sender_id=value("smsSenderId") or "",
            portal_domain=value("portalDomain"),
            portal_certificate_arn=value("portalCertificateArn"),
            alarm_email=value("alarmEmail"),
            xray_sdk=(value("xraySdk") or "false").lower() in ("true", "1", "yes"),
        )
