"""``medbill x12``: write 837P/837I from claims, read X12 files back into records."""

from __future__ import annotations

import click


@click.group("x12")
def x12_group() -> None:
    """X12 005010 files: 837P/837I writers and readers."""


def register(group: click.Group) -> None:
    from medbill.cli import x12_read, x12_write

    x12_write.register(x12_group)
    x12_read.register(x12_group)
    group.add_command(x12_group)
