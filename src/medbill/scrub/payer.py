"""Payer family: a practice's own payer edits, declared in YAML, validated on load.

A payer-rules file lets a practice add what its payers require without code. It is read with
``PayerRules.load(path)``; any mistake raises ``PayerRulesError`` naming the file and the field, such as
``payers.yaml: payers[0].rules[1].require.modifier: expected a list of quoted codes``. Schema
(version 1)::

    version: 1
    payers:
      - payer_id: "12345"            # a quoted string, or a list of them; "*" = every payer
        name: Acme Health            # optional, used in messages
        timely_filing_days: 90       # optional: the filing window (structure.timely_filing)
        reenable: [mce.sex]          # optional: withdrawn edits this payer still applies
                                     #   mce.sex, mce.procedure_sex, mce.age (see WITHDRAWN_EDITS)
        rules:                       # optional
          - id: telehealth-95        # required: letters, digits, - and _; unique within the payer
            description: ...         # optional
            severity: error          # error (blocks submission, default) or warning
            when:                    # optional; every condition given must hold
              claim_type: professional       # professional | institutional | inpatient | outpatient
              place_of_service: ["10"]       # line POS (the claim's when the line has none)
              procedure: ["99213", "992*"]   # line CPT/HCPCS code; a trailing * matches a prefix
              modifier: ["GT"]               # the line has any of these
              revenue_code: ["0450"]         # line revenue code
              diagnosis: ["E11*"]            # any diagnosis on the claim (undotted or dotted)
            require:                 # each requirement given must hold (at least one of require/forbid)
              modifier: ["95"]               # the line has one of these modifiers
              prior_authorization: true      # a prior authorization number on the claim or the line
              referring_provider: true       # a referring provider on the claim
              description: true              # a line description (SV101-7)
              ndc: true                      # an NDC on the line
              max_units: 1                   # at most this many units on the line
            forbid:
              modifier: ["GT"]               # none of these modifiers on the line
              procedure: ["G0*"]             # the line code matches none of these
            message: "payer 12345 requires modifier 95 on POS 10 lines"   # optional (generated)
            fix: "add modifier 95"                                         # optional (generated)

Codes are quoted strings: unquoted YAML numbers lose leading zeros (``00100`` reads as octal 64).
A rule is checked per line when it names a line field (``place_of_service``, ``procedure``,
``modifier``, ``revenue_code``, ``description``, ``ndc``, ``max_units``), else once per claim. Findings
carry code PAY001 and the name ``payer.<rule id>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from medbill.core.claim import Claim, ClaimKind, ServiceLine
from medbill.core.errors import MedbillError
from medbill.core.finding import Finding, Severity
from medbill.scrub.context import WITHDRAWN_EDITS, ClaimSetting, ScrubContext
from medbill.scrub.rule import rule


class PayerRulesError(MedbillError):
    """A payer-rules file that cannot be used: names the file and the field (``payers[0].rules[1].when``)."""

    code = "payer_rules_error"

    def __init__(self, message: str, *, source: str, field: str = "", line: int | None = None) -> None:
        where = source + (f", line {line}" if line is not None else "") + (f": {field}" if field else "")
        super().__init__(f"{where}: {message}")
        self.source = source
        self.field = field
        self.line = line


CLAIM_TYPES = ("professional", "institutional", "inpatient", "outpatient")
_WHEN_KEYS = ("claim_type", "place_of_service", "procedure", "modifier", "revenue_code", "diagnosis")
_REQUIRE_KEYS = ("modifier", "prior_authorization", "referring_provider", "description", "ndc", "max_units")
_FORBID_KEYS = ("modifier", "procedure")
_LINE_KEYS = frozenset({"place_of_service", "procedure", "modifier", "revenue_code", "description", "ndc", "max_units"})
_RULE_KEYS = ("id", "description", "severity", "when", "require", "forbid", "message", "fix")
_PAYER_KEYS = ("payer_id", "name", "timely_filing_days", "reenable", "rules")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_PATTERNS = {
    "place_of_service": re.compile(r"[0-9]{2}"),
    "procedure": re.compile(r"[0-9A-Z]{1,5}\*?|\*"),
    "modifier": re.compile(r"[0-9A-Z]{2}"),
    "revenue_code": re.compile(r"[0-9]{4}\*?|[0-9]{1,3}\*"),
    "diagnosis": re.compile(r"[A-Z][0-9][0-9A-Z]{0,5}\*?"),
}


@dataclass(frozen=True, slots=True)
class Patterns:
    """Codes to match: exact values and prefixes (written with a trailing *)."""

    exact: frozenset[str]
    prefixes: tuple[str, ...]
    shown: tuple[str, ...]

    def match(self, value: str | None) -> bool:
        if value is None:
            return False
        return value in self.exact or any(value.startswith(p) for p in self.prefixes)

    def __str__(self) -> str:
        return ", ".join(self.shown)


@dataclass(frozen=True, slots=True)
class PayerRule:
    id: str
    severity: Severity
    claim_type: str | None
    when: Mapping[str, Patterns]
    require_modifier: Patterns | None
    require_flags: frozenset[str]  # prior_authorization, referring_provider, description, ndc
    max_units: int | None
    forbid: Mapping[str, Patterns]
    message: str
    fix: str
    per_line: bool
    where: str  # "payers.yaml payers[0].rules[1]"


@dataclass(frozen=True, slots=True)
class PayerConfig:
    payer_ids: tuple[str, ...]
    name: str | None
    timely_filing_days: int | None
    reenable: frozenset[str]
    rules: tuple[PayerRule, ...]

    @property
    def label(self) -> str:
        ids = "any payer" if self.payer_ids == ("*",) else "/".join(self.payer_ids)
        return f"{self.name} ({ids})" if self.name else ids


class PayerRules:
    """Loaded payer rules; ``PayerRules.empty()`` has none."""

    def __init__(self, configs: Sequence[PayerConfig] = (), *, source: str = "") -> None:
        self.configs = tuple(configs)
        self.source = source

    @classmethod
    def empty(cls) -> PayerRules:
        return cls()

    @classmethod
    def load(cls, path: Path) -> PayerRules:
        source = path.name
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise PayerRulesError(f"cannot read: {exc.strerror or exc}", source=str(path)) from exc
        except UnicodeDecodeError as exc:
            raise PayerRulesError(f"not UTF-8 text: {exc.reason}", source=source) from exc
        return cls.loads(text, source=source)

    @classmethod
    def loads(cls, text: str, *, source: str = "<payer rules>") -> PayerRules:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise PayerRulesError(f"not valid YAML: {problem}", source=source, line=line) from exc
        return cls.from_data(data, source=source)

    @classmethod
    def from_data(cls, data: object, *, source: str = "<payer rules>") -> PayerRules:
        return cls(_parse(data, source), source=source)

    # ------------------------------------------------------------------ queries
    def for_payer(self, payer_id: str) -> list[PayerConfig]:
        return [c for c in self.configs if payer_id in c.payer_ids or "*" in c.payer_ids]

    def timely_filing_days(self, payer_id: str) -> int | None:
        exact = [c.timely_filing_days for c in self.configs if payer_id in c.payer_ids and c.timely_filing_days]
        if exact:
            return exact[0]
        anyone = [c.timely_filing_days for c in self.configs if "*" in c.payer_ids and c.timely_filing_days]
        return anyone[0] if anyone else None

    def reenabled(self, payer_id: str) -> frozenset[str]:
        out: frozenset[str] = frozenset()
        for c in self.for_payer(payer_id):
            out = out | c.reenable
        return out

    def __len__(self) -> int:
        return sum(len(c.rules) for c in self.configs)


# ---------------------------------------------------------------------------------------------------
# validation


def _fail(source: str, field: str, message: str) -> PayerRulesError:
    return PayerRulesError(message, source=source, field=field)


def _mapping(value: object, source: str, field: str, allowed: Sequence[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(source, field, f"expected a mapping, got {_kind(value)}")
    for key in value:
        if key not in allowed:
            raise _fail(
                source, f"{field}.{key}" if field else str(key), f"unknown field; expected one of {', '.join(allowed)}"
            )
    return value


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__


def _codes(value: object, source: str, field: str, key: str) -> Patterns:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise _fail(source, field, "expected at least one code")
    exact: set[str] = set()
    prefixes: list[str] = []
    for k, item in enumerate(items):
        f = f"{field}[{k}]" if isinstance(value, list) else field
        if not isinstance(item, str):
            raise _fail(source, f, f"expected a quoted code, got {_kind(item)} (quote codes: '00100', '10')")
        text = item.strip().upper()
        if key == "diagnosis":
            text = text.replace(".", "")
        pattern = _PATTERNS[key]
        if not pattern.fullmatch(text):
            raise _fail(source, f, f"{item!r} is not a {key.replace('_', ' ')} code (a trailing * matches a prefix)")
        if text.endswith("*"):
            prefixes.append(text[:-1])
        else:
            exact.add(text)
    shown = tuple(str(i).strip().upper() for i in items)
    return Patterns(frozenset(exact), tuple(prefixes), shown)


def _flag(value: object, source: str, field: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(source, field, f"expected true or false, got {_kind(value)}")
    return value


def _positive_int(value: object, source: str, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(source, field, f"expected a whole number of at least 1, got {_kind(value)}")
    return value


def _text(value: object, source: str, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(source, field, f"expected text, got {_kind(value)}")
    return value.strip()


def _parse(data: object, source: str) -> list[PayerConfig]:
    top = _mapping(data, source, "", ("version", "payers"))
    if top.get("version", 1) != 1:
        raise _fail(source, "version", f"version {top.get('version')!r} is not supported; use 1")
    payers = top.get("payers")
    if not isinstance(payers, list):
        raise _fail(source, "payers", f"expected a list of payers, got {_kind(payers)}")
    out: list[PayerConfig] = []
    for p, raw in enumerate(payers):
        out.append(_parse_payer(raw, source, f"payers[{p}]"))
    return out


def _parse_payer(raw: object, source: str, field: str) -> PayerConfig:
    entry = _mapping(raw, source, field, _PAYER_KEYS)
    if "payer_id" not in entry:
        raise _fail(source, f"{field}.payer_id", "required field missing")
    ids_raw = entry["payer_id"]
    id_list = ids_raw if isinstance(ids_raw, list) else [ids_raw]
    if not id_list:
        raise _fail(source, f"{field}.payer_id", "expected at least one payer id")
    ids: list[str] = []
    for k, pid in enumerate(id_list):
        f = f"{field}.payer_id[{k}]" if isinstance(ids_raw, list) else f"{field}.payer_id"
        if not isinstance(pid, str) or not pid.strip():
            raise _fail(source, f, f"expected a quoted payer id, got {_kind(pid)} (quote it: '12345')")
        ids.append(pid.strip())
    name = _text(entry["name"], source, f"{field}.name") if "name" in entry else None
    days = (
        _positive_int(entry["timely_filing_days"], source, f"{field}.timely_filing_days")
        if "timely_filing_days" in entry
        else None
    )
    reenable: set[str] = set()
    if "reenable" in entry:
        names = entry["reenable"]
        if not isinstance(names, list):
            raise _fail(source, f"{field}.reenable", f"expected a list of edit names, got {_kind(names)}")
        for k, edit in enumerate(names):
            if edit not in WITHDRAWN_EDITS:
                raise _fail(
                    source,
                    f"{field}.reenable[{k}]",
                    f"{edit!r} is not a withdrawn edit; one of {', '.join(WITHDRAWN_EDITS)}",
                )
            reenable.add(str(edit))
    label = f"{name} ({'/'.join(ids)})" if name else "/".join(ids)
    rules: list[PayerRule] = []
    raw_rules = entry.get("rules", [])
    if not isinstance(raw_rules, list):
        raise _fail(source, f"{field}.rules", f"expected a list of rules, got {_kind(raw_rules)}")
    seen: set[str] = set()
    for r, raw_rule in enumerate(raw_rules):
        made = _parse_rule(raw_rule, source, f"{field}.rules[{r}]", label)
        if made.id in seen:
            raise _fail(source, f"{field}.rules[{r}].id", f"rule id {made.id!r} is used twice for this payer")
        seen.add(made.id)
        rules.append(made)
    return PayerConfig(tuple(ids), name, days, frozenset(reenable), tuple(rules))


def _parse_rule(raw: object, source: str, field: str, payer_label: str) -> PayerRule:
    entry = _mapping(raw, source, field, _RULE_KEYS)
    if "id" not in entry:
        raise _fail(source, f"{field}.id", "required field missing")
    rid = entry["id"]
    if not isinstance(rid, str) or not _ID.fullmatch(rid):
        raise _fail(source, f"{field}.id", f"expected an id of letters, digits, - and _, got {_kind(rid)}")
    severity = Severity.ERROR
    if "severity" in entry:
        sev = entry["severity"]
        if sev not in ("error", "warning"):
            raise _fail(source, f"{field}.severity", f"expected error or warning, got {_kind(sev)}")
        severity = Severity(sev)
    if "description" in entry:
        _text(entry["description"], source, f"{field}.description")
    when_raw = _mapping(entry.get("when", {}) or {}, source, f"{field}.when", _WHEN_KEYS)
    claim_type: str | None = None
    when: dict[str, Patterns] = {}
    for key, value in when_raw.items():
        f = f"{field}.when.{key}"
        if key == "claim_type":
            if value not in CLAIM_TYPES:
                raise _fail(source, f, f"expected one of {', '.join(CLAIM_TYPES)}, got {_kind(value)}")
            claim_type = str(value)
        else:
            when[key] = _codes(value, source, f, key)
    if "require" not in entry and "forbid" not in entry:
        raise _fail(source, field, "a rule needs require or forbid")
    req = _mapping(entry.get("require", {}) or {}, source, f"{field}.require", _REQUIRE_KEYS)
    require_modifier = (
        _codes(req["modifier"], source, f"{field}.require.modifier", "modifier") if "modifier" in req else None
    )
    flags: set[str] = set()
    for key in ("prior_authorization", "referring_provider", "description", "ndc"):
        if key in req and _flag(req[key], source, f"{field}.require.{key}"):
            flags.add(key)
    max_units = _positive_int(req["max_units"], source, f"{field}.require.max_units") if "max_units" in req else None
    forb_raw = _mapping(entry.get("forbid", {}) or {}, source, f"{field}.forbid", _FORBID_KEYS)
    forbid = {key: _codes(value, source, f"{field}.forbid.{key}", key) for key, value in forb_raw.items()}
    if require_modifier is None and not flags and max_units is None and not forbid:
        raise _fail(source, field, "require/forbid give nothing to check")
    per_line = bool(
        _LINE_KEYS & (set(when) | set(forbid) | flags | ({"modifier"} if require_modifier else set()))
        or max_units is not None
    )
    message = _text(entry["message"], source, f"{field}.message") if "message" in entry else ""
    fix = _text(entry["fix"], source, f"{field}.fix") if "fix" in entry else ""
    made = PayerRule(
        id=rid,
        severity=severity,
        claim_type=claim_type,
        when=when,
        require_modifier=require_modifier,
        require_flags=frozenset(flags),
        max_units=max_units,
        forbid=forbid,
        message=message,
        fix=fix,
        per_line=per_line,
        where=f"{source} {field}",
    )
    if not message:
        made = _with_generated_text(made, payer_label)
    return made


def _with_generated_text(r: PayerRule, payer_label: str) -> PayerRule:
    from dataclasses import replace

    wants: list[str] = []
    fixes: list[str] = []
    if r.require_modifier is not None:
        wants.append(f"requires modifier {_or(r.require_modifier)}")
        fixes.append(f"add modifier {_or(r.require_modifier)}")
    phrases = {
        "prior_authorization": ("requires a prior authorization number", "add the prior authorization number"),
        "referring_provider": ("requires the referring provider", "add the referring provider"),
        "description": ("requires a line description", "describe the service on the line"),
        "ndc": ("requires the NDC", "add the drug's NDC, quantity and unit"),
    }
    for flag in sorted(r.require_flags):
        wants.append(phrases[flag][0])
        fixes.append(phrases[flag][1])
    if r.max_units is not None:
        units = f"{r.max_units} unit{'' if r.max_units == 1 else 's'}"
        wants.append(f"allows at most {units} per line")
        fixes.append(f"bill at most {units} per line")
    if "modifier" in r.forbid:
        wants.append(f"does not accept modifier {_or(r.forbid['modifier'])}")
        fixes.append(f"remove modifier {_or(r.forbid['modifier'])}")
    if "procedure" in r.forbid:
        wants.append(f"does not accept {_or(r.forbid['procedure'])}")
        fixes.append("bill a code the payer accepts")
    conds: list[str] = []
    if r.claim_type:
        conds.append(f"on {r.claim_type} claims")
    if "place_of_service" in r.when:
        conds.append(f"on POS {_or(r.when['place_of_service'])} lines")
    if "procedure" in r.when:
        conds.append(f"for {_or(r.when['procedure'])}")
    if "modifier" in r.when:
        conds.append(f"with modifier {_or(r.when['modifier'])}")
    if "revenue_code" in r.when:
        conds.append(f"for revenue code {_or(r.when['revenue_code'])}")
    if "diagnosis" in r.when:
        conds.append(f"when the claim has diagnosis {_or(r.when['diagnosis'])}")
    message = f"payer {payer_label} " + " and ".join(wants) + ("" if not conds else " " + " ".join(conds))
    return replace(r, message=message, fix=r.fix or "; ".join(fixes))


def _or(p: Patterns) -> str:
    shown = list(p.shown)
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


# ---------------------------------------------------------------------------------------------------
# the rule


def _claim_type_ok(claim_type: str | None, setting: ClaimSetting, claim: Claim) -> bool:
    if claim_type is None:
        return True
    if claim_type == "professional":
        return claim.kind is ClaimKind.PROFESSIONAL
    if claim_type == "institutional":
        return claim.kind is ClaimKind.INSTITUTIONAL
    return setting.value == claim_type


def _line_matches(r: PayerRule, claim: Claim, line: ServiceLine) -> bool:
    w = r.when
    if "place_of_service" in w:
        pos = line.place_of_service or claim.place_of_service
        if not w["place_of_service"].match(pos.value if pos else None):
            return False
    if "procedure" in w and not w["procedure"].match(line.procedure.value if line.procedure else None):
        return False
    if "modifier" in w and not any(w["modifier"].match(m.value) for m in line.modifiers):
        return False
    if "revenue_code" in w and not w["revenue_code"].match(line.revenue_code.value if line.revenue_code else None):
        return False
    return True


def _line_failures(r: PayerRule, claim: Claim, i: int, line: ServiceLine) -> Iterator[str]:
    """Locations on the line where the rule is broken."""
    if r.require_modifier is not None and not any(r.require_modifier.match(m.value) for m in line.modifiers):
        yield f"lines[{i}].modifiers"
    if "prior_authorization" in r.require_flags and not (line.prior_authorization or claim.prior_authorization):
        yield f"lines[{i}].prior_authorization"
    if "referring_provider" in r.require_flags and claim.referring_provider is None:
        yield "referring_provider"
    if "description" in r.require_flags and not (line.description or "").strip():
        yield f"lines[{i}].description"
    if "ndc" in r.require_flags and line.drug is None:
        yield f"lines[{i}].drug"
    if r.max_units is not None and line.units > r.max_units:
        yield f"lines[{i}].units"
    if "modifier" in r.forbid:
        for k, m in enumerate(line.modifiers):
            if r.forbid["modifier"].match(m.value):
                yield f"lines[{i}].modifiers[{k}]"
    if "procedure" in r.forbid and r.forbid["procedure"].match(line.procedure.value if line.procedure else None):
        yield f"lines[{i}].procedure"


def _claim_failures(r: PayerRule, claim: Claim) -> Iterator[str]:
    if "prior_authorization" in r.require_flags and not (
        claim.prior_authorization or any(ln.prior_authorization for ln in claim.lines)
    ):
        yield "prior_authorization"
    if "referring_provider" in r.require_flags and claim.referring_provider is None:
        yield "referring_provider"


def _finding(r: PayerRule, location: str) -> Finding:
    return Finding(
        rule=payer_rule.code,
        name="payer." + r.id.lower().replace("-", "_"),
        severity=r.severity,
        message=r.message,
        location=location,
        fix=r.fix,
    )


@rule("PAY001", name="payer.rule", family="payer", severity=Severity.ERROR)
def payer_rule(claim: Claim, ctx: ScrubContext) -> Iterator[Finding]:
    """A requirement from the practice's payer-rules file (YAML) for this claim's payer is not met.

    Each rule of the payer (or of "*") whose ``when`` conditions hold is checked: per line when it names
    a line field, else once per claim. Fails with the rule's severity (error by default) and message,
    named ``payer.<rule id>``, e.g. "payer 12345 requires modifier 95 on POS 10 lines". Passes when
    every requirement holds or no rule applies. Fix: as the rule's fix says.
    """
    if not ctx.payer_rules.configs:
        return
    facts = ctx.facts(claim)
    for config in ctx.payer_rules.for_payer(facts.payer_id):
        for r in config.rules:
            if not _claim_type_ok(r.claim_type, facts.setting, claim):
                continue
            if "diagnosis" in r.when and not any(r.when["diagnosis"].match(d.code.value) for d in claim.diagnoses):
                continue
            if r.per_line:
                reported_claim_level: set[str] = set()
                for i, line in enumerate(claim.lines):
                    if not _line_matches(r, claim, line):
                        continue
                    for loc in _line_failures(r, claim, i, line):
                        if not loc.startswith("lines["):
                            if loc in reported_claim_level:
                                continue
                            reported_claim_level.add(loc)
                        yield _finding(r, loc)
            else:
                for loc in _claim_failures(r, claim):
                    yield _finding(r, loc)
