"""``medbill x12 837p`` and ``medbill x12 837i``: claims JSON to an X12 837 file.

A thin skin over ``medbill.x12.write837``: the claims come from a claims document
(``medbill.core.claim.claims_from_json``), the interchange settings from a partner file and/or the
environment, the control numbers from the SQLite sequence file (``medbill.x12.sequence``). The output is
written to a temporary file beside the target and renamed over it, so it is never half-written; nothing
is written at all when a claim cannot be.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

import click

from medbill.cli.common import emit_json, handles_errors, json_option, settings
from medbill.core.claim import ClaimFormatError, claims_from_json
from medbill.core.errors import MedbillError
from medbill.x12.envelope import InterchangeSettings, X12WriteError, interchange_settings_from_mapping
from medbill.x12.sequence import SqliteControlNumbers
from medbill.x12.write837 import Written837, build_837i, build_837p

ENV_PREFIX = "MEDBILL_X12_"

# environment variable suffix -> settings key (contact fields nest under submitter_contact)
_ENV_KEYS: dict[str, str] = {
    "SENDER_ID": "sender_id",
    "SENDER_QUALIFIER": "sender_qualifier",
    "RECEIVER_ID": "receiver_id",
    "RECEIVER_QUALIFIER": "receiver_qualifier",
    "APPLICATION_SENDER_CODE": "application_sender_code",
    "APPLICATION_RECEIVER_CODE": "application_receiver_code",
    "SUBMITTER_NAME": "submitter_name",
    "SUBMITTER_ID": "submitter_id",
    "SUBMITTER_IS_PERSON": "submitter_is_person",
    "SUBMITTER_FIRST_NAME": "submitter_first_name",
    "RECEIVER_NAME": "receiver_name",
    "RECEIVER_PRIMARY_ID": "receiver_primary_id",
    "USAGE_INDICATOR": "usage_indicator",
    "ACKNOWLEDGMENT_REQUESTED": "acknowledgment_requested",
    "MAX_CLAIMS_PER_TRANSACTION": "max_claims_per_transaction",
    "TRANSACTION_TYPE": "transaction_type",
    "PARTNER": "partner",
}
_ENV_CONTACT: dict[str, str] = {
    "SUBMITTER_CONTACT_NAME": "name",
    "SUBMITTER_PHONE": "phone",
    "SUBMITTER_PHONE_EXTENSION": "phone_extension",
    "SUBMITTER_FAX": "fax",
    "SUBMITTER_EMAIL": "email",
}

_SETTINGS_HELP = """
\b
Interchange settings come from --partner (a TOML or JSON file whose keys are the setting names, with
[submitter_contact] and [delimiters] tables); keys the file leaves out come from the environment:
  MEDBILL_X12_SENDER_ID                    ISA06 (and GS02)
  MEDBILL_X12_SENDER_QUALIFIER             ISA05 (default ZZ)
  MEDBILL_X12_RECEIVER_ID                  ISA08 (and GS03)
  MEDBILL_X12_RECEIVER_QUALIFIER           ISA07 (default ZZ)
  MEDBILL_X12_APPLICATION_SENDER_CODE      GS02 when it differs from ISA06
  MEDBILL_X12_APPLICATION_RECEIVER_CODE    GS03 when it differs from ISA08
  MEDBILL_X12_SUBMITTER_NAME               1000A NM103
  MEDBILL_X12_SUBMITTER_ID                 1000A NM109 (the ETIN the receiver gave you)
  MEDBILL_X12_SUBMITTER_CONTACT_NAME       1000A PER02
  MEDBILL_X12_SUBMITTER_PHONE              1000A PER TE (a phone, fax or email is required)
  MEDBILL_X12_SUBMITTER_PHONE_EXTENSION    1000A PER EX
  MEDBILL_X12_SUBMITTER_FAX                1000A PER FX
  MEDBILL_X12_SUBMITTER_EMAIL              1000A PER EM
  MEDBILL_X12_RECEIVER_NAME                1000B NM103
  MEDBILL_X12_RECEIVER_PRIMARY_ID          1000B NM109 (default: ISA08)
  MEDBILL_X12_USAGE_INDICATOR              ISA15: T test (default) or P production
  MEDBILL_X12_ACKNOWLEDGMENT_REQUESTED     ISA14: true/false (TA1)
  MEDBILL_X12_MAX_CLAIMS_PER_TRANSACTION   claims per ST/SE (default and maximum 5000)
  MEDBILL_X12_PARTNER                      key the control numbers are kept under
  MEDBILL_X12_SEQUENCE                     control-number file (or --sequence; default
                                           $MEDBILL_HOME/x12-control-numbers.sqlite)
