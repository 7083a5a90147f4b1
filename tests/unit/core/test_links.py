from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.core import links

KEY = b"k" * 32
NOW = datetime(2026, 3, 8, 15, 0, tzinfo=UTC)
URL_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
SIGNERS = pytest.mark.parametrize("sign", [links.sign, links.sign_v1], ids=["compact", "v1"])


@SIGNERS
def test_a_signed_link_reads_back_until_it_expires(sign) -> None:
    ref = links.new_link_ref()
    token = sign(ref, NOW, KEY, ttl=timedelta(days=1))
    assert links.read(token, NOW + timedelta(hours=23), KEY).link_ref == ref
    with pytest.raises(links.LinkError, match="expired"):
        links.read(token, NOW + timedelta(days=1), KEY)


def test_the_compact_token_is_short_and_url_safe() -> None:
    """2 + 22-char link_ref + 4 base-36 hours + 22-char (128-bit) signature: the pay link is 81 characters."""
    token = links.sign(links.new_link_ref(), NOW, KEY)
    assert len(token) == 49 and token[0] == "2" and set(token) <= set(URL_SAFE)
    assert len(links.pay_url("https://pay.cleardue.example", token)) == 81
    assert len(links.sign_v1(links.new_link_ref(), NOW, KEY)) == 80


def test_the_compact_expiry_is_rounded_up_to_the_hour_never_shortened() -> None:
    ref = links.new_link_ref()
    token = links.sign(ref, NOW + timedelta(minutes=1), KEY, ttl=timedelta(days=30))
    claims = links.read(token, NOW, KEY)
    assert claims.expires_at == NOW + timedelta(days=30, hours=1)
    assert links.read(token, claims.expires_at - timedelta(seconds=1), KEY).link_ref == ref
    with pytest.raises(links.LinkError, match="expired"):
        links.read(token, claims.expires_at, KEY)


def test_a_link_already_sent_in_the_v1_format_stays_valid() -> None:
    ref = links.new_link_ref()
    legacy = links.sign_v1(ref, NOW, KEY)
    assert legacy.startswith("v1.")
    assert links.read(legacy, NOW + timedelta(days=29), KEY) == links.LinkClaims(ref, NOW + timedelta(days=30))


def _flip_last(token: str) -> str:
    return token[:-2] + ("AA" if not token.endswith("AA") else "BB")


@pytest.mark.parametrize(
    ("sign", "mangle", "reason"),
    [
        (links.sign_v1, _flip_last, "bad_signature"),
        (links.sign_v1, lambda t: t.replace(".", "!", 1), "malformed"),
        (links.sign_v1, lambda t: "v2" + t[2:], "malformed"),
        (links.sign_v1, lambda t: t + "." + t, "malformed"),
        (links.sign_v1, lambda t: t.replace(".", ".²", 2).replace(".²", ".", 1), "malformed"),  # non-ASCII digit
        (links.sign, _flip_last, "bad_signature"),
        (links.sign, lambda t: "3" + t[1:], "bad_signature"),  # an email's link passed off as a text's
        (links.sign, lambda t: "4" + t[1:], "malformed"),
        (links.sign, lambda t: t[:-1], "malformed|bad_signature"),  # the fields shift by one
        (links.sign, lambda t: t[:16], "malformed"),
        (links.sign, lambda t: t + "\n", "malformed"),
        (links.sign, lambda t: t[:-26] + t[-26:-22].upper() + t[-22:], "malformed"),  # base-36 is lower case
        (links.sign, lambda t: t[:-1] + "é", "malformed"),
        (links.sign, lambda t: t + t, "malformed"),
        (links.sign, lambda t: "", "malformed"),
        (links.sign, lambda t: "2" + "A" * 300, "malformed"),
    ],
)
def test_a_tampered_link_is_refused(sign, mangle, reason) -> None:
    token = sign(links.new_link_ref(), NOW, KEY)
    with pytest.raises(links.LinkError, match=reason):
        links.read(mangle(token), NOW, KEY)


def test_a_link_cannot_be_extended_or_moved_to_another_account() -> None:
    token = links.sign_v1("a" * 22, NOW, KEY, ttl=timedelta(days=1))
    version, ref, expires, signature = token.split(".")
    with pytest.raises(links.LinkError, match="bad_signature"):
        links.read(f"{version}.{ref}.{int(expires) + 86400}.{signature}", NOW, KEY)
    with pytest.raises(links.LinkError, match="bad_signature"):
        links.read(f"{version}.{'b' * 22}.{expires}.{signature}", NOW, KEY)
    with pytest.raises(links.LinkError, match="bad_signature"):
        links.read(token, NOW, b"x" * 32)


