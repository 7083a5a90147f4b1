"""SNS deliveries to the events handler: SES event publishing (documented payloads) and SMS replies."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends

from functions.core.account import Block, Channel
from functions.core.audit import EventType
from functions.core.engagement import EngagementProfile, account_tag
from functions.store import accounts, events, learning
from functions.store import webhooks as webhooks_store
from functions.webhooks.feedback import reply_intent
from functions.webhooks.handler import events_handler
from local.lambda_events import LocalLambdaContext
from tests.events.factories import make_account, place
from tests.integration.webhooks.helpers import fixture, sns_event

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
ACCOUNT = make_account("A-2002")
EMAIL = str(ACCOUNT.debtor.email)
PHONE = str(ACCOUNT.debtor.phone)


def ses(name: str, *, tagged: bool = True, **section: Any) -> dict[str, Any]:
    """A documented SES event-publishing payload, addressed to our debtor (and tagged by the sender)."""
    message = copy.deepcopy(fixture(name))
    mail = message["mail"]
    mail["destination"] = [EMAIL]
    mail["commonHeaders"]["to"] = [EMAIL]
    if tagged:
        mail["tags"]["account"] = [account_tag(ACCOUNT.account_id)]
    kind = message["eventType"].lower()
    for recipients in ("bouncedRecipients", "complainedRecipients"):
        if recipients in message.get(kind, {}):
            message[kind][recipients] = [{"emailAddress": EMAIL}]
    message[kind].update(section, timestamp="2026-03-10T15:00:00.000Z")
    return message


def run(*messages: tuple[str, Any], at: datetime = NOW) -> dict[str, Any]:
    return events_handler(sns_event(list(messages), at), LocalLambdaContext("cleardue-webhooks-events"))


def sms(body: str, inbound_id: str) -> dict[str, Any]:
    return {
        "originationNumber": PHONE,
        "destinationNumber": "+12125550101",
        "messageKeyword": "KEYWORD_123456789012",
        "messageBody": body,
        "inboundMessageId": inbound_id,
        "previousPublishedMessageId": "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY",
    }


def sms_event(status: str, message_id: str) -> dict[str, Any]:
    """An SMS delivery event for a text to PHONE (`TEXT_<status>`), as End User Messaging publishes it."""
    return {
        "eventType": f"TEXT_{status}",
        "eventVersion": "1.0",
        "eventTimestamp": 1773154800000,
        "isFinal": True,
        "destinationPhoneNumber": PHONE,
        "messageId": message_id,
        "messageStatus": status,
    }


def trail_types() -> list[EventType]:
    return [e.type for e in events.history(ACCOUNT.account_id)]


def test_a_permanent_bounce_blocks_email(hooks: dict[str, Any]) -> None:
    place(ACCOUNT, NOW)
    result = run(("m-1", ses("ses_eventpub_bounce.json")))
    assert result["outcomes"][0]["kind"] == "ses:Bounce"
    assert accounts.get(ACCOUNT.account_id).blocked_channels == {Channel.EMAIL: Block.BOUNCED}
    assert trail_types() == [EventType.EMAIL_BOUNCED]


def test_a_transient_bounce_blocks_nothing_but_is_audited(hooks: dict[str, Any]) -> None:
    place(ACCOUNT, NOW)
    run(("m-2", ses("ses_eventpub_bounce.json", bounceType="Transient", bounceSubType="MailboxFull")))
    assert accounts.get(ACCOUNT.account_id).blocked_channels == {}
    bounced = events.history(ACCOUNT.account_id)[0]
    assert bounced.detail["bounce_type"] == "Transient" and bounced.detail["blocked"] is False


def test_a_complaint_is_an_email_opt_out(hooks: dict[str, Any]) -> None:
    place(ACCOUNT, NOW)
    run(("m-3", ses("ses_eventpub_complaint.json")))
    assert accounts.get(ACCOUNT.account_id).blocked_channels == {Channel.EMAIL: Block.COMPLAINED}
    assert trail_types() == [EventType.EMAIL_COMPLAINED]


def sent(channel: Channel, job: str) -> None:
    """The sender claimed a job for ACCOUNT on `channel`: the contact and the delivered count (as in AWS)."""
    read = accounts.get(ACCOUNT.account_id)
    update = accounts.contact_claim(read, NOW - timedelta(minutes=5), job, channel)
    claim = events.Claim(ACCOUNT.account_id, f"job:{job}", f"m-{job}", 1, {"outcome": "sent"}, update=update)
    assert events.claim([claim]) == {f"job:{job}": events.CLAIMED}


def test_what_was_sent_then_opened_and_clicked_feeds_the_engagement_profile_once_each(hooks: dict[str, Any]) -> None:
    place(ACCOUNT, NOW)
    sent(Channel.EMAIL, "1")
    opened, clicked = ses("ses_eventpub_open.json"), ses("ses_eventpub_click.json")
    run(("o-1", opened), ("c-1", clicked))
    run(("o-1", opened))  # SNS delivers a message again: counted once
    counts = webhooks_store.engagement_counts(ACCOUNT.account_id)
    # Tue 10:00 CDT; the open marks the email channel answered up to the one email sent (core.channels)
    assert counts == {"email:delivered": 1, "email:opened": 1, "email:clicked": 1, "how:34": 2, "email:answered": 1}
    assert learning.prior_counts(ACCOUNT.lender_id) == {"mid#0#email": {34: 2}}  # the segment's send-time prior
    profile = EngagementProfile.from_counts(counts)
    assert profile.responsiveness(Channel.EMAIL) == 1.0 and profile.best_hours(1) == (34,)
    # The decision engine reads the same counters with the account (scheduler and sender reads).
    assert accounts.get(ACCOUNT.account_id).engagement == counts
    assert trail_types() == []  # engagement is not an audit fact


def test_delivery_receipts_change_nothing_and_leave_no_record(hooks: dict[str, Any]) -> None:
    """The stack asks for no receipts (the sender counts what it hands over); one that arrives anyway (an event
    destination set up by hand) is acknowledged without a write, while an open is recorded once."""
    place(ACCOUNT, NOW)
    sent(Channel.EMAIL, "1")
    sent(Channel.SMS, "2")
    table = hooks["settings"].idempotency_table

    def records() -> int:  # the events handler's idempotency records (the senders' claims share the table)
        items = boto3.client("dynamodb").scan(TableName=table)["Items"]
        return sum(not item["id"]["S"].startswith("claim#") for item in items)

    result = run(("d-1", ses("ses_eventpub_delivery.json")), ("t-1", sms_event("DELIVERED", "sms-1")))
    assert [o["kind"] for o in result["outcomes"]] == ["ses:Delivery", "sms_event:TEXT_DELIVERED"]
    assert records() == 0
    run(("o-1", ses("ses_eventpub_open.json")))
    run(("o-1", ses("ses_eventpub_open.json")))
    assert records() == 1  # the open's
    counts = webhooks_store.engagement_counts(ACCOUNT.account_id)
    assert (counts["email:delivered"], counts["sms:delivered"], counts["email:opened"]) == (1, 1, 1)


def test_an_identity_notification_without_tags_finds_the_account_by_address(hooks: dict[str, Any]) -> None:
    place(ACCOUNT, NOW)
    notification = copy.deepcopy(fixture("ses_sns_notification_bounce_no_dsn.json"))
    notification["mail"]["destination"] = [EMAIL]
    notification["bounce"]["bouncedRecipients"] = [{"emailAddress": EMAIL}]
    run(("n-1", notification))
    assert accounts.get(ACCOUNT.account_id).blocked_channels == {Channel.EMAIL: Block.BOUNCED}


def test_an_event_for_an_unknown_address_changes_nothing(hooks: dict[str, Any]) -> None:
    place(ACCOUNT, NOW)
    stranger = ses("ses_eventpub_bounce.json", tagged=False)
    stranger["mail"]["destination"] = ["someone.else@example.com"]
    result = run(("m-9", stranger), ("junk", "not json"))
    assert [o["kind"] for o in result["outcomes"]] == ["ses:Bounce", "not_json"]
    assert accounts.get(ACCOUNT.account_id).blocked_channels == {}


def test_stop_in_any_case_revokes_sms_consent_at_once_and_start_restores_it(hooks: dict[str, Any]) -> None:
    place(ACCOUNT, NOW)
    run(("s-1", sms("Opt out", "in-1")))
    assert accounts.get(ACCOUNT.account_id).blocked_channels == {Channel.SMS: Block.OPTED_OUT}
    run(("s-2", sms("start", "in-2")), at=NOW + timedelta(days=1))
    assert accounts.get(ACCOUNT.account_id).blocked_channels == {}
    assert trail_types() == [EventType.CONSENT_REVOKED, EventType.CONSENT_RESTORED]
    revoked = events.history(ACCOUNT.account_id)[0]
    assert revoked.detail == {"channel": "sms", "keyword": "OPT OUT"} and revoked.at == NOW


def test_the_consent_ledger_records_the_keyword_never_the_rest_of_the_reply(hooks: dict[str, Any]) -> None:
    place(ACCOUNT, NOW)

    run(("s-1", sms("STOP texting me, this is Dana Reyes at 312 555 0147", "in-1")))

    [revoked] = events.history(ACCOUNT.account_id)
    assert revoked.type is EventType.CONSENT_REVOKED and revoked.detail == {"channel": "sms", "keyword": "STOP"}


def test_the_revocation_words(hooks: dict[str, Any]) -> None:
    for word in ("STOP", "stop", "Quit", "end", "REVOKE", "opt out", "Cancel", "UNSUBSCRIBE", "stop.", "STOP texting"):
        assert reply_intent(word) == "stop", word
    for other in ("Stopped by your office", "weekend", "thanks", "START", "help"):
        assert reply_intent(other) != "stop", other


def test_help_answers_with_the_lenders_contact(hooks: dict[str, Any]) -> None:
    place(ACCOUNT, NOW)
    run(("h-1", sms("HELP", "in-3")))
    sent = list(sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages.values())
    assert len(sent) == 1 and sent[0][0] == PHONE
    assert "Acme" in sent[0][1] and "STOP" in sent[0][1]
    assert trail_types() == [EventType.SMS_HELP_ANSWERED]
    assert accounts.get(ACCOUNT.account_id).blocked_channels == {}


def test_an_invalid_number_event_blocks_sms_and_is_audited(hooks: dict[str, Any]) -> None:
    place(ACCOUNT, NOW)
    result = run(("t-2", sms_event("INVALID", "sms-2")), ("t-3", sms_event("PENDING", "sms-3")))
    assert [o["kind"] for o in result["outcomes"]] == ["sms_event:TEXT_INVALID", "sms_event:TEXT_PENDING"]
    assert accounts.get(ACCOUNT.account_id).blocked_channels == {Channel.SMS: Block.INVALID}
    assert trail_types() == [EventType.SMS_UNDELIVERABLE]
