"""Given a webhook (or any writer) that changes the account between the portal's read and its write, when
the portal saves the debtor's choice, then the version lock catches it, the portal re-reads and re-applies,
and neither change is lost."""

from functions.core.account import Account, Block, Channel
from functions.portal_api import service
from functions.store import accounts

from .conftest import NOW


def test_a_concurrent_write_is_retried_not_overwritten(portal) -> None:
    runtime = service.Runtime(
        link_key=lambda: b"", fact_key=lambda: b"", gateway=lambda: None, portal_url="https://x", due_shards=4
    )  # type: ignore[arg-type]
    call = service.Call(now=NOW, request_id="req-conflict")
    seen_versions: list[int] = []

    def choose_sms(before: Account) -> Account:
        seen_versions.append(before.version)
        if len(seen_versions) == 1:  # someone else writes first: a bounce on email arrives
            assert accounts.save_state(
                before, before.with_changes(blocked_channels={Channel.EMAIL: Block.BOUNCED}), NOW, 4
            )
        return before.with_changes(preferred_channel=Channel.SMS)

    saved = service.update_account(portal.fresh(), call, runtime, choose_sms)

    stored = portal.fresh()
    assert seen_versions == [0, 1]
    assert stored.preferred_channel is Channel.SMS
    assert stored.blocked_channels == {Channel.EMAIL: Block.BOUNCED}
    assert (saved.version, stored.version) == (1, 2)  # written over the other writer's version
