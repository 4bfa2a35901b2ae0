"""``medbill users ...`` and ``medbill practices ...``: user and practice administration on this machine.

The command line acts as the local system administrator (:func:`medbill.services.context.system_actor`),
audited like anyone else. It opens the practice database from the settings (SQLCipher file in
``MEDBILL_HOME`` or ``MEDBILL_DATABASE_URL``) and brings its schema up to date first.

- ``medbill practices create NAME [--npi N] [--tax-id T]``
- ``medbill users create --practice ID --role ROLE USERNAME [--display-name X] [--password-stdin]``
  (the password is prompted for, twice, unless ``--password-stdin`` reads it from the first line of
  standard input); prints the otpauth:// URI to enrol the user's authenticator app (it holds the TOTP
  secret: hand it to the user only). A system administrator is created with ``--role system_admin`` and
  no ``--practice``.
- ``medbill users list [--practice ID]``
- ``medbill users unlock USERNAME`` and ``medbill users reset-mfa USERNAME`` (prints the new URI).

``register(group)`` adds the ``users`` and ``practices`` groups to ``group``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from medbill.cli.common import emit_json, handles_errors, json_option, settings
from medbill.core.errors import ValidationFailed
from medbill.services import auth
from medbill.services.context import system_actor
from medbill.services.permissions import Role
from medbill.store.db import Database

__all__ = ["practices_group", "register", "users_group"]


@contextmanager
def _database() -> Iterator[Database]:
    db = Database.from_settings(settings())
    try:
        db.migrate()
        yield db
    finally:
        db.dispose()


def _user_json(u: auth.UserInfo) -> dict[str, Any]:
    return {
        "id": u.id,
        "username": u.username,
        "display_name": u.display_name,
        "role": u.role.value,
        "practice_id": u.practice_id,
        "active": u.active,
        "mfa_enabled": u.mfa_enabled,
        "locked_until": u.locked_until.isoformat(timespec="seconds") if u.locked_until else None,
        "failed_logins": u.failed_logins,
    }


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise ValidationFailed("no password on standard input", field="password")
        return password
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    return value


@click.group("users")
def users_group() -> None:
    """Users of the practices: create, list, unlock, reset MFA (as the local system administrator)."""


@click.group("practices")
def practices_group() -> None:
    """Practices on this install (as the local system administrator)."""


@practices_group.command("create")
@click.argument("name")
@click.option("--npi", default=None, help="The practice's (group) NPI.")
@click.option("--tax-id", default=None, help="The practice's tax id (EIN, 9 digits).")
@json_option
@handles_errors
def practices_create(name: str, npi: str | None, tax_id: str | None, as_json: bool) -> None:
    """Create a practice and print its id."""
    with _database() as db:
        info = auth.create_practice(db, actor=system_actor(), name=name, npi=npi, tax_id=tax_id)
    if as_json:
        emit_json({"id": info.id, "name": info.name, "npi": info.npi, "tax_id": info.tax_id})
    else:
        click.echo(f"practice {info.id} created: {info.name}")


@users_group.command("create")
@click.argument("username")
@click.option("--practice", "practice_id", type=int, default=None, help="Practice id (not for system_admin).")
@click.option(
    "--role",
    required=True,
    type=click.Choice([r.value for r in Role]),
    help="The user's role.",
)
@click.option("--display-name", default="", help="Name shown in the application.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@json_option
@handles_errors
def users_create(
    username: str, practice_id: int | None, role: str, display_name: str, password_stdin: bool, as_json: bool
) -> None:
    """Create a user; prints the otpauth:// URI that enrols their authenticator (TOTP) app."""
    password = _read_password(password_stdin)
    with _database() as db:
        created = auth.create_user(
            db,
            actor=system_actor(practice_id),
            username=username,
            password=password,
            role=Role(role),
            practice_id=practice_id,
            display_name=display_name,
        )
    if as_json:
        emit_json({"id": created.user_id, "username": created.username, "otpauth_uri": created.otpauth_uri})
    else:
        click.echo(f"user {created.user_id} created: {created.username} ({role})")
        click.echo("authenticator enrolment (give to the user only; it holds the TOTP secret):")
        click.echo(created.otpauth_uri)


@users_group.command("list")
@click.option("--practice", "practice_id", type=int, default=None, help="Only this practice's users.")
@json_option
@handles_errors
def users_list(practice_id: int | None, as_json: bool) -> None:
    """List users with role, practice, state (active, MFA enrolled, locked)."""
    with _database() as db:
        users = auth.list_users(db, actor=system_actor(), practice_id=practice_id)
    if as_json:
        emit_json({"users": [_user_json(u) for u in users]})
        return
    if not users:
        click.echo("no users")
        return
    click.echo(f"{'id':>5}  {'username':<24} {'role':<15} {'practice':>8}  state")
    for u in users:
        state = ["active" if u.active else "inactive", "mfa" if u.mfa_enabled else "mfa pending"]
        if u.locked_until is not None:
            state.append(f"locked until {u.locked_until.isoformat(timespec='seconds')}Z")
        practice = "-" if u.practice_id is None else str(u.practice_id)
        click.echo(f"{u.id:>5}  {u.username:<24} {u.role.value:<15} {practice:>8}  {', '.join(state)}")


@users_group.command("unlock")
@click.argument("username")
@json_option
@handles_errors
def users_unlock(username: str, as_json: bool) -> None:
    """Lift a user's lockout (after repeated failed sign-ins) and clear the failure count."""
    with _database() as db:
        info = auth.unlock_user(db, actor=system_actor(), username=username)
    if as_json:
        emit_json(_user_json(info))
    else:
        click.echo(f"user {info.id} ({info.username}) unlocked")


@users_group.command("reset-mfa")
@click.argument("username")
@json_option
@handles_errors
def users_reset_mfa(username: str, as_json: bool) -> None:
    """Give a user a new TOTP secret (closes their sessions); prints the new otpauth:// URI."""
    with _database() as db:
        enrol = auth.reset_mfa(db, actor=system_actor(), username=username)
    if as_json:
        emit_json({"id": enrol.user_id, "otpauth_uri": enrol.otpauth_uri})
    else:
        click.echo(f"user {enrol.user_id}: MFA reset; their sessions are closed")
        click.echo("authenticator enrolment (give to the user only; it holds the TOTP secret):")
        click.echo(enrol.otpauth_uri)


def register(group: click.Group) -> None:
    group.add_command(users_group)
    group.add_command(practices_group)
