"""Fixtures of the scrubber tests."""

from __future__ import annotations

import pytest

from medbill.scrub.tables import EditTables

from .fixturelib import fixture_tables


@pytest.fixture(scope="session")
def edit_tables() -> EditTables:
    """``EditTables`` built from data/edit_tables.yaml (excerpts of the real tables)."""
    return fixture_tables()
