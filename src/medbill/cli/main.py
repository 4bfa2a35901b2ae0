"""``medbill`` commands. Every command has ``--help`` and ``--json``."""

from __future__ import annotations

import click

from medbill import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="medbill")
def main() -> None:
    """medbill: medical billing and coding."""


def _register() -> None:
    from medbill.cli import (
        audit,
        claim,
        claims_db,
        codes,
        data,
        data_fetch,
        db,
        paper,
        payments,
        records,
        remit,
        scrub,
        serve,
        simulate,
        suggest,
        users,
        x12,
    )

    codes.register(main)
    data.register(main)
    data_fetch.register(data.data_group)
    scrub.register(main)
    x12.register(main)
    paper.register(main)
    claim.register(main)
    remit.register(main)
    payments.register(main)
    simulate.register(main)
    users.register(main)
    records.register(main)
    audit.register(main)
    db.register(main)
    claims_db.register(main)
    suggest.register(main)
    serve.register(main)


_register()
