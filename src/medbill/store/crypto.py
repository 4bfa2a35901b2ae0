"""Application-level encryption of PHI columns (AES-256-GCM) and keyed blind indexes (HMAC-SHA256).

A stored value is ``"v<key version>:" + base64(nonce(12) ‖ ciphertext ‖ tag)``. The column's name is
the associated data, so a ciphertext copied into another column (a birth date into a name) fails to
decrypt. A blind index is ``HMAC(index_key, purpose ‖ normalised value)`` (hex, 32 characters): equal
values give equal indexes, so equality search and 835 matching work, while the index reveals nothing
without the key held outside the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import unicodedata
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from medbill.core.errors import MedbillError
from medbill.store.keys import KeyRing

__all__ = ["DecryptionError", "FieldCipher", "normalise_for_index"]


class DecryptionError(MedbillError):
    code = "decryption_error"


def normalise_for_index(value: str) -> str:
    """Case-, accent- and space-insensitive form used before hashing (names, member ids)."""
    text = unicodedata.normalize("NFKD", value)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(text.casefold().split())


class FieldCipher:
    """Encrypts and decrypts PHI values with the key ring's versioned keys."""

    __slots__ = ("_active", "_aeads", "_index_key", "_reload", "enabled")

    def __init__(self, ring: KeyRing, *, enabled: bool = True, reload: Callable[[], KeyRing] | None = None) -> None:
        self._aeads = {v: AESGCM(k) for v, k in ring.phi_keys.items()}
        self._active = ring.active_phi_key
        self._index_key = ring.index_key
        self._reload = reload  # re-reads the key file when a value names a key version this process lacks
        self.enabled = enabled  # False only for the benchmark's "encryption off" run

    def _refresh(self) -> None:
        """Pick up keys added since start (a rotation run by another process); new writes use the new key."""
        if self._reload is None:
            return
        ring = self._reload()
        if ring.index_key != self._index_key:
            raise DecryptionError("the key file's index key changed: blind indexes would no longer match")
        self._aeads = {v: AESGCM(k) for v, k in ring.phi_keys.items()}
        self._active = ring.active_phi_key

    @property
    def active_version(self) -> int:
        return self._active

    def encrypt(self, plaintext: str, *, column: str) -> str:
        if not self.enabled:
            return "p:" + plaintext
        nonce = os.urandom(12)
        ct = self._aeads[self._active].encrypt(nonce, plaintext.encode("utf-8"), column.encode())
        return f"v{self._active}:" + base64.b64encode(nonce + ct).decode()

    def decrypt(self, stored: str, *, column: str) -> str:
        if stored.startswith("p:"):
            if self.enabled:
                raise DecryptionError(f"{column}: an unencrypted value where an encrypted one is required")
            return stored[2:]
        version, sep, body = stored.partition(":")
        if not sep or not version.startswith("v") or not version[1:].isdigit():
            raise DecryptionError(f"{column}: not an encrypted value")
        aead = self._aeads.get(int(version[1:]))
        if aead is None:
            self._refresh()
            aead = self._aeads.get(int(version[1:]))
        if aead is None:
            raise DecryptionError(f"{column}: encrypted under key version {version[1:]}, which the key file lacks")
        try:
            raw = base64.b64decode(body, validate=True)
            return aead.decrypt(raw[:12], raw[12:], column.encode()).decode("utf-8")
        except (InvalidTag, ValueError) as exc:
            raise DecryptionError(f"{column}: value fails authentication (wrong key or altered data)") from exc

    @staticmethod
    def version_of(stored: str) -> int | None:
        head = stored.partition(":")[0]
        return int(head[1:]) if head.startswith("v") and head[1:].isdigit() else None

    def blind_index(self, value: str, *, purpose: str) -> str:
        msg = purpose.encode() + b"\x00" + normalise_for_index(value).encode("utf-8")
        return hmac.new(self._index_key, msg, hashlib.sha256).hexdigest()[:32]
