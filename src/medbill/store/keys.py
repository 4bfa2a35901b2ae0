"""Key material kept outside the database: the SQLCipher key, the PHI column keys, the index and audit keys.

One JSON key file (``MEDBILL_KEY_FILE``, default ``$MEDBILL_HOME/keys.json``, mode 0600), created on
first run::

    {"format": 1,
     "db_key": "<64 hex>",                       # SQLCipher raw key (MEDBILL_DB_KEY overrides it)
     "phi_keys": {"1": "<base64 32 bytes>", ...},  # AES-256-GCM, versioned; the highest is active
     "active_phi_key": 1,
     "index_key": "<base64 32 bytes>",            # HMAC-SHA256 blind indexes (never rotated in place)
     "audit_key": "<base64 32 bytes>"}            # HMAC of the audit chain

Old PHI keys stay in the file after a rotation so that rows not yet re-encrypted can be read; the
rotation command re-encrypts every PHI value under the active key and only then may an old key be
retired (``retire``). Nothing here is ever logged.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from medbill.core.errors import MedbillError

__all__ = ["KeyError_", "KeyRing", "load_or_create_keyring"]


class KeyError_(MedbillError):  # noqa: N801 - avoid shadowing the builtin KeyError
    """The key file is missing, unreadable or inconsistent."""

    code = "key_error"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _unb64(text: str, what: str, path: Path | None) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (ValueError, TypeError) as exc:
        raise KeyError_(f"{path or 'key file'}: {what} is not base64") from exc
    if len(raw) != 32:
        raise KeyError_(f"{path or 'key file'}: {what} must be 32 bytes, found {len(raw)}")
    return raw


@dataclass(frozen=True, slots=True)
class KeyRing:
    db_key: str  # 64 hex characters (SQLCipher raw key)
    phi_keys: dict[int, bytes] = field(repr=False)
    active_phi_key: int
    index_key: bytes = field(repr=False)
    audit_key: bytes = field(repr=False)
    path: Path | None = None

    def __repr__(self) -> str:  # never show key material
        return f"KeyRing(path={self.path}, phi_key_versions={sorted(self.phi_keys)}, active={self.active_phi_key})"

    @classmethod
    def generate(cls, path: Path | None = None) -> KeyRing:
        return cls(
            db_key=secrets.token_hex(32),
            phi_keys={1: secrets.token_bytes(32)},
            active_phi_key=1,
            index_key=secrets.token_bytes(32),
            audit_key=secrets.token_bytes(32),
            path=path,
        )

    def with_new_phi_key(self) -> KeyRing:
        version = max(self.phi_keys) + 1
        keys = dict(self.phi_keys)
        keys[version] = secrets.token_bytes(32)
        return replace(self, phi_keys=keys, active_phi_key=version)

    def without_phi_keys(self, versions: set[int]) -> KeyRing:
        if self.active_phi_key in versions:
            raise KeyError_("the active PHI key cannot be retired")
        return replace(self, phi_keys={v: k for v, k in self.phi_keys.items() if v not in versions})

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": 1,
                "db_key": self.db_key,
                "phi_keys": {str(v): _b64(k) for v, k in sorted(self.phi_keys.items())},
                "active_phi_key": self.active_phi_key,
                "index_key": _b64(self.index_key),
                "audit_key": _b64(self.audit_key),
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str, path: Path | None = None) -> KeyRing:
        try:
            data = json.loads(text)
            keys = {int(v): _unb64(k, f"phi_keys[{v}]", path) for v, k in data["phi_keys"].items()}
            active = int(data["active_phi_key"])
            db_key = str(data["db_key"])
            index_key = _unb64(data["index_key"], "index_key", path)
            audit_key = _unb64(data["audit_key"], "audit_key", path)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise KeyError_(f"{path or 'key file'}: not a medbill key file ({type(exc).__name__}: {exc})") from exc
        if active not in keys:
            raise KeyError_(f"{path or 'key file'}: active_phi_key {active} is not among phi_keys")
        if len(db_key) != 64 or any(c not in "0123456789abcdefABCDEF" for c in db_key):
            raise KeyError_(f"{path or 'key file'}: db_key must be 64 hex characters")
        return cls(db_key, keys, active, index_key, audit_key, path)

    def save(self, path: Path | None = None) -> Path:
        """Write atomically with mode 0600 (a crash leaves the old file or the new one, never half)."""
        target = path or self.path
        if target is None:
            raise KeyError_("no key file path")
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".keys-", suffix=".tmp")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(self.to_json())
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target


def load_or_create_keyring(path: Path, *, db_key_override: str | None = None, create: bool = True) -> KeyRing:
    """Read the key file, creating it on first run; ``MEDBILL_DB_KEY`` (hex) may override the SQLCipher key."""
    if path.exists():
        ring = KeyRing.from_json(path.read_text(), path)
    elif create:
        ring = KeyRing.generate(path)
        ring.save(path)
    else:
        raise KeyError_(f"{path}: key file not found")
    if db_key_override:
        key = db_key_override.strip()
        if len(key) != 64 or any(c not in "0123456789abcdefABCDEF" for c in key):
            raise KeyError_("MEDBILL_DB_KEY must be 64 hex characters (a 256-bit key)")
        ring = replace(ring, db_key=key)
    return ring
