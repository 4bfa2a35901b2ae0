"""Datasets for HCPCS/CPT, modifiers, POS, CARC/RARC, edit tables and fee schedules."""

from __future__ import annotations

from medbill.codesets.build import Dataset


def datasets() -> list[Dataset]:
    return []
