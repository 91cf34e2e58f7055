"""Signatures as Standard Webhooks receivers check them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fengqiao.webhooks import signing

# the reference vector published with the Standard Webhooks specification
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TS = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_reference_vector():
    assert signing.sign(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY) == SPEC_SIGNATURE
    hdrs = {"webhook-id": SPEC_ID, "webhook-timestamp": str(SPEC_TS), "webhook-signature": SPEC_SIGNATURE}
    signing.verify(SPEC_SECRET, hdrs, SPEC_BODY, now=SPEC_TS + 10)


def test_new_secret_format():
    secret = signing.new_secret()
    assert secret.startswith("whsec_")
    assert len(signing._key(secret)) == 32
    assert signing.new_secret() != secret


def test_tampering_old_timestamps_and_wrong_secret_fail():
    secret = signing.new_secret()
    hdrs = signing.headers([secret], "msg_1", 1000, b'{"a":1}')
    signing.verify(secret, hdrs, b'{"a":1}', now=1000)
    with pytest.raises(signing.InvalidSignature):
        signing.verify(secret, hdrs, b'{"a":2}', now=1000)
    with pytest.raises(signing.InvalidSignature):
        signing.verify(secret, hdrs, b'{"a":1}', now=1000 + 301)
    with pytest.raises(signing.InvalidSignature):
        signing.verify(signing.new_secret(), hdrs, b'{"a":1}', now=1000)
    with pytest.raises(signing.InvalidSignature):
        signing.verify(secret, {"webhook-id": "msg_1"}, b'{"a":1}', now=1000)


def test_rotation_signs_with_both_secrets():
    old, new = signing.new_secret(), signing.new_secret()
    hdrs = signing.headers([new, old], "msg_2", 50, b"x")
    assert len(hdrs["webhook-signature"].split(" ")) == 2
    signing.verify(old, hdrs, b"x", now=50)
    signing.verify(new, hdrs, b"x", now=50)


@given(
    key=st.binary(min_size=24, max_size=64),
    msg_id=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=40),
    ts=st.integers(min_value=0, max_value=2**33),
    body=st.binary(max_size=2000),
)
def test_round_trip(key, msg_id, ts, body):
    import base64

    secret = "whsec_" + base64.b64encode(key).decode()
    hdrs = signing.headers([secret], msg_id, ts, body)
    signing.verify(secret, hdrs, body, now=ts)
    if body:
        flipped = bytes([body[0] ^ 1]) + body[1:]
        with pytest.raises(signing.InvalidSignature):
            signing.verify(secret, hdrs, flipped, now=ts)
