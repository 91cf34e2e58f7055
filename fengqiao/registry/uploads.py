"""An uploaded import file kept between the preview and the confirmation, encrypted.

The check step stores the upload under a random name in a private temporary
folder, encrypted (AES-GCM) with a random key that lives only in the user's
session: the file on disk is unreadable without the session, and the session
alone holds no data. The confirmation reads it back once and deletes it;
files older than ``MAX_AGE`` seconds are removed whenever another upload is
stored.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import secrets
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SESSION_KEY = "registry_pending_import"
MAX_AGE = 3600
_NONCE = 12


def _folder() -> Path:
    folder = Path(tempfile.gettempdir()) / "fengqiao-imports"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _sweep(folder: Path) -> None:
    cutoff = time.time() - MAX_AGE
    for path in folder.glob("*.bin"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            continue


def store(session: Any, upload: IO[bytes], filename: str, kind: str) -> str:
    """Keep ``upload`` for a later confirmation; returns the token the form carries."""
    folder = _folder()
    _sweep(folder)
    discard(session)
    token = secrets.token_hex(16)
    key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(_NONCE)
    upload.seek(0)
    blob = nonce + AESGCM(key).encrypt(nonce, upload.read(), token.encode())
    path = folder / f"{token}.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(blob)
    session[SESSION_KEY] = {
        "token": token,
        "key": base64.b64encode(key).decode(),
        "filename": filename[:200],
        "kind": kind,
        "at": time.time(),
    }
    return token


def pending(session: Any, kind: str) -> dict[str, Any] | None:
    data = session.get(SESSION_KEY)
    if not data or data.get("kind") != kind or time.time() - float(data.get("at", 0)) > MAX_AGE:
        return None
    return dict(data)


def load(session: Any, token: str, kind: str) -> IO[bytes] | None:
    """The stored upload for ``token`` (the session's own), or None if it is gone or not this user's."""
    data = pending(session, kind)
    if data is None or not secrets.compare_digest(str(data["token"]), str(token)) or not token.isalnum():
        return None
    path = _folder() / f"{token}.bin"
    try:
        blob = path.read_bytes()
    except OSError:
        return None
    try:
        plain = AESGCM(base64.b64decode(data["key"])).decrypt(blob[:_NONCE], blob[_NONCE:], token.encode())
    except (InvalidTag, ValueError):
        return None
    return io.BytesIO(plain)


def discard(session: Any) -> None:
    data = session.pop(SESSION_KEY, None)
    if data and str(data.get("token", "")).isalnum():
        with contextlib.suppress(OSError):
            (_folder() / f"{data['token']}.bin").unlink()