ISA13, GS06 and ST02 come from that file, per trading partner, and are never reused.
"""


def env_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """The ``MEDBILL_X12_*`` variables as a settings mapping (empty values ignored)."""
    out: dict[str, Any] = {}
    for suffix, key in _ENV_KEYS.items():
        value = environ.get(ENV_PREFIX + suffix)
        if value:
            out[key] = value
    contact = {
        key: environ[ENV_PREFIX + suffix] for suffix, key in _ENV_CONTACT.items() if environ.get(ENV_PREFIX + suffix)
    }
    if contact:
        out["submitter_contact"] = contact
    return out


def _env_name(key: str) -> str:
    for suffix, name in _ENV_KEYS.items():
        if name == key:
            return ENV_PREFIX + suffix
    return ENV_PREFIX + key.upper()


def load_partner_file(path: Path) -> dict[str, Any]:
    """A partner file (TOML, or JSON when it ends in .json) as a mapping."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MedbillError(f"{path}: cannot read the partner file ({exc.strerror})") from None
    try:
        data: object = json.loads(raw) if path.suffix.lower() == ".json" else tomllib.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MedbillError(
            f"{path}: not a valid {'JSON' if path.suffix.lower() == '.json' else 'TOML'} file: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise MedbillError(f"{path}: expected a table/object of settings")
    return data


def resolve_settings(partner: Path | None, environ: Mapping[str, str]) -> tuple[InterchangeSettings, str]:
    """Settings (the partner file over the environment) and the control-number partner key."""
    from_env = env_settings(environ)
    from_file = load_partner_file(partner) if partner is not None else {}
    merged = {**from_env, **from_file}
    if "submitter_contact" in from_env and "submitter_contact" in from_file:
        merged["submitter_contact"] = from_file["submitter_contact"]
    try:
        interchange = interchange_settings_from_mapping(merged, source="x12")
    except X12WriteError as exc:
        dotted = exc.path.removeprefix("x12").lstrip(".")
        key = dotted.split(".")[0]
        if not key:
            where = f"{partner} / {ENV_PREFIX}*" if partner else f"{ENV_PREFIX}* (or --partner)"
        elif key in from_file:
            where = f"{partner}: {dotted}"
        else:
            where = _env_name(key)
        raise MedbillError(f"interchange settings {where}: {exc.detail}", hint=exc.hint) from None
    partner_key = merged.get("partner")
    if partner_key is not None and not isinstance(partner_key, str):
        raise MedbillError(f"{partner}: partner: expected a string")
    return interchange, partner_key or interchange.partner_key


def load_claims(path: Path) -> tuple[Any, ...]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MedbillError(f"{path}: cannot read the claims file ({exc.strerror})") from None
    try:
        return claims_from_json(raw)
    except ClaimFormatError as exc:
        raise MedbillError(f"{path}: {exc.message}", hint=exc.hint) from None


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise MedbillError(f"{path}: the folder {directory} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)  # mode 0600: PHI
    try:
        with os.fdopen(fd, "w", encoding="ascii", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _parse_timestamp(value: str | None) -> dt.datetime:
    if value is None:
        return dt.datetime.now()
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO date-time (YYYY-MM-DDTHH:MM)") from None


def _summary(written: Written837, out: Path, partner_key: str) -> dict[str, Any]:
    return {
        "file": str(out),
        "version": written.version,
        "claims": written.claim_count,
        "partner": partner_key,
        "control_numbers": {
            "interchange": written.interchange_control_number,
            "group": written.group_control_number,
            "transactions": [t.control_number for t in written.transactions],
        },
        "transactions": [
            {"control_number": t.control_number, "segments": t.segment_count, "claims": list(t.claim_ids)}
            for t in written.transactions
        ],
    }


def _command(name: str, kind: str, build: Callable[..., Written837]) -> click.Command:
    @click.command(name, help=f"Write the claims in CLAIMS_JSON as an X12 {kind} file.\n{_SETTINGS_HELP}")
    @click.argument("claims_json", type=click.Path(dir_okay=False, path_type=Path))
    @click.option(
        "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The 837 file to write."
    )
    @click.option(
        "--partner", type=click.Path(dir_okay=False, path_type=Path), help="Partner settings file (.toml or .json)."
    )
    @click.option("--sequence", type=click.Path(dir_okay=False, path_type=Path), help="Control-number file (SQLite).")
    @click.option("--timestamp", help="ISA09/ISA10, GS04/GS05 and BHT04/BHT05 (ISO date-time; default now).")
    @json_option
    @handles_errors
    def command(
        claims_json: Path,
        output: Path,
        partner: Path | None,
        sequence: Path | None,
        timestamp: str | None,
        as_json: bool,
    ) -> None:
        when = _parse_timestamp(timestamp)
        interchange, partner_key = resolve_settings(partner, os.environ)
        claims = load_claims(claims_json)
        sequence_path = sequence or Path(
            os.environ.get(ENV_PREFIX + "SEQUENCE") or settings().home / "x12-control-numbers.sqlite"
        )
        with SqliteControlNumbers(sequence_path, partner=partner_key) as numbers:
            written = build(claims, interchange, numbers, when=when)
        write_atomic(output, written.text)
        summary = _summary(written, output, partner_key)
        if as_json:
            emit_json(summary)
            return
        numbers_text = ", ".join(summary["control_numbers"]["transactions"])
        click.echo(
            f"wrote {output}: {written.claim_count} claims, {kind} {written.version}, "
            f"ISA13 {written.interchange_control_number}, GS06 {written.group_control_number}, ST02 {numbers_text}"
        )

    return command


def register(group: click.Group) -> None:
    """Add this module's commands to the ``x12`` group."""
    group.add_command(_command("837p", "837P", build_837p))
    group.add_command(_command("837i", "837I", build_837i))
