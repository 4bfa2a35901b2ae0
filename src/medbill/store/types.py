"""Column types: PHI encrypted by the application, money as integer cents, JSON as text.

The cipher is found on the engine's dialect (``dialect.medbill_cipher``, set by
:func:`medbill.store.db.Database`), so each database carries its own keys.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Dialect, Text
from sqlalchemy.types import TypeDecorator

from medbill.store.crypto import FieldCipher

__all__ = ["Cents", "EncryptedDate", "EncryptedJSON", "EncryptedText", "JSONText", "cipher_of"]


def cipher_of(dialect: Dialect) -> FieldCipher:
    cipher = getattr(dialect, "medbill_cipher", None)
    if cipher is None:
        raise RuntimeError("this engine was not opened through medbill.store.db.Database (no PHI cipher)")
    return cipher  # type: ignore[no-any-return]


class EncryptedText(TypeDecorator[str]):
    """A PHI string, AES-GCM encrypted with the column's name as associated data."""

    impl = Text
    cache_ok = True

    def __init__(self, column: str) -> None:
        super().__init__()
        self.column = column

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return cipher_of(dialect).encrypt(str(value), column=self.column)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return cipher_of(dialect).decrypt(value, column=self.column)


class EncryptedDate(TypeDecorator[dt.date]):
    """A PHI date (birth, service, admission ...), encrypted; sort and filter in Python, never in SQL."""

    impl = Text
    cache_ok = True

    def __init__(self, column: str) -> None:
        super().__init__()
        self.column = column

    def process_bind_param(self, value: dt.date | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return cipher_of(dialect).encrypt(value.isoformat(), column=self.column)

    def process_result_value(self, value: str | None, dialect: Dialect) -> dt.date | None:
        if value is None:
            return None
        return dt.date.fromisoformat(cipher_of(dialect).decrypt(value, column=self.column))


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON document holding PHI (a claim, a remittance's raw text), encrypted as a whole."""

    impl = Text
    cache_ok = True

    def __init__(self, column: str) -> None:
        super().__init__()
        self.column = column

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
        return cipher_of(dialect).encrypt(text, column=self.column)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.loads(cipher_of(dialect).decrypt(value, column=self.column))


class JSONText(TypeDecorator[Any]):
    """A JSON document without PHI (payer rules, settings), stored as text on every backend."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)


class Cents(TypeDecorator[Decimal]):
    """Money: ``Decimal`` in Python, integer cents in the database (exact, summable in SQL everywhere)."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"money must be Decimal, got {type(value).__name__}")
        cents = value * 100
        if cents != cents.to_integral_value():
            raise ValueError(f"money {value} has more than two decimal places")
        return int(cents)

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return (Decimal(value) / 100).quantize(Decimal("0.01"))
