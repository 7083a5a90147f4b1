"""The debtor's pay page in headless Chromium against the local stack.

moto server, the Stripe emulator and the gateway (static_portal/ + the real portal API handler behind
/api) run in this process; the browser opens a genuine signed pay link, verifies, reads the breakdown,
pays on the emulator's checkout page and comes back. Every step is screenshotted to .local/artifacts/
and checked with axe-core: no serious or critical violation. The page's strict CSP must hold throughout
(a violation is a console error the `page` fixture records).
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from playwright.sync_api import expect

from functions import names
from functions.core.account import AccountStatus
from functions.scheduler.handler import lambda_handler as scheduler
from functions.store import accounts
from local.gateway import STRIPE_TEST_KEY, Gateway, http_api_event
from local.lambda_events import LocalLambdaContext
from tests.e2e.conftest import BIRTH, NOW, PayStack
from tests.events.factories import scheduled_event

pytestmark = pytest.mark.e2e

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
VISIBLE = "section:not([hidden]) h1"
BACK_TO_BALANCE = "#done-choices button:has-text('Back to my balance')"


class Steps:
    """Screenshots and an axe-core audit of each step, numbered in order."""

    def __init__(self, page: Any, axe: str, folder: Path, flow: str) -> None:
        self.page, self.axe, self.folder, self.flow, self.count = page, axe, folder, flow, 0

    def check(self, name: str) -> None:
        self.count += 1
        stem = self.folder / f"{self.flow}-{self.count:02d}-{name}"
        self.page.screenshot(path=f"{stem}.png", full_page=True)
        # WCAG 1.4.10 reflow: nothing wider than the 320 px viewport
        assert self.page.evaluate("document.documentElement.scrollWidth") <= 320, f"{name}: scrolls sideways"
        if not self.page.evaluate("() => typeof window.axe === 'object'"):
            self.page.evaluate(self.axe)  # through the DevTools protocol: the page's CSP does not apply
        violations = self.page.evaluate(
            """async (tags) => (await axe.run(document, {runOnly: {type: "tag", values: tags}})).violations
                .map((v) => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.html)}))""",
            AXE_TAGS,
        )
        Path(f"{stem}.axe.json").write_text(json.dumps(violations, indent=2))
        serious = [v for v in violations if v["impact"] in ("serious", "critical")]
        assert serious == [], f"{name}: {serious}"


Flow = Callable[[str], Steps]


@pytest.fixture
def flow(page: Any, axe_source: str, artifacts: Path) -> Iterator[Flow]:
    """`flow(name)`: the Steps of this test's tab, their files named after `name`. The tab must end the test with
    no problem recorded (a page error, a CSP violation, a 5xx answer)."""
    yield partial(Steps, page, axe_source, artifacts)
    assert page.problems == []  # type: ignore[attr-defined]


def heading(page: Any) -> str:
    return str(page.locator(VISIBLE).inner_text())


def wait_for_step(page: Any, step: str) -> None:
    page.locator(f"#step-{step}").wait_for(state="visible")


def click_to(page: Any, selector: str, step: str) -> None:
    """Click `selector` and wait until the page shows `step`."""
    page.click(selector)
    wait_for_step(page, step)


def open_to(page: Any, url: str, step: str) -> None:
    """Open `url` and wait until the page shows `step`."""
    page.goto(url)
    wait_for_step(page, step)


def open_and_verify(page: Any, stack: PayStack, ref: str, steps: Steps) -> str:
    """Place account `ref`, open its pay link and verify as its debtor (a wrong answer first); its account id."""
    account_id, link = stack.seed(ref)
    open_to(page, link, "verify")
    assert "#t=" not in page.url, "the token leaves the address bar once read"
    # Before verification nothing about the debt shows: no creditor, no amount.
    body = page.locator("body").inner_text()
    assert "Acme" not in body and "$" not in body
    steps.check("verify")

    page.fill("#dob", "1990-01-01")
    page.click("#verify-form button[type=submit]")
    error = page.locator("#error")
    error.wait_for(state="visible")
    assert "didn't match" in error.inner_text() and "4 more" in error.inner_text()
    assert page.get_attribute("#dob", "aria-invalid") == "true"
    steps.check("verify-wrong-answer")

    # Keyboard only: the answer field has focus after the error; type the date and press Enter.
    assert page.evaluate("document.activeElement.id") == "dob"
    page.keyboard.type(BIRTH[5:7] + BIRTH[8:10] + BIRTH[:4])  # en-US date field: mm dd yyyy
    page.keyboard.press("Enter")
    wait_for_step(page, "account")
    return account_id


def pay_on_checkout(page: Any, stack: PayStack, card: str) -> None:
    page.wait_for_url(f"{stack.emulator.base_url}/c/pay/**")
    page.fill("#cardnumber", card)
    page.fill("#exp", "12/34")
    page.fill("#cvc", "123")
    page.fill("#name", "Dana Reyes")
    page.click("button[type=submit]")


def test_the_gateway_hands_the_api_real_http_api_events(tmp_path: Path) -> None:
    # Given a gateway whose API handler records what it receives
    received: list[dict[str, Any]] = []

    def api(event: dict[str, Any], context: Any) -> dict[str, Any]:
        received.append(event)
        if event["rawPath"] == "/crash":
            raise RuntimeError("secret detail")
        return {
            "statusCode": 201,
            "headers": {"content-type": "application/json", "x-request": event["requestContext"]["requestId"]},
            "cookies": ["a=1; Secure"],
            "body": base64.b64encode(b'{"ok": true}').decode(),
            "isBase64Encoded": True,
        }

    (tmp_path / "index.html").write_text("<!doctype html><title>x</title>")
    (tmp_path / "app.js").write_text("export {};")
    with Gateway(static_dir=tmp_path, api_handler=api, clock=lambda: NOW) as gateway:
        # When the browser calls the API with JSON, a query string, a cookie and a form post
        reply = requests.post(
            f"{gateway.url}/api/link?c=email&c=sms&q=a+b",
            json={"token": "t"},
            headers={"Cookie": "s=1; u=2", "Authorization": "Bearer abc"},
            timeout=10,
        )
        form = requests.post(f"{gateway.url}/api/unsubscribe", data={"List-Unsubscribe": "One-Click"}, timeout=10)
        page = requests.get(f"{gateway.url}/", timeout=10)
        config = requests.get(f"{gateway.url}/config.json", timeout=10)
        escape = requests.get(f"{gateway.url}/..%2f..%2fetc/passwd", timeout=10)
        webhook = requests.post(f"{gateway.url}/webhooks/stripe", data=b"{}", timeout=10)
        crash = requests.get(f"{gateway.url}/api/crash", timeout=10)
        module = requests.get(f"{gateway.url}/app.js", timeout=10)

    # Then the handler saw API Gateway's payload 2.0, on the virtual clock
    event = received[0]
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/link" and event["requestContext"]["http"]["path"] == "/link"
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["rawQueryString"] == "c=email&c=sms&q=a+b"
    assert event["queryStringParameters"] == {"c": "email,sms", "q": "a b"}
    assert event["headers"]["authorization"] == "Bearer abc" and "cookie" not in event["headers"]
    assert event["cookies"] == ["s=1", "u=2"]
    assert json.loads(event["body"]) == {"token": "t"} and event["isBase64Encoded"] is False
    assert event["requestContext"]["timeEpoch"] == int(NOW.timestamp() * 1000)
    # a form post arrives base64-encoded, as API Gateway sends it
    assert received[1]["isBase64Encoded"] is True
    assert base64.b64decode(received[1]["body"]) == b"List-Unsubscribe=One-Click"
    # and the handler's answer reached the browser as API Gateway maps it
    assert reply.status_code == 201 and reply.json() == {"ok": True}
    assert reply.headers["x-request"] == event["requestContext"]["requestId"]
    assert reply.headers["set-cookie"] == "a=1; Secure"
    assert form.status_code == 201
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]  # as CloudFront sends it
    assert config.json() == {"api": "/api"}
    assert escape.status_code == 404
    assert webhook.status_code == 404 and webhook.json()["code"] == "not_found"  # no webhooks handler given
    # a crashing handler is API Gateway's bare 500, nothing of the exception leaks
    assert crash.status_code == 500 and crash.json() == {"message": "Internal Server Error"}
    # ES modules need a JavaScript MIME type
    assert module.headers["content-type"].split(";")[0] in ("application/javascript", "text/javascript")


def test_a_page_opened_without_a_link_explains_in_english_and_spanish(
    pay_stack: PayStack, page: Any, flow: Flow
) -> None:
    steps = flow("no-link")
    open_to(page, pay_stack.url + "/", "no-link")
    assert heading(page) == "This link is incomplete"
    assert page.get_attribute("html", "lang") == "en"
    csp = page.get_attribute('meta[http-equiv="Content-Security-Policy"]', "content")
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp and "unsafe-inline" not in csp
    steps.check("english")

    page.select_option("#language-switch", "es")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    assert heading(page) == "Este enlace está incompleto"
    assert page.title().startswith("Este enlace está incompleto")
    steps.check("spanish")


def test_a_debtor_verifies_sees_the_breakdown_and_pays_in_full_with_4242(
    pay_stack: PayStack, page: Any, flow: Flow
) -> None:
    steps = flow("pay-4242")

    # When the debtor of a placed account opens its pay link and proves who they are
    account_id = open_and_verify(page, pay_stack, "E2E-PAY-4242", steps)

    # Then the breakdown is transparent: creditor, masked reference, each component, the total
    assert heading(page) == "Your balance"
    intro = page.locator("#account-intro").inner_text()
    assert "Acme Lending" in intro and "E2E-PAY-4242" not in intro
    breakdown = page.locator("#breakdown").inner_text()
    for label, amount in (("Principal", "$120.00"), ("Interest", "$8.50"), ("Fees", "$25.00"), ("Total", "$153.50")):
        assert re.search(rf"{label}\s+{re.escape(amount)}", breakdown), breakdown
    assert "Due date" in breakdown
    steps.check("breakdown")

    # When they pay in full on the checkout page with 4242
    page.click("#choices button:has-text('Pay $153.50 now')")
    page.wait_for_url(f"{pay_stack.emulator.base_url}/c/pay/**")
    session_id = page.url.rsplit("/", 1)[-1]
    assert "153.50" in page.locator("main").inner_text()
    steps.check("checkout")
    pay_on_checkout(page, pay_stack, "4242 4242 4242 4242")

    # Then they are back on the pay page with a confirmation
    page.wait_for_url(f"{pay_stack.url}/**")
    wait_for_step(page, "done")
    assert heading(page) == "Thank you, your payment went through"
    assert "checkout=" not in page.url  # a reload shows the balance, not the confirmation again
    steps.check("confirmation")

    # And Stripe (the emulator) holds a paid session for this account
    stripe_session = requests.get(
        f"{pay_stack.emulator.base_url}/v1/checkout/sessions/{session_id}",
        headers={"Authorization": f"Bearer {STRIPE_TEST_KEY}"},
        timeout=10,
    ).json()
    assert stripe_session["status"] == "complete" and stripe_session["payment_status"] == "paid"
    assert stripe_session["amount_total"] == 15_350
    assert stripe_session["metadata"]["account_id"] == account_id

    # And the signed checkout.session.completed reached the gateway's webhook route and was applied
    assert pay_stack.emulator.wait_for_webhooks(30)
    completed = [a for a in pay_stack.emulator.deliveries() if a["event_type"] == "checkout.session.completed"]
    assert completed and completed[-1]["url"] == f"{pay_stack.url}/webhooks/stripe"
    assert completed[-1]["delivered"] and completed[-1]["status"] == 200, completed
    paid = accounts.get(account_id)
    assert paid is not None and paid.status is AccountStatus.PAID and paid.balance.total.minor == 0
    assert [payment.amount.minor for payment in paid.payments] == [15_350]
    # and the debtor sees it
    click_to(page, BACK_TO_BALANCE, "account")
    assert page.locator("#account-current").inner_text() == "This account is paid. Thank you."
    assert re.search(r"Total\s+\$0\.00", page.locator("#breakdown").inner_text())
    assert page.locator("#choices button").all_inner_texts() == ["How we contact you"]
    steps.check("paid")

    # And the next scheduler passes queue no reminder for it (its only message is the receipt), while
    # an unpaid account placed alongside gets one
    unpaid_id, _ = pay_stack.seed("E2E-UNPAID")
    for days in (1, 4, 10):
        scheduler(scheduled_event(NOW + timedelta(days=days)), LocalLambdaContext("cleardue-scheduler"))
    queued = queued_templates()
    assert queued[account_id] == ["receipt"]
    assert "reminder" in queued[unpaid_id] or "validation_notice" in queued[unpaid_id], queued


def queued_templates() -> dict[str, list[str]]:
    """The templates of the jobs waiting in the email and SMS queues, by account."""
    sqs = boto3.client("sqs")
    found: dict[str, list[str]] = {}
    for env_name in (names.ENV_EMAIL_QUEUE_URL, names.ENV_SMS_QUEUE_URL):
        while messages := sqs.receive_message(
            QueueUrl=os.environ[env_name], MaxNumberOfMessages=10, VisibilityTimeout=30
        ).get("Messages", []):
            for job in (json.loads(message["Body"]) for message in messages):
                found.setdefault(job["account_id"], []).append(job["template"])
    return found


def test_a_declined_card_leads_back_to_helpful_next_steps(pay_stack: PayStack, page: Any, flow: Flow) -> None:
    # Given a verified debtor on the checkout page
    steps = flow("declined")
    open_and_verify(page, pay_stack, "E2E-DECLINED", steps)
    page.click("#choices button:has-text('Pay $153.50 now')")

    # When the card is declined
    pay_on_checkout(page, pay_stack, "4000 0000 0000 0002")
    page.locator("[role=alert]").wait_for(state="visible")
    assert "declined" in page.locator("[role=alert]").inner_text().lower()
    steps.check("checkout-declined")

    # and they go back to the pay page
    click_to(page, "a[href*='checkout=cancel']", "done")

    # Then they read that nothing was taken and what they can do next, kindly
    assert heading(page) == "Your payment wasn't completed"
    assert "No money was taken" in page.locator("#done-text").inner_text()
    choices = page.locator("#done-choices button").all_inner_texts()
    assert choices[:3] == ["Try again, or use another card", "Pay in installments", "Choose a date to pay"]
    steps.check("next-steps")

    # And "try again" offers the payment once more
    click_to(page, "#done-choices button:has-text('Try again')", "pay")
    assert page.is_checked("#pay-full")
    steps.check("try-again")


def test_http_api_event_encodes_binary_bodies() -> None:
    event = http_api_event("POST", "/x", "", [("Content-Type", "application/octet-stream")], b"\x00\xff", NOW)
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\x00\xff"


def test_a_plan_saves_the_card_in_checkout_and_confirms(pay_stack: PayStack, page: Any, flow: Flow) -> None:
    # Given a verified debtor who chooses installments
    steps = flow("plan")
    open_and_verify(page, pay_stack, "E2E-PLAN", steps)
    click_to(page, "#choices button:has-text('Pay in installments')", "plan")

    # When they pick 3 payments starting on the 20th
    page.select_option("#plan-count", "3")
    page.fill("#plan-start", "2026-03-20")
    assert page.locator("#plan-summary").inner_text() == "3 payments of about $51.17."
    steps.check("choose")
    page.click("#plan-form button[type=submit]")

    # and save the card on the checkout page (setup mode)
    page.wait_for_url(f"{pay_stack.emulator.base_url}/c/pay/**")
    steps.check("checkout-setup")
    pay_on_checkout(page, pay_stack, "4242424242424242")

    # Then the page confirms the plan, and the balance shows it
    wait_for_step(page, "done")
    assert heading(page) == "Thank you, your plan is set up"
    steps.check("confirmation")
    click_to(page, BACK_TO_BALANCE, "account")
    assert "You have a payment plan: 3 payments" in page.locator("#account-current").inner_text()


def test_promise_hardship_preferences_and_dispute_in_the_browser(pay_stack: PayStack, page: Any, flow: Flow) -> None:
    steps = flow("choices")
    open_and_verify(page, pay_stack, "E2E-CHOICES", steps)

    # A promise to pay on a date, chosen with the keyboard: focus starts on the step's heading, then
    # follows the choices in reading order
    focused = []
    for _ in range(4):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.textContent"))
    assert focused == ["Pay $153.50 now", "Pay part now", "Pay in installments", "Choose a date to pay"]
    page.keyboard.press("Enter")
    wait_for_step(page, "promise")
    assert page.evaluate("document.activeElement.id") == "h-promise"
    assert page.input_value("#promise-amount") == "153.50"
    page.fill("#promise-date", "2026-04-30")  # beyond the lender's 14 days: the page says which dates work
    page.click("#promise-form button[type=submit]")
    assert "Please choose a date between today and March 23, 2026" in page.locator("#error").inner_text()
    steps.check("promise-invalid-date")
    page.fill("#promise-date", "2026-03-20")
    click_to(page, "#promise-form button[type=submit]", "done")
    assert page.locator("#done-text").inner_text() == (
        "You plan to pay $153.50 on March 20, 2026. We won't send reminders before then."
    )
    steps.check("promise-saved")

    # Hardship: what they can afford
    click_to(page, BACK_TO_BALANCE, "account")
    assert "You plan to pay $153.50 on March 20, 2026" in page.locator("#account-current").inner_text()
    click_to(page, '#choices button:has-text("I can\'t pay right now")', "hardship")
    page.fill("#hardship-amount", "30")
    click_to(page, "#hardship-form button[type=submit]", "done")
    assert heading(page) in ("Here's a plan that fits", "We can offer you a settlement", "A person will help you")
    steps.check("hardship-outcome")

    # Preferences: Spanish, no texts
    click_to(page, BACK_TO_BALANCE, "account")
    click_to(page, "#choices button:has-text('How we contact you')", "preferences")
    page.select_option("#pref-language", "es")
    page.check("#opt-sms")
    click_to(page, "#preferences-form button[type=submit]", "done")
    assert heading(page) == "Sus preferencias están guardadas"
    assert page.get_attribute("html", "lang") == "es"
    steps.check("preferences-saved-es")

    # A dispute, in Spanish now
    click_to(page, "#done-choices button:has-text('Volver a mi saldo')", "account")
    assert (
        "Principal" in page.locator("#breakdown").inner_text() and "153,50" in page.locator("#breakdown").inner_text()
    )
    click_to(page, "#choices button:has-text('Algo no está bien')", "dispute")
    page.click("#dispute-form button[type=submit]")
    assert page.locator("#error").inner_text() == "Elija qué no está bien."
    page.check("#dr-wrong")
    page.fill("#dispute-details", "I paid $20 in January.")
    click_to(page, "#dispute-form button[type=submit]", "done")
    assert heading(page) == "Hemos recibido su reclamación"
    steps.check("dispute-received-es")


def test_expired_and_locked_links_say_what_to_do(pay_stack: PayStack, page: Any, flow: Flow) -> None:
    from functions.core import links

    steps = flow("link-problems")
    # An expired link
    account_id, _ = pay_stack.seed("E2E-EXPIRED")
    stored = accounts.get(account_id)
    assert stored is not None and stored.link_ref
    expired = links.sign(stored.link_ref, NOW - timedelta(days=40), pay_stack.link_key)
    open_to(page, links.pay_url(pay_stack.url, expired), "link-problem")
    assert "This link has expired" in page.locator("#link-problem-text").inner_text()
    steps.check("expired")

    # A link locked after five wrong answers
    _, link = pay_stack.seed("E2E-LOCKED")
    open_to(page, link, "verify")
    for attempt in range(5):
        page.fill("#dob", f"1990-01-0{attempt + 1}")
        page.click("#verify-form button[type=submit]")
        expect(page.locator("#verify-form button[type=submit]")).to_be_enabled()
    wait_for_step(page, "link-problem")
    assert (
        "paused after several tries. You can try again in about 30 minutes."
        in page.locator("#link-problem-text").inner_text()
    )
    steps.check("locked")


def test_back_from_checkout_in_a_tab_that_lost_the_link(pay_stack: PayStack, page: Any, flow: Flow) -> None:
    steps = flow("return-elsewhere")
    open_to(page, f"{pay_stack.url}/?checkout=success&session_id=cs_test_x", "done")
    assert heading(page) == "Thank you, your payment went through"
    assert "open the link from your message again" in page.locator("#done-text").inner_text()
    steps.check("success")
    open_to(page, f"{pay_stack.url}/?checkout=cancel", "done")
    assert "No money was taken" in page.locator("#done-text").inner_text()
