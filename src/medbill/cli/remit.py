"""``medbill remit read FILE`` (835 remittances) and ``medbill ack read FILE`` (999 and 277CA).

``remit read`` prints each 835 transaction set: payer, payee, payment and trace, every claim with its
status, amounts and CAS adjustments (group-CARC amount), every service line, the PLB provider-level
adjustments and the balancing problems ``remit_problems`` finds (a remittance that does not balance is
read and flagged, not refused). ``--json`` prints ``{"remittances": [...]}`` with each remittance's
fields and its ``problems``.

``ack read`` tells a 999 from a 277CA by the first functional group: GS01 FA is a 999; GS01 HN with
GS08 005010X214 a 277CA (GS08 005010X212, the claim status response, is refused with a message saying
so). ``--json`` prints ``{"kind": "999", "acks": [...]}`` or ``{"kind": "277CA", "claims": [...]}``.

A file that cannot be read gets one line naming the segment (``error: segment 21 SVC 2110 SVC01: ...``)
and exit status 2. ``register(group)`` adds the ``remit`` and ``ack`` groups to ``group`` (or the
commands to groups of those names already there).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import click

from medbill.cli.common import emit_json, handles_errors, json_option
from medbill.cli.x12_read import read_text
from medbill.core.codes import Code
from medbill.core.errors import X12ParseError
from medbill.core.remit import (
    ClaimAck,
    ClaimPayment,
    FunctionalAck,
    Remittance,
    ServicePayment,
    remit_problems,
)

__all__ = ["ack_group", "ack_read_command", "register", "remit_group", "remit_read_command", "to_json"]

_STATUS_NAMES = {
    "1": "processed as primary",
    "2": "processed as secondary",
    "3": "processed as tertiary",
    "4": "denied",
    "19": "processed as primary, forwarded",
    "20": "processed as secondary, forwarded",
    "21": "processed as tertiary, forwarded",
    "22": "reversal of previous payment",
    "23": "not our claim, forwarded",
    "25": "predetermination pricing only",
}
_ACK_NAMES = {
    "A": "accepted",
    "E": "accepted with errors",
    "R": "rejected",
    "P": "partially accepted",
    "M": "rejected, message authentication failed",
    "W": "rejected, assurance failed validity tests",
    "X": "rejected, content could not be analyzed",
}


def to_json(value: Any) -> Any:
    """A record as JSON values: Decimal as text ("12.50"), dates ISO, enums and codes by value."""
    if isinstance(value, Code):
        return value.value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [to_json(v) for v in value]
    return value


def remittance_json(remit: Remittance) -> dict[str, Any]:
    out: dict[str, Any] = to_json(remit)
    out["problems"] = [{"location": p.location, "message": p.message} for p in remit_problems(remit)]
    return out


def _cas(adjustments: Any) -> str:
    return "  ".join(
        f"{a.group.value}-{a.reason.value} {a.amount}" + (f" x{a.quantity}" if a.quantity is not None else "")
        for a in adjustments
    )


def _service(s: ServicePayment) -> list[str]:
    code = ":".join((s.procedure, *s.modifiers))
    head = f"    line {s.procedure_qualifier} {code}  charge {s.charge}  paid {s.paid}"
    if s.units_paid != 1:
        head += f"  units {s.units_paid}"
    if s.allowed is not None:
        head += f"  allowed {s.allowed}"
    if s.service_date is not None:
        head += f"  {s.service_date.isoformat()}"
        if s.service_date_to is not None:
            head += f"..{s.service_date_to.isoformat()}"
    if s.control_number:
        head += f"  line control {s.control_number}"
    if s.submitted_procedure:
        head += f"  submitted {':'.join((s.submitted_procedure, *s.submitted_modifiers))}"
    out = [head]
    if s.adjustments:
        out.append(f"      CAS {_cas(s.adjustments)}")
    if s.remarks:
        out.append(f"      remarks {' '.join(s.remarks)}")
    return out


def _claim(c: ClaimPayment) -> list[str]:
    status = _STATUS_NAMES.get(c.status.value, c.status.value)
    head = (
        f"  claim {c.patient_control_number}  status {c.status.value} ({status})  charge {c.charge}  "
        f"paid {c.paid}  patient {c.patient_responsibility}"
    )
    if c.payer_claim_number:
        head += f"  payer claim {c.payer_claim_number}"
    out = [head]
    if c.adjustments:
        out.append(f"    CAS {_cas(c.adjustments)}")
    if c.remarks:
        out.append(f"    remarks {' '.join(c.remarks)}")
    for s in c.services:
        out.extend(_service(s))
    return out


def remittance_lines(remit: Remittance) -> list[str]:
    payee = remit.payee.name
    if remit.payee.identifier:
        payee += f" ({remit.payee.identifier_qualifier} {remit.payee.identifier})"
    out = [f"835 {remit.control_number} from {remit.payer.name} to {payee}"]
    when = f" on {remit.payment_date.isoformat()}" if remit.payment_date else ""
    out.append(
        f"  payment {remit.payment_amount} {remit.credit_debit} {remit.payment_method or ''}{when}, "
        f"trace {remit.trace_number} (payer {remit.payer_trace_id}), {len(remit.claims)} "
        f"claim{'s' if len(remit.claims) != 1 else ''}"
    )
    for c in remit.claims:
        out.extend(_claim(c))
    for p in remit.provider_adjustments:
        reference = f":{p.reference}" if p.reference else ""
        out.append(f"  PLB {p.provider_id} {p.reason}{reference} {p.amount}")
    problems = remit_problems(remit)
    if problems:
        out.append(f"  does not balance ({len(problems)} problem{'s' if len(problems) != 1 else ''}):")
        out.extend(f"    {p.location}: {p.message}" for p in problems)
    else:
        out.append("  balances: BPR02, every claim and every line")
    return out


@click.group("remit")
def remit_group() -> None:
    """835 remittances: read (and post, with the ledger)."""


@click.command("read")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--drop",
    "drop",
    multiple=True,
    metavar="KEY",
    help="Accept losing data medbill remittances do not carry (a key the error names, e.g. RDM). Repeatable.",
)
@json_option
@handles_errors
def remit_read_command(file: Path, drop: tuple[str, ...], as_json: bool) -> None:
    """Read an 835 FILE: claims, amounts, adjustments and balancing problems (JSON with --json)."""
    from medbill.x12.read835 import read_835

    remits = read_835(read_text(file), drop=drop)
    if as_json:
        emit_json({"remittances": [remittance_json(r) for r in remits]})
        return
    for k, remit in enumerate(remits):
        if k:
            click.echo("")
        for line in remittance_lines(remit):
            click.echo(line)


def ack_kind(text: str) -> str:
    """``"999"`` or ``"277CA"`` from the first functional group (GS01/GS08); raises otherwise."""
    from medbill.x12.tokenizer import tokenize

    for interchange in tokenize(text).interchanges:
        for seg in interchange.segments:
            if seg.id != "GS":
                continue
            gs01, gs08 = seg.text(1), seg.text(8)
            if gs01 == "FA":
                return "999"
            if gs01 == "HN":
                return "277CA"  # read_277ca refuses the claim status response (X212), naming GS08
            raise X12ParseError(
                f"is {gs01 or '(empty)'} (GS08 {gs08 or 'empty'}): not an acknowledgment; ack read reads 999 "
                "(GS01 FA) and 277CA (GS01 HN, GS08 005010X214) files",
                segment_index=seg.index,
                segment_id="GS",
                element="GS01",
            )
    raise X12ParseError("the file has no functional group (GS)", segment_index=1)


def ack_lines(acks: list[FunctionalAck]) -> list[str]:
    out: list[str] = []
    for ack in acks:
        out.append(
            f"999 for group {ack.group_control_number} ({ack.functional_id}"
            + (f", {ack.implementation}" if ack.implementation else "")
            + f"): {ack.status.value} {_ACK_NAMES.get(ack.status.value, '')} - {ack.included} included, "
            f"{ack.received} received, {ack.accepted} accepted"
        )
        out.extend(f"  group error: {e}" for e in ack.errors)
        for t in ack.transactions:
            out.append(
                f"  {t.transaction_id} {t.control_number}: {t.status.value} {_ACK_NAMES.get(t.status.value, '')}"
            )
            out.extend(f"    {e}" for e in t.errors)
    return out


def claim_ack_lines(claims: list[ClaimAck]) -> list[str]:
    accepted = sum(1 for c in claims if c.accepted)
    rejected = len(claims) - accepted
    out = [f"277CA: {len(claims)} claim{'s' if len(claims) != 1 else ''}, {accepted} accepted, {rejected} rejected"]
    for c in claims:
        status = ":".join(p for p in (c.category, c.status, c.entity) if p)
        line = f"  {c.patient_control_number}  {'accepted' if c.accepted else 'REJECTED'}  {status}"
        if c.payer_claim_number:
            line += f"  payer claim {c.payer_claim_number}"
        if c.charge is not None:
            line += f"  charge {c.charge}"
        out.append(line)
        out.extend(f"    {m}" for m in c.messages)
        out.extend(f"    line {control or '?'}: {category}:{code}" for control, category, code in c.line_statuses)
    return out


@click.group("ack")
def ack_group() -> None:
    """999 and 277CA acknowledgments."""


@click.command("read")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
@handles_errors
def ack_read_command(file: Path, as_json: bool) -> None:
    """Read a 999 or 277CA FILE (told apart by GS01/GS08): accepted/rejected with the errors."""
    text = read_text(file)
    kind = ack_kind(text)
    if kind == "999":
        from medbill.x12.read999 import read_999

        acks = read_999(text)
        if as_json:
            emit_json({"kind": "999", "acks": to_json(acks)})
            return
        for line in ack_lines(acks):
            click.echo(line)
        return
    from medbill.x12.read277 import read_277ca

    claims = read_277ca(text)
    if as_json:
        emit_json({"kind": "277CA", "claims": to_json(claims)})
        return
    for line in claim_ack_lines(claims):
        click.echo(line)


def _into(group: click.Group, sub: click.Group, command: click.Command) -> None:
    existing = group.commands.get(sub.name or "")
    if isinstance(existing, click.Group) and existing is not sub:
        existing.add_command(command)
        return
    sub.add_command(command)
    group.add_command(sub)


def register(group: click.Group) -> None:
    """Add ``remit read`` and ``ack read`` to ``group`` (the top-level ``medbill`` group)."""
    _into(group, remit_group, remit_read_command)
    _into(group, ack_group, ack_read_command)
