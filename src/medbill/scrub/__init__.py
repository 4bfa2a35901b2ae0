"""Claim edits as rules: one family per module, run by scrub(claim, ctx) -> list[Finding]."""
