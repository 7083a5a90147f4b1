"""Given the compact pay link texts carry now and the v1 links already in debtors' hands, when either reaches the
portal API, then both open the identity check and one-click unsubscribe, and a tampered one of either is refused."""

from datetime import timedelta

from functions.core import links
from functions.core.account import Block, Channel
from functions.store import accounts
from tests.conftest import LINK_KEY

from .conftest import BIRTH, NOW, placed


def test_a_compact_and_a_v1_link_both_open_the_check_and_a_session(portal) -> None:
    ref = portal.account.link_ref
    assert ref
    compact = links.sign(ref, NOW - timedelta(days=1), LINK_KEY)
    legacy = links.sign_v1(ref, NOW - timedelta(days=1), LINK_KEY)
    assert len(compact) < 50 and legacy.startswith("v1.")

    for token in (compact, legacy):
        opened = portal.client.post("/link", {"token": token})
        session = portal.client.post("/session", {"token": token, "date_of_birth": BIRTH})
        assert (opened.status, session.status) == (200, 200), token
        assert opened.body["identity_check"] == "date_of_birth"


def test_a_tampered_compact_link_is_refused_like_a_tampered_v1_link(portal) -> None:
    ref = portal.account.link_ref
    assert ref
    compact = links.sign(ref, NOW - timedelta(days=1), LINK_KEY)
    later = links.sign(ref, NOW + timedelta(days=400), LINK_KEY)
    extended = compact[:-26] + later[-26:-22] + compact[-22:]  # a later expiry under the old signature

    for token in (extended, compact[:-1] + ("A" if compact[-1] != "A" else "B"), compact.upper()):
        reply = portal.client.post("/link", {"token": token})
        assert (reply.status, reply.body["code"]) == (400, "link_invalid"), token


def test_an_expired_v1_link_still_unsubscribes(portal) -> None:
    other = placed(f"V-{portal.account.external_ref}")
    assert other.link_ref
    expired = links.sign_v1(other.link_ref, NOW - timedelta(days=60), LINK_KEY)

    reply = portal.client.post("/unsubscribe", query=f"t={expired}&c=email", auth=False)

    assert reply.status == 200
    stored = accounts.get(other.account_id)
    assert stored is not None and stored.blocked_channels == {Channel.EMAIL: Block.OPTED_OUT}


def test_a_visit_by_a_texts_link_counts_as_that_texts_click(portal) -> None:
    # Given the account's texts and emails have been delivered,
    from functions.store import webhooks as engagement_store

    ref = portal.account.link_ref
    assert ref
    account_id = portal.account.account_id
    engagement_store.add_engagement(account_id, {"sms:delivered": 2, "email:delivered": 2}, None)
    by_email = links.sign(ref, NOW - timedelta(days=1), LINK_KEY)
    by_text = links.sign(ref, NOW - timedelta(days=1), LINK_KEY, channel="sms")
    assert by_text[0] == "3" and len(by_text) == len(by_email)
    # when the debtor opens the email's link and passes the check, only the visit counts (SES counts its click);
    assert portal.client.post("/session", {"token": by_email, "date_of_birth": BIRTH}).status == 200
    counts = engagement_store.engagement_counts(account_id)
    assert counts.get("any:portal_visit") == 1 and "sms:clicked" not in counts and "email:clicked" not in counts
    # and when they come by the text's link, the visit is also the text's click, and texts are answered.
    assert portal.client.post("/session", {"token": by_text, "date_of_birth": BIRTH}).status == 200
    counts = engagement_store.engagement_counts(account_id)
    assert (counts.get("any:portal_visit"), counts.get("sms:clicked"), counts.get("sms:answered")) == (2, 1, 2)
