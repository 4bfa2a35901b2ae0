"""``medbill code`` and ``medbill search``."""

from __future__ import annotations

import textwrap

import click

from medbill.cli.common import emit_json, handles_errors, json_option, parse_date, settings
from medbill.codesets.refstore import CodeInfo
from medbill.core.codes import CodeSystem
from medbill.services.reference import lookup_code, search_codes

_NOTE_LABEL = {
    "inclusion": "Inclusion term",
    "includes": "Includes",
    "excludes1": "Excludes1",
    "excludes2": "Excludes2",
    "code_first": "Code first",
    "use_additional": "Use additional code",
    "code_also": "Code also",
    "note": "Note",
    "seven_chr_note": "7th character note",
}


def _print_info(info: CodeInfo) -> None:
    claim_code = info.system in (CodeSystem.ICD10CM, CodeSystem.ICD10PCS, CodeSystem.CPT, CodeSystem.HCPCS)
    if claim_code:
        status = "billable" if info.billable else ("valid, not billable" if info.valid else "NOT VALID")
    else:
        status = "in effect" if info.valid else "NOT IN EFFECT"
    click.echo(f"{info.display}  [{info.system.label}, {info.kind}, {status} on {info.as_of.isoformat()}]")
    click.echo(f"  {info.description or '(no description)'}")
    if info.description_note:
        click.echo(f"  ({info.description_note})")
    if info.short_description and info.short_description != info.description:
        click.echo(f"  short: {info.short_description}")
    for w in info.warnings:
        click.secho(f"  warning: {w}", fg="yellow")
    if info.path:
        click.echo("  hierarchy:")
        for depth, node in enumerate(info.path):
            click.echo(f"    {'  ' * depth}{node.display}  {node.description or ''}")
    if info.validity:
        spans = ", ".join(
            f"{v.valid_from.isoformat()}..{v.valid_to.isoformat() if v.valid_to else 'open'}" for v in info.validity
        )
        click.echo(f"  valid: {spans}")
    if info.flags:
        click.echo(f"  edit flags on {info.as_of.isoformat()}: {', '.join(info.flags)}")
    if info.needs_seventh:
        click.echo("  needs a 7th character:")
    elif info.seventh_characters:
        click.echo("  7th characters:")
    for char, text in info.seventh_characters:
        click.echo(f"    {char}  {text}")
    if info.notes:
        click.echo("  notes:")
        for n in info.notes:
            where = f" (from {n.at})" if n.inherited else ""
            line = f"{_NOTE_LABEL.get(n.kind, n.kind)}{where}: {n.text}"
            click.echo(textwrap.fill(line, width=100, initial_indent="    ", subsequent_indent="      "))
    if info.children:
        click.echo(f"  children ({len(info.children)}):")
        for child in info.children[:30]:
            click.echo(f"    {child.display}  {child.description or ''}")
        if len(info.children) > 30:
            click.echo(f"    ... {len(info.children) - 30} more")
    if info.attrs:
        keys = ", ".join(f"{k}={v}" for k, v in sorted(info.attrs.items()) if v not in (None, "", [], {}))
        if keys:
            click.echo(textwrap.fill(f"attributes: {keys}", width=100, initial_indent="  ", subsequent_indent="    "))


@click.command("code")
@click.argument("code")
@click.option("--system", "-s", help="Code system (icd10cm, icd10pcs, cpt, hcpcs, modifier, pos, carc, rarc, revenue).")
@click.option("--date", "on", help="Date of service (YYYY-MM-DD); default today.")
@json_option
@handles_errors
def code_cmd(code: str, system: str | None, on: str | None, as_json: bool) -> None:
    """Look a code up: description, hierarchy, notes in effect, 7th characters, validity dates.

    Codes are accepted with or without dots, in any case. A bare undotted code that fits two
    systems (J1100: ICD-10-CM J11.00 and HCPCS J1100) shows both unless --system is given.
    """
    infos = lookup_code(code, settings=settings(), system=system, on=parse_date(on))
    if as_json:
        emit_json([i.to_dict() for i in infos])
        return
    for n, info in enumerate(infos):
        if n:
            click.echo("")
        _print_info(info)


@click.command("search")
@click.argument("query", nargs=-1, required=True)
@click.option("--system", "-s", "systems", multiple=True, help="Only this code system (repeatable).")
@click.option("--billable", is_flag=True, help="Only codes that can go on a claim.")
@click.option("--limit", "-n", default=20, show_default=True, type=click.IntRange(1, 500))
@click.option("--explain", is_flag=True, help="Show why each hit ranks where it does.")
@json_option
@handles_errors
def search_cmd(
    query: tuple[str, ...], systems: tuple[str, ...], billable: bool, limit: int, explain: bool, as_json: bool
) -> None:
    """Search codes by words the way a coder uses the Index (abbreviations, any word order, typos).

    A code or code prefix (E11, S72.0, 0DT) lists the codes under it.
    """
    hits = search_codes(
        " ".join(query),
        settings=settings(),
        systems=list(systems) or None,
        billable_only=billable,
        limit=limit,
    )
    if as_json:
        emit_json([h.to_dict() for h in hits])
        return
    if not hits:
        click.echo("no matches")
        return
    for h in hits:
        mark = " " if h.billable else "*"
        click.echo(f"{h.display:<9}{mark} {h.description or h.matched}")
        if explain:
            click.echo(f"            {h.source}: {h.matched}  [{h.why}; score {h.score:.2f}]")
    if any(not h.billable for h in hits):
        click.echo("(* = not billable: a category or a code that needs more characters)")


def register(group: click.Group) -> None:
    group.add_command(code_cmd)
    group.add_command(search_cmd)
