"""``medbill scrub`` and ``medbill rules``."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    """Add the scrubber's commands to the top-level group."""
    del group
