"""Authenticated encryption of personal data, with key rotation and blind indexes.

A stored value looks like ``fq1$<key id>$<cipher>$<base64(nonce + ciphertext + tag)>``.
The key id lets old values be read after a new key becomes active (rotation:
add the new key, switch ``FENGQIAO_DATA_KEY_ID``, run ``rotate_data_keys``).
The cipher is AES-256-GCM by default or SM4-GCM (GB/T 32907) for deployments
that go through the national cryptography assessment (密评).

The blind index is HMAC-SHA256 under a separate key over a normalised value,
so an exact search ("find the resident with this ID number") needs no decryption
and the index reveals nothing without the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

PREFIX = "fq1"
CIPHERS = ("AES-GCM", "SM4-GCM")
NONCE_BYTES = 12
TAG_BYTES = 16


class DecryptionError(Exception):
    """A stored value could not be authenticated or its key is missing."""


@dataclass(frozen=True)
class Keyring:
    keys: dict[str, bytes]
    active_id: str
    cipher: str
    index_key: bytes

    @property
    def active_key(self) -> bytes:
        return self.keys[self.active_id]


def _decode_key(key_id: str, value: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImproperlyConfigured(f"Data key {key_id!r} is not valid base64.") from exc
    if len(raw) != 32:
        raise ImproperlyConfigured(f"Data key {key_id!r} must be 32 bytes (got {len(raw)}).")
    return raw


@lru_cache(maxsize=1)
def _keyring_cached(keys: tuple[tuple[str, str], ...], active_id: str, cipher: str, index_key: str) -> Keyring:
    if not keys:
        raise ImproperlyConfigured("FENGQIAO_DATA_KEYS is empty: personal data cannot be encrypted.")
    for key_id, _value in keys:
        # every id is written into (or parsed out of) "fq1$<id>$...": a "$"
        # or an empty id would make stored values unreadable.
        if not key_id or "$" in key_id:
            raise ImproperlyConfigured(f"Data key id {key_id!r} must be non-empty and must not contain '$'.")
    decoded = {key_id: _decode_key(key_id, value) for key_id, value in keys}
    if active_id not in decoded:
        raise ImproperlyConfigured(f"FENGQIAO_DATA_KEY_ID {active_id!r} is not in FENGQIAO_DATA_KEYS.")
    if cipher not in CIPHERS:
        raise ImproperlyConfigured(f"FENGQIAO_DATA_CIPHER must be one of {CIPHERS}.")
    return Keyring(decoded, active_id, cipher, _decode_key("index", index_key))


_KEY_SETTINGS = frozenset({"FENGQIAO_DATA_KEYS", "FENGQIAO_DATA_KEY_ID", "FENGQIAO_DATA_CIPHER", "FENGQIAO_INDEX_KEY"})
_current: Keyring | None = None


def keyring() -> Keyring:
    """The keyring of the current settings; built once (bulk imports encrypt
    hundreds of thousands of values), rebuilt when a test overrides a key setting."""
    global _current
    if _current is None:
        _current = _keyring_cached(
            tuple(sorted(settings.FENGQIAO_DATA_KEYS.items())),
            settings.FENGQIAO_DATA_KEY_ID,
            settings.FENGQIAO_DATA_CIPHER,
            settings.FENGQIAO_INDEX_KEY,
        )
    return _current


@receiver(setting_changed)
def _forget_keyring(*, setting: str, **_kwargs: object) -> None:
    global _current
    if setting in _KEY_SETTINGS:
        _current = None


def _sm4_key(key: bytes) -> bytes:
    # SM4 takes a 128-bit key; derive it from the 256-bit key so one key
    # format serves both ciphers.
    return hashlib.sha256(b"fengqiao-sm4" + key).digest()[:16]


def _encrypt_raw(cipher: str, key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    if cipher == "AES-GCM":
        return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)
    encryptor = Cipher(algorithms.SM4(_sm4_key(key)), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(aad)
    body = encryptor.update(plaintext) + encryptor.finalize()
    return nonce + body + encryptor.tag


def _decrypt_raw(cipher: str, key: bytes, blob: bytes, aad: bytes) -> bytes:
    nonce, body = blob[:NONCE_BYTES], blob[NONCE_BYTES:]
    try:
        if cipher == "AES-GCM":
            return AESGCM(key).decrypt(nonce, body, aad)
        if cipher == "SM4-GCM":
            ciphertext, tag = body[:-TAG_BYTES], body[-TAG_BYTES:]
            decryptor = Cipher(algorithms.SM4(_sm4_key(key)), modes.GCM(nonce, tag)).decryptor()
            decryptor.authenticate_additional_data(aad)
            return decryptor.update(ciphertext) + decryptor.finalize()
    except (InvalidTag, ValueError) as exc:
        raise DecryptionError("Stored value failed authentication.") from exc
    raise DecryptionError(f"Unknown cipher {cipher!r}.")


def encrypt(plaintext: str, *, context: str = "") -> str:
    """Encrypt ``plaintext``; ``context`` (e.g. "registry.Resident.id_number")
    is bound as associated data so a value cannot be moved to another column."""
    ring = keyring()
    blob = _encrypt_raw(ring.cipher, ring.active_key, plaintext.encode("utf-8"), context.encode("utf-8"))
    return f"{PREFIX}${ring.active_id}${ring.cipher}${base64.b64encode(blob).decode('ascii')}"


def parse(token: str) -> tuple[str, str, bytes]:
    parts = token.split("$")
    if len(parts) != 4 or parts[0] != PREFIX:
        raise DecryptionError("Not an encrypted value.")
    try:
        blob = base64.b64decode(parts[3], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecryptionError("Corrupt encrypted value.") from exc
    return parts[1], parts[2], blob


def decrypt(token: str, *, context: str = "") -> str:
    key_id, cipher, blob = parse(token)
    ring = keyring()
    if key_id not in ring.keys:
        raise DecryptionError(f"Key {key_id!r} is not in the keyring.")
    plain = _decrypt_raw(cipher, ring.keys[key_id], blob, context.encode("utf-8"))
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError as exc:  # authenticated but not ours: treat like any corrupt value
        raise DecryptionError("Stored value is not UTF-8 text.") from exc


def active_prefix() -> str:
    """The start of every value written under the active key and cipher
    (``fq1$<key id>$<cipher>$``): values not starting with it need rotation."""
    ring = keyring()
    return f"{PREFIX}${ring.active_id}${ring.cipher}$"


def needs_rotation(token: str) -> bool:
    key_id, cipher, _ = parse(token)
    ring = keyring()
    return key_id != ring.active_id or cipher != ring.cipher


def blind_index(value: str, *, purpose: str) -> str:
    """Keyed hash for exact search. ``purpose`` separates e.g. ID numbers from phones."""
    message = f"{purpose}\x00{value}".encode()
    return hmac.new(keyring().index_key, message, hashlib.sha256).hexdigest()
