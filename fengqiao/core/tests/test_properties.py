"""Property tests: encryption round-trips any text; masks never show more than their rule allows."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fengqiao.core import crypto, masking
from fengqiao.core.personal import normalise

FAST = settings(max_examples=150, deadline=None)

contexts = st.sampled_from(["", "registry.Resident.name", "registry.Resident.id_number", "x.Y.z"])


@FAST
@given(text=st.text(max_size=300), context=contexts)
def test_encrypt_decrypt_round_trip(text: str, context: str) -> None:
    token = crypto.encrypt(text, context=context)
    assert crypto.decrypt(token, context=context) == text
    if len(text) >= 4:
        assert text not in token


@FAST
@given(text=st.text(min_size=1, max_size=50))
def test_other_context_never_decrypts(text: str) -> None:
    token = crypto.encrypt(text, context="a.B.c")
    try:
        crypto.decrypt(token, context="a.B.d")
    except crypto.DecryptionError:
        return
    raise AssertionError("decrypted under the wrong associated data")


def _shown(original: str, masked: str) -> list[int]:
    """Positions of ``masked`` that show a character instead of '*'."""
    assert len(masked) == len(original)
    return [i for i, ch in enumerate(masked) if ch != "*"]


id_like = st.text(alphabet="0123456789Xx ", min_size=0, max_size=24)


@FAST
@given(value=id_like)
def test_id_mask_keeps_only_first_six_and_last_four(value: str) -> None:
    clean = value.strip().upper()
    masked = masking.mask_id_number(value)
    shown = _shown(clean, masked)
    n = len(clean)
    assert all(i < 6 or i >= n - 4 for i in shown)
    assert len(shown) <= 10
    if n < 15:
        assert shown == []  # short (wrong) values are hidden completely
    for i in shown:
        assert masked[i] == clean[i]
    assert masked.count("*") == (n - 10 if n >= 15 else n)


@FAST
@given(value=st.text(alphabet="0123456789+-", min_size=0, max_size=16))
def test_phone_mask_hides_at_least_half(value: str) -> None:
    clean = value.strip()
    masked = masking.mask_phone(value)
    shown = _shown(clean, masked)
    n = len(clean)
    assert len(shown) <= n // 2 + 2 if n >= 11 else len(shown) <= n // 2
    assert all(i < 3 or i >= n - 4 for i in shown)


@FAST
@given(value=st.text(min_size=0, max_size=20).map(str.strip))
def test_name_mask_shows_at_most_the_first_character(value: str) -> None:
    masked = masking.mask_name(value)
    if not value:
        assert masked == ""
        return
    assert len(masked) == len(value)
    assert masked[1:] == "*" * (len(value) - 1)
    assert masked[0] in {value[0], "*"}
    if len(value) == 1:
        assert masked == "*"


@FAST
@given(value=st.text(max_size=40))
def test_free_text_mask_shows_nothing(value: str) -> None:
    assert masking.mask_text(value) in {"", "***"}


@FAST
@given(value=st.text(max_size=30), kind=st.sampled_from(["name", "id_number", "phone", "text"]))
def test_normalise_is_idempotent(value: str, kind: str) -> None:
    once = normalise(kind, value)
    assert normalise(kind, once) == once
