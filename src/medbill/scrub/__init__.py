"""Claim edits as rules: one family per module, run by scrub(claim, ctx) -> list[Finding].

Families: ``structure`` (NPI, pointers, totals, dates, duplicates, timely filing, what the 837 needs),
``codes`` (code validity by date, 7th characters, Excludes1, manifestation/external-cause sequencing,
MCE unacceptable principal, add-ons, modifiers, POS, revenue codes), ``patient`` (age and sex
conflicts by claim type and date), ``ncci`` (PTP pairs), ``mue`` (units), ``payer`` (the practice's
YAML payer rules). ``medbill rules`` lists them; ``rule.py`` documents the registry, ``engine.py``
the run, ``context.py`` what a scrub knows, ``tables.py`` the reference tables.

    from medbill.scrub import EditTables, ScrubContext, scrub
    ctx = ScrubContext(today=date.today(), tables=EditTables.open(refdata_path))
    findings = scrub(claim, ctx)
"""

from medbill.scrub.context import ClaimSetting, OtherLine, Override, ScrubContext, claim_setting
from medbill.scrub.engine import has_errors, scrub, scrub_many
from medbill.scrub.payer import PayerRules, PayerRulesError
from medbill.scrub.rule import Rule, all_rules, get_rule, rule
from medbill.scrub.tables import EditTables

__all__ = [
    "ClaimSetting",
    "EditTables",
    "OtherLine",
    "Override",
    "PayerRules",
    "PayerRulesError",
    "Rule",
    "ScrubContext",
    "all_rules",
    "claim_setting",
    "get_rule",
    "has_errors",
    "rule",
    "scrub",
    "scrub_many",
]
