"""Shared pieces of the ``medbill`` commands. Every command has ``--help`` and ``--json``.

Errors are mapped in one place (``handles_errors``): a one-line message on stderr and exit status 2 (or a
JSON error object on stdout with ``--json``), never a traceback for bad input.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import date
from functools import wraps
from typing import Any, TypeVar

import click

from medbill.core.errors import MedbillError
from medbill.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def emit_json(payload: Any) -> None:
    click.echo(json.dumps(payload, indent=2, ensure_ascii=False, default=str))


def handles_errors(func: F) -> F:
    """Map MedbillError to a one-line message (or JSON) and exit status 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except MedbillError as exc:
            if kwargs.get("as_json"):
                emit_json(exc.to_dict())
            else:
                msg = f"error: {exc.message}"
                if exc.hint:
                    msg += f" ({exc.hint})"
                click.echo(msg, err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def parse_date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def settings() -> Settings:
    return Settings.from_env()
