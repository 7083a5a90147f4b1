"""The local stack charges a plan's installment: `LocalRunner.cycle` (scheduler tick -> charges queue -> charger
pump -> Stripe emulator -> signed webhook -> gateway -> webhooks handler) pays it, once."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.e2e


def test_a_cycle_of_the_local_stack_charges_a_due_installment_once(tmp_path: Path) -> None:
    from functions.charger import handler as charger
    from functions.core.account import Installment, InstallmentStatus, Plan, PlanStatus
    from functions.core.clock import local_date
    from functions.core.money import Money
    from functions.payments.stripe_gateway import PaymentsGateway
    from functions.scheduler import handler as scheduler
    from functions.sender import handler as sender
    from functions.store import accounts
    from functions.webhooks import handler as webhooks
    from local.gateway import Gateway, portal_environment
    from local.runner import LocalRunner, VirtualClock
    from local.stack import running
    from local.stripe_emulator import StripeEmulator
    from tests.events.factories import make_account, place

    def reset() -> None:
        for module in (charger, scheduler, sender, webhooks):
            module._runtime.cache_clear()

    saved = dict(os.environ)
    try:
        with (
            running(tmp_path) as stack,
            StripeEmulator(retry_delays=(0.1, 0.3, 1)) as emulator,
            Gateway(webhooks_handler=webhooks.stripe_handler) as gateway,
        ):
            emulator.set_webhook_url(f"{gateway.url}/webhooks/stripe")
            os.environ.update(portal_environment(gateway.url, emulator.base_url, emulator.webhook_secret))
            reset()
            lines: list[str] = []
            runner = LocalRunner(stack, VirtualClock(), out=lines.append)

            # Given a plan whose card was saved through Checkout in setup mode, its first installment due yesterday.
            now = datetime.now(UTC)
            account = make_account("L-7007")
            place(account, now, shards=stack.settings.due_shards)
            before = accounts.get(account.account_id)
            today = local_date(now, account.debtor.timezone)
            plan = Plan("plan_local", now, tuple(
                Installment(n + 1, today + timedelta(days=30 * n - 1), Money(5_000, "USD")) for n in range(3)
            ))  # fmt: skip
            assert accounts.save_state(before, before.with_changes(plan=plan), now, stack.settings.due_shards)
            link = PaymentsGateway("sk_test_cleardue_local", emulator.base_url).checkout_setup(
                account_id=account.account_id, lender_id=account.lender_id, plan_id="plan_local",
                success_url="https://pay.example/ok", cancel_url="https://pay.example/no",
                idempotency_key="setup:local",
            )  # fmt: skip
            form = {"email": "d@example.com", "cardnumber": "4242424242424242", "exp": "12/40", "cvc": "123"}
            assert requests.post(link.url, data=form, allow_redirects=False, timeout=10).status_code == 303
            assert emulator.wait_for_webhooks(timeout=30)
            assert accounts.get(account.account_id).plan.status is PlanStatus.CURRENT

            # When the stack runs a cycle, and another one a few minutes later
            first = runner.cycle(datetime.now(UTC))
            assert emulator.wait_for_webhooks(timeout=30)
            second = runner.cycle(datetime.now(UTC) + timedelta(minutes=15))

            # Then the first installment was charged once and is paid; nothing else was charged.
            assert (first.charges, first.charge_failures, second.charges) == (1, 0, 0)
            installments = accounts.get(account.account_id).plan.installments
            assert [i.status for i in installments] == [
                InstallmentStatus.PAID, InstallmentStatus.SCHEDULED, InstallmentStatus.SCHEDULED,
            ]  # fmt: skip
            succeeded = [d for d in emulator.deliveries() if d["event_type"] == "payment_intent.succeeded"]
            assert len({d["event_id"] for d in succeeded}) == 1
            assert any("charger: 1 installment charge job(s) handled" in line for line in lines)
    finally:
        reset()
        os.environ.clear()
        os.environ.update(saved)
