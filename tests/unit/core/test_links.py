from datetime import UTC, datetime, timedelta

import pytest

from functions.core import links

KEY = b"k" * 32
NOW = datetime(2026, 3, 8, 15, 0, tzinfo=UTC)


def test_a_signed_link_reads_back_until_it_expires() -> None:
    ref = links.new_link_ref()
    token = links.sign(ref, NOW, KEY, ttl=timedelta(days=1))
    assert links.read(token, NOW + timedelta(hours=23), KEY).link_ref == ref
    with pytest.raises(links.LinkError, match="expired"):
        links.read(token, NOW + timedelta(days=1), KEY)


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"), "bad_signature"),
        (lambda t: t.replace(".", "!", 1), "malformed"),
        (lambda t: "v2" + t[2:], "malformed"),
        (lambda t: "", "malformed"),
        (lambda t: t + "." + t, "malformed"),
    ],
)
def test_a_tampered_link_is_refused(mangle, reason) -> None:
    token = links.sign(links.new_link_ref(), NOW, KEY)
    with pytest.raises(links.LinkError, match=reason):
        links.read(mangle(token), NOW, KEY)


def test_a_link_cannot_be_extended_or_moved_to_another_account() -> None:
    token = links.sign("a" * 22, NOW, KEY, ttl=timedelta(days=1))
    version, ref, expires, signature = token.split(".")
    with pytest.raises(links.LinkError, match="bad_signature"):
        links.read(f"{version}.{ref}.{int(expires) + 86400}.{signature}", NOW, KEY)
    with pytest.raises(links.LinkError, match="bad_signature"):
        links.read(f"{version}.{'b' * 22}.{expires}.{signature}", NOW, KEY)
    with pytest.raises(links.LinkError, match="bad_signature"):
        links.read(token, NOW, b"x" * 32)


def test_the_pay_url_keeps_the_token_out_of_server_logs() -> None:
    assert links.pay_url("https://pay.example.com/", "v1.x") == "https://pay.example.com/#t=v1.x"