def test_a_compact_link_cannot_be_extended_moved_or_signed_with_another_key() -> None:
    token = links.sign("a" * 22, NOW, KEY, ttl=timedelta(days=1))
    ref, expiry, signature = token[1:23], token[23:27], token[27:]
    later = links._base36(int(expiry, 36) + 24, 4)
    for forged in (f"2{ref}{later}{signature}", f"2{'b' * 22}{expiry}{signature}"):
        with pytest.raises(links.LinkError, match="bad_signature"):
            links.read(forged, NOW, KEY)
    with pytest.raises(links.LinkError, match="bad_signature"):
        links.read(token, NOW, b"x" * 32)


def test_a_v1_signature_never_passes_for_a_compact_token_nor_a_session() -> None:
    from functions.core import sessions

    ref = "a" * 22
    legacy = links.sign_v1(ref, NOW, KEY)
    compact = links.sign(ref, NOW, KEY)
    truncated = legacy.rsplit(".", 1)[1][:22]  # the v1 signature cut to the compact width
    with pytest.raises(links.LinkError, match="bad_signature"):
        links.read(compact[:-22] + truncated, NOW, KEY)
    with pytest.raises(sessions.SessionError):
        sessions.read(compact, NOW, KEY)


def test_an_expired_link_is_still_genuine_for_an_opt_out() -> None:
    ref = links.new_link_ref()
    for token in (
        links.sign(ref, NOW, KEY, ttl=timedelta(days=1)),
        links.sign_v1(ref, NOW, KEY, ttl=timedelta(days=1)),
    ):
        with pytest.raises(links.LinkError, match="expired"):
            links.read(token, NOW + timedelta(days=90), KEY)
        assert links.read_even_if_expired(token, KEY).link_ref == ref
        with pytest.raises(links.LinkError, match="bad_signature"):
            links.read_even_if_expired(_flip_last(token), KEY)


link_refs = st.text(alphabet=URL_SAFE, min_size=16, max_size=64)
instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2150, 1, 1), timezones=st.just(UTC))


@settings(max_examples=300, deadline=None)
@given(ref=link_refs, now=instants, ttl_hours=st.integers(min_value=1, max_value=24 * 365))
def test_every_compact_token_reads_back_to_its_link_ref_and_expiry(ref, now, ttl_hours) -> None:
    ttl = timedelta(hours=ttl_hours)
    token = links.sign(ref, now, KEY, ttl)
    claims = links.read(token, now, KEY)
    assert claims.link_ref == ref
    assert now + ttl <= claims.expires_at < now + ttl + timedelta(hours=1)


@settings(max_examples=500, deadline=None)
@given(
    ref=link_refs,
    position=st.integers(min_value=0, max_value=200),
    replacement=st.characters(codec="utf-8"),
    edit=st.sampled_from(["replace", "insert", "delete"]),
)
def test_a_tampered_compact_token_never_verifies(ref, position, replacement, edit) -> None:
    token = links.sign(ref, NOW, KEY)
    at = position % len(token)
    if edit == "replace":
        tampered = token[:at] + replacement + token[at + 1 :]
    elif edit == "insert":
        tampered = token[:at] + replacement + token[at:]
    else:
        tampered = token[:at] + token[at + 1 :]
    if tampered == token:
        return
    with pytest.raises(links.LinkError) as refused:
        links.read(tampered, NOW, KEY)
    assert refused.value.reason in ("malformed", "bad_signature")


@settings(max_examples=300, deadline=None)
@given(candidate=st.text(alphabet=URL_SAFE + ".v", max_size=120))
def test_no_string_but_the_signed_token_verifies(candidate) -> None:
    ref = "Zq3x9Vb2LmN8pQr4St6UvW"
    genuine = {links.sign(ref, NOW, KEY), links.sign_v1(ref, NOW, KEY)}
    if candidate in genuine:
        return
    with pytest.raises(links.LinkError):
        links.read(candidate, NOW, KEY)


def test_a_texts_token_names_its_channel_at_no_cost_in_length() -> None:
    ref = links.new_link_ref()
    by_text, by_email = links.sign(ref, NOW, KEY, channel="sms"), links.sign(ref, NOW, KEY)
    assert by_text[0] == "3" and by_email[0] == "2" and len(by_text) == len(by_email)
    assert links.read(by_text, NOW, KEY) == links.LinkClaims(ref, links.read(by_email, NOW, KEY).expires_at, "sms")
    assert links.read(by_email, NOW, KEY).channel is None and links.read_even_if_expired(by_text, KEY).channel == "sms"
    assert links.read(links.sign_v1(ref, NOW, KEY), NOW, KEY).channel is None
    with pytest.raises(ValueError, match="no channel but sms"):
        links.sign(ref, NOW, KEY, channel="email")


def test_the_pay_url_keeps_the_token_out_of_server_logs() -> None:
    assert links.pay_url("https://pay.example.com/", "v1.x") == "https://pay.example.com/#t=v1.x"
    token = links.sign("a" * 22, NOW, KEY)
    assert links.pay_url("https://pay.example.com", token) == f"https://pay.example.com/#t={token}"
