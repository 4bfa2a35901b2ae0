"""Money: ``decimal.Decimal`` quantized to cents, never float.

Amounts are held as ``Decimal`` end to end. ``money()`` is the one way to turn outside text or numbers
into an amount: it refuses floats (a binary fraction is not an amount of money) and anything that is not
a whole number of cents, rather than rounding silently. ``format_money()`` gives the canonical text form
``"123.45"`` used by the JSON form of a claim.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from medbill.core.errors import MedbillError

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class InvalidMoney(MedbillError):
    """An amount that is not a finite, whole number of cents (or was given as a float)."""

    code = "invalid_money"


def is_cents(value: Decimal) -> bool:
    """True when ``value`` is finite and a whole number of cents (``Decimal("1.50")``, ``Decimal("3")``)."""
    return value.is_finite() and value == value.quantize(CENT)


def money(value: Decimal | int | str) -> Decimal:
    """The amount as a ``Decimal`` with exactly two places; ``money("12.5") == Decimal("12.50")``.

    Raises ``InvalidMoney`` for floats, non-numbers, infinities/NaN and sub-cent amounts ("1.005").
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise InvalidMoney(
            f"{value!r} is a {type(value).__name__}: money must be a Decimal, int or decimal string",
            hint='write amounts as strings, e.g. "123.45"',
        )
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            raise InvalidMoney(f"{value!r} is not an amount", hint='e.g. "123.45"') from None
    else:
        raise InvalidMoney(f"{value!r} is not an amount")
    if not amount.is_finite():
        raise InvalidMoney(f"{value!r} is not a finite amount")
    quantized = amount.quantize(CENT)
    if quantized != amount:
        raise InvalidMoney(f"{value!r} is not a whole number of cents", hint="round it to two places")
    return quantized


def format_money(value: Decimal) -> str:
    """Canonical text of an amount: two places, no exponent (``Decimal("5") -> "5.00"``)."""
    if not is_cents(value):
        raise InvalidMoney(f"{value!r} is not a whole number of cents")
    return format(value.quantize(CENT), "f")


def sum_money(values: Iterable[Decimal]) -> Decimal:
    """Exact sum of amounts (no rounding), ``Decimal("0.00")`` when empty."""
    total = ZERO
    for value in values:
        total += value
    return total
