"""Commands registered onto ``medbill x12`` (see x12.py)."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    """Add this module's commands to the ``x12`` group."""
    del group
