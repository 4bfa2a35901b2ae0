"""``medbill`` commands. Every command has ``--help`` and ``--json``."""

from __future__ import annotations

import click

from medbill import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="medbill")
def main() -> None:
    """medbill: medical billing and coding."""


def _register() -> None:
    from medbill.cli import claim, codes, data, data_fetch, paper, remit, scrub, simulate, x12

    codes.register(main)
    data.register(main)
    data_fetch.register(data.data_group)
    scrub.register(main)
    x12.register(main)
    paper.register(main)
    claim.register(main)
    remit.register(main)
    simulate.register(main)


_register()
