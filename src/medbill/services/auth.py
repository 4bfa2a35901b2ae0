"""Authentication and user management: passwords, TOTP, sessions, lockout, break-glass, users, practices.

HIPAA Security Rule 45 CFR 164.312(a)(2)(i) unique user identification, (a)(2)(ii) emergency access,
(a)(2)(iii) automatic logoff, (d) person or entity authentication; the audit (164.312(b)) of every
sign-in, failure, lockout, sign-out, emergency access and user change goes through
:mod:`medbill.services.audit`.

- Passwords: argon2id (argon2-cffi), RFC 9106's second recommended profile — t=3 passes, m=64 MiB,
  p=4 lanes, 16-byte salt, 32-byte tag (~0.2 s here). A stored hash made with other parameters is
  rehashed at the next successful sign-in. Policy: 12–256 characters, at least 5 distinct characters,
  not containing the username, not one of :data:`COMMON_PASSWORDS`.
- TOTP (RFC 6238, pyotp): SHA-1, 30-second steps, 6 digits, the current step ±1 accepted; a step is
  accepted once per user (``User.last_totp_step``: a step at or below the last accepted one is a replay).
  The secret (160 bits, base32) is stored encrypted (``User.totp_secret`` is an ``EncryptedText``).
- Sign-in: :func:`login` checks the password and opens a session whose bearer token
  (``secrets.token_urlsafe(32)``) is returned once; only its SHA-256 is stored. The session is unusable
  until :func:`verify_mfa` accepts a TOTP code (every role in ``MFA_REQUIRED``), within 5 minutes.
  Unknown user, inactive user, locked account and wrong password give the same message, and an unknown
  user costs the same argon2 work (a dummy hash is verified).
- Lockout: 5 consecutive failures (wrong password or wrong TOTP code) lock the account for 15 minutes;
  the lockout is audited. Only a passed MFA step (or an administrator's unlock) clears the counter.
- Sessions: idle timeout 15 minutes, absolute timeout 12 hours; ``last_seen_at`` is written at most
  every 30 seconds. A session found expired is closed and the automatic logoff audited.
- Break-glass: a stated reason (10+ characters), kept on the session and in the audit record; it grants
  the read-only PHI permissions of :func:`medbill.services.permissions.allowed` for that session only.
- User management: ``USER_WRITE`` / ``USER_READ``; a practice administrator manages the users of their own
  practice only and cannot create system administrators; users of another practice are not found.

Times are naive UTC ``datetime`` values; every function takes ``now`` so tests control the clock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import pyotp
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from medbill.core.claim import is_valid_npi
from medbill.core.errors import AuthenticationRequired, Conflict, NotFound, PermissionDenied, ValidationFailed
from medbill.services import audit
from medbill.services.audit import AuditAction, AuditOutcome
from medbill.services.context import Actor, system_actor
from medbill.services.permissions import MFA_REQUIRED, Permission, Role, allowed
from medbill.store import audit as store_audit
from medbill.store.db import Database
from medbill.store.models import Practice, User, UserSession, utcnow

__all__ = [
    "ABSOLUTE_TIMEOUT",
    "COMMON_PASSWORDS",
    "IDLE_TIMEOUT",
    "LOCKOUT_DURATION",
    "LOCKOUT_THRESHOLD",
    "LOGIN_FAILED",
    "MFA_PENDING_TIMEOUT",
    "PASSWORD_HASHER",
    "TOTP_DIGITS",
    "TOTP_INTERVAL",
    "TOTP_WINDOW",
    "TOUCH_INTERVAL",
    "LoginResult",
    "MfaEnrolment",
    "PracticeInfo",
    "UserCreated",
    "UserInfo",
    "authenticate",
    "bootstrap",
    "break_glass",
    "change_password",
    "check_password_policy",
    "create_practice",
    "create_user",
    "deactivate_user",
    "get_user",
    "hash_password",
    "hash_token",
    "list_users",
    "login",
    "logout",
    "logout_all",
    "reset_mfa",
    "set_role",
    "totp_step",
    "unlock_user",
    "verify_mfa",
]

# ----------------------------------------------------------------------------------------------- parameters
PASSWORD_HASHER = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4, hash_len=32, salt_len=16, type=Type.ID)
"""argon2id, RFC 9106 second recommended option (t=3, m=64 MiB, p=4). Tests may swap in cheaper parameters."""

PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 256
PASSWORD_MIN_DISTINCT = 5

TOTP_INTERVAL = 30  # seconds per step (RFC 6238 default)
TOTP_DIGITS = 6
TOTP_WINDOW = 1  # steps accepted either side of the current one (clock drift)
TOTP_ISSUER = "medbill"

LOCKOUT_THRESHOLD = 5  # consecutive failures
LOCKOUT_DURATION = dt.timedelta(minutes=15)
IDLE_TIMEOUT = dt.timedelta(minutes=15)
ABSOLUTE_TIMEOUT = dt.timedelta(hours=12)
MFA_PENDING_TIMEOUT = dt.timedelta(minutes=5)  # time to enter the TOTP code after the password
TOUCH_INTERVAL = dt.timedelta(seconds=30)  # last_seen_at is written at most this often

BREAK_GLASS_MIN_REASON = 10

LOGIN_FAILED = "sign-in failed: wrong username or password, or the account is temporarily locked"
"""The one message for every password-step failure (no user enumeration)."""
_SESSION_INVALID = "not signed in: the session is missing, expired or closed; sign in again"
_MFA_FAILED = "the authentication code was not accepted"

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{2,119}$")

COMMON_PASSWORDS: frozenset[str] = frozenset(
    """
    123456789012 1234567890123 12345678901234 123456123456 111111111111 000000000000 123123123123
    password1234 password12345 password123456 password1234! passwordpassword p@ssw0rd1234 p@ssword1234
    qwertyuiop12 qwertyuiop123 qwertyuiopasdf 1qaz2wsx3edc 1q2w3e4r5t6y 1q2w3e4r5t6y7u qazwsxedcrfv
    asdfghjkl123 zxcvbnm12345 abcdefghijkl abc123abc123 abcd1234abcd iloveyou1234 letmein12345
    welcome12345 welcome123456 changeme1234 changeme12345 administrator admin1234567 admin12345678
    adminadmin12 administrator1 trustno1trustno1 sunshine1234 football1234 baseball1234 princess1234
    monkey123456 dragon123456 master123456 superman1234 starwars1234 whatever1234 michael12345
    password2023 password2024 password2025 password2026 summer2024!! winter2025!! spring2025!!
    medbill12345 medbillmedbill hospital1234 doctor123456 nurse1234567 patient12345 billing12345
    healthcare123 medical12345 qwerty123456 qwertyqwerty 1234qwerasdf correcthorsebatterystaple
    """.split()
)
"""Common passwords of 12+ characters (shorter ones fail the length rule anyway); compared case-insensitively."""


# ----------------------------------------------------------------------------------------------- results
@dataclass(frozen=True, slots=True, kw_only=True)
class LoginResult:
    token: str  # the bearer token: shown once, only its SHA-256 is stored
    session_id: int
    user_id: int
    mfa_required: bool  # True: call verify_mfa before the session is usable
    expires_at: dt.datetime  # the absolute timeout


@dataclass(frozen=True, slots=True, kw_only=True)
class UserCreated:
    user_id: int
    username: str
    otpauth_uri: str  # give to the user once, for their authenticator app (it holds the TOTP secret)


@dataclass(frozen=True, slots=True, kw_only=True)
class MfaEnrolment:
    user_id: int
    otpauth_uri: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UserInfo:
    id: int
    username: str
    display_name: str
    role: Role
    practice_id: int | None
    active: bool
    mfa_enabled: bool
    locked_until: dt.datetime | None
    failed_logins: int
    created_at: dt.datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PracticeInfo:
    id: int
    name: str
    npi: str | None
    tax_id: str | None


# ----------------------------------------------------------------------------------------------- passwords
def hash_password(password: str) -> str:
    return PASSWORD_HASHER.hash(password)


@lru_cache(maxsize=4)
def _dummy_hash(params: tuple[int, int, int, int, int]) -> str:
    t, m, p, hash_len, salt_len = params
    hasher = PasswordHasher(time_cost=t, memory_cost=m, parallelism=p, hash_len=hash_len, salt_len=salt_len)
    return hasher.hash(secrets.token_urlsafe(16))


def _hasher_params() -> tuple[int, int, int, int, int]:
    h = PASSWORD_HASHER
    return (h.time_cost, h.memory_cost, h.parallelism, h.hash_len, h.salt_len)


def _verify_password(stored: str, password: str) -> bool:
    try:
        return PASSWORD_HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _burn_password_work(password: str) -> None:
    """The same argon2 work as a real check, for unknown or locked users (no timing difference)."""
    _verify_password(_dummy_hash(_hasher_params()), password)


def check_password_policy(password: str, *, username: str) -> None:
    """Raise ValidationFailed (field ``password``) unless ``password`` meets the policy."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise ValidationFailed(f"the password must have at least {PASSWORD_MIN_LENGTH} characters", field="password")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise ValidationFailed(f"the password must have at most {PASSWORD_MAX_LENGTH} characters", field="password")
    if len(set(password)) < PASSWORD_MIN_DISTINCT:
        raise ValidationFailed(
            f"the password must use at least {PASSWORD_MIN_DISTINCT} different characters", field="password"
        )
    folded = password.casefold()
    name = username.strip().casefold()
    if name and name in folded:
        raise ValidationFailed("the password must not contain the username", field="password")
    if folded in COMMON_PASSWORDS:
        raise ValidationFailed("this password is too common; choose another", field="password")


# ----------------------------------------------------------------------------------------------- TOTP
def totp_step(now: dt.datetime) -> int:
    """The RFC 6238 time step of a naive UTC time."""
    return int(now.replace(tzinfo=dt.UTC).timestamp()) // TOTP_INTERVAL


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_INTERVAL)


def _provisioning_uri(secret: str, username: str) -> str:
    return _totp(secret).provisioning_uri(name=username, issuer_name=TOTP_ISSUER)


def _match_totp(secret: str, code: str, now: dt.datetime) -> int | None:
    """The step (current ±TOTP_WINDOW) whose code equals ``code``, or None."""
    code = code.strip().replace(" ", "")
    if len(code) != TOTP_DIGITS or not code.isdigit():
        return None
    totp = _totp(secret)
    current = totp_step(now)
    found: int | None = None
    for step in range(current - TOTP_WINDOW, current + TOTP_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code) and found is None:
            found = step
    return found


# ----------------------------------------------------------------------------------------------- helpers
def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return utcnow()
    if now.tzinfo is not None:
        return now.astimezone(dt.UTC).replace(tzinfo=None)
    return now


def _normalise_username(username: str) -> str:
    return username.strip().lower()


def _user_actor(user: User, *, source: str | None, session: UserSession | None = None) -> Actor:
    practice_id = user.practice_id
    if session is not None and session.practice_id is not None:
        practice_id = session.practice_id
    return Actor(
        user_id=user.id,
        role=Role(user.role),
        practice_id=practice_id,
        source=source,
        session_id=session.id if session is not None else None,
        break_glass=session is not None and session.break_glass_reason is not None,
    )


def _record_anonymous(s: Session, db: Database, *, source: str | None, detail: str) -> None:
    """A failed sign-in for a username that does not exist: install-wide chain 0, no user, no role.

    ``audit.record`` needs an Actor, whose role is mandatory; an unknown caller has none, so this appends
    through the store's chain directly (same chain, key and outside anchor as ``audit.record``).
    """
    store_audit.append_event(
        s,
        key=db.keyring.audit_key,
        chain=0,
        user_id=None,
        role=None,
        action=AuditAction.LOGIN_FAILED,
        resource="session",
        record_ids=(),
        outcome=AuditOutcome.FAILED,
        source=source,
        request_id=None,
        detail=detail,
    )
    store_audit.anchor_after_commit(s, db.audit_anchor)


def _info(user: User) -> UserInfo:
    return UserInfo(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        practice_id=user.practice_id,
        active=user.active,
        mfa_enabled=user.mfa_enabled,
        locked_until=user.locked_until,
        failed_logins=user.failed_logins,
        created_at=user.created_at,
    )


def _count_failure(s: Session, db: Database, user: User, actor: Actor, *, now: dt.datetime) -> bool:
    """Count one failed attempt; lock the account (audited) at the threshold. True when it locked."""
    user.failed_logins = (user.failed_logins or 0) + 1
    if user.failed_logins < LOCKOUT_THRESHOLD:
        return False
    user.locked_until = now + LOCKOUT_DURATION
    user.failed_logins = 0
    minutes = int(LOCKOUT_DURATION.total_seconds() // 60)
    audit.record(
        s,
        db,
        actor,
        action=AuditAction.LOCKOUT,
        resource="user",
        record_ids=[user.id],
        outcome=AuditOutcome.SUCCESS,
        detail=f"{LOCKOUT_THRESHOLD} consecutive failures: locked for {minutes} minutes",
    )
    return True


def _is_locked(user: User, now: dt.datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


def _open_session(s: Session, token: str) -> tuple[UserSession, User] | None:
    row = s.execute(
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == hash_token(token))
    ).one_or_none()
    return None if row is None else (row[0], row[1])


def _expiry_reason(sess: UserSession, user: User, now: dt.datetime) -> str | None:
    if not user.active:
        return "user deactivated"
    if now >= sess.expires_at:
        return "absolute timeout"
    if now - sess.last_seen_at > IDLE_TIMEOUT:
        return "idle timeout"
    if not sess.mfa_passed and now - sess.created_at > MFA_PENDING_TIMEOUT:
        return "MFA not completed in time"
    return None


def _revoke_sessions(s: Session, user_id: int, *, now: dt.datetime, keep: int | None = None) -> int:
    stmt = (
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    if keep is not None:
        stmt = stmt.where(UserSession.id != keep)
    return int(s.execute(stmt).rowcount)  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------------------------- sign-in
def login(
    db: Database, *, username: str, password: str, source: str | None = None, now: dt.datetime | None = None
) -> LoginResult:
    """Check the password and open a session (MFA pending for roles in MFA_REQUIRED).

    Every failure raises AuthenticationRequired with :data:`LOGIN_FAILED`, whatever the cause.
    """
    now = _now(now)
    name = _normalise_username(username)
    # the argon2 work happens outside any transaction (a write transaction on SQLite holds the file lock)
    with db.read() as s:
        found = (
            s.execute(
                select(User.id, User.password_hash, User.active, User.locked_until).where(User.username == name)
            ).one_or_none()
            if name
            else None
        )
    refusal: str | None = None
    new_hash: str | None = None
    if found is None or not found.active or (found.locked_until is not None and found.locked_until > now):
        _burn_password_work(password)
        refusal = "unknown username" if found is None else "user deactivated" if not found.active else "account locked"
    elif not _verify_password(found.password_hash, password):
        refusal = "wrong password"
    elif PASSWORD_HASHER.check_needs_rehash(found.password_hash):
        new_hash = hash_password(password)
    result: LoginResult | None = None
    with db.write() as s:
        user = s.get(User, found.id) if found is not None else None
        if user is not None and refusal is None and found is not None:
            if not user.active or _is_locked(user, now) or user.password_hash != found.password_hash:
                refusal = "changed during sign-in"  # deactivated, locked or password changed meanwhile
        if user is None:
            _record_anonymous(s, db, source=source, detail=refusal or "unknown username")
        elif refusal is not None:
            actor = _user_actor(user, source=source)
            wrong = refusal == "wrong password"
            audit.record(
                s,
                db,
                actor,
                action=AuditAction.LOGIN_FAILED,
                resource="session",
                record_ids=[user.id],
                outcome=AuditOutcome.FAILED if wrong else AuditOutcome.DENIED,
                detail=refusal,
            )
            if wrong:
                _count_failure(s, db, user, actor, now=now)
        else:
            if new_hash is not None:
                user.password_hash = new_hash
            if user.locked_until is not None:
                user.locked_until = None  # the lock has run out
            mfa_required = Role(user.role) in MFA_REQUIRED
            if not mfa_required:
                user.failed_logins = 0
            token = secrets.token_urlsafe(32)
            sess = UserSession(
                token_hash=hash_token(token),
                user_id=user.id,
                practice_id=user.practice_id,
                created_at=now,
                last_seen_at=now,
                expires_at=now + ABSOLUTE_TIMEOUT,
                mfa_passed=not mfa_required,
                source=source,
            )
            s.add(sess)
            s.flush()
            audit.record(
                s,
                db,
                _user_actor(user, source=source, session=sess),
                action=AuditAction.LOGIN,
                resource="session",
                record_ids=[sess.id],
                outcome=AuditOutcome.SUCCESS,
                detail="password accepted; MFA pending" if mfa_required else "password accepted",
            )
            result = LoginResult(
                token=token, session_id=sess.id, user_id=user.id, mfa_required=mfa_required, expires_at=sess.expires_at
            )
    if result is None:
        raise AuthenticationRequired(LOGIN_FAILED)
    return result


def verify_mfa(
    db: Database, *, token: str, code: str, source: str | None = None, now: dt.datetime | None = None
) -> Actor:
    """Accept a TOTP code for a session waiting for MFA; returns the now usable session's actor."""
    now = _now(now)
    actor: Actor | None = None
    error = _MFA_FAILED
    with db.write() as s:
        found = _open_session(s, token) if token else None
        if found is None or found[0].revoked_at is not None:
            error = _SESSION_INVALID
        else:
            sess, user = found
            actor = _user_actor(user, source=source, session=sess)
            reason = _expiry_reason(sess, user, now)
            if reason is not None:
                sess.revoked_at = now
                audit.record(
                    s,
                    db,
                    actor,
                    action=AuditAction.LOGOUT,
                    resource="session",
                    record_ids=[sess.id],
                    outcome=AuditOutcome.SUCCESS,
                    detail=f"automatic logoff: {reason}",
                )
                actor, error = None, _SESSION_INVALID
            elif sess.mfa_passed:
                actor, error = None, "MFA is already passed for this session"
            elif _is_locked(user, now):
                sess.revoked_at = now
                audit.record(
                    s,
                    db,
                    actor,
                    action=AuditAction.MFA_FAILED,
                    resource="session",
                    record_ids=[sess.id],
                    outcome=AuditOutcome.DENIED,
                    detail="account locked",
                )
                actor, error = None, LOGIN_FAILED
            elif not user.totp_secret:
                audit.record(
                    s,
                    db,
                    actor,
                    action=AuditAction.MFA_FAILED,
                    resource="session",
                    record_ids=[sess.id],
                    outcome=AuditOutcome.FAILED,
                    detail="no TOTP secret enrolled",
                )
                actor, error = None, "no authenticator is enrolled for this user; ask an administrator"
            else:
                step = _match_totp(user.totp_secret, code, now)
                replay = step is not None and user.last_totp_step is not None and step <= user.last_totp_step
                if step is None or replay:
                    audit.record(
                        s,
                        db,
                        actor,
                        action=AuditAction.MFA_FAILED,
                        resource="session",
                        record_ids=[sess.id],
                        outcome=AuditOutcome.FAILED,
                        detail="replayed code" if replay else "wrong code",
                    )
                    if _count_failure(s, db, user, actor, now=now):
                        sess.revoked_at = now
                    actor = None
                else:
                    user.last_totp_step = step
                    user.mfa_enabled = True
                    user.failed_logins = 0
                    user.locked_until = None
                    sess.mfa_passed = True
                    sess.last_seen_at = now
                    audit.record(
                        s,
                        db,
                        actor,
                        action=AuditAction.MFA,
                        resource="session",
                        record_ids=[sess.id],
                        outcome=AuditOutcome.SUCCESS,
                    )
    if actor is None:
        raise AuthenticationRequired(error)
    return actor


def authenticate(
    db: Database, *, token: str | None, source: str | None = None, now: dt.datetime | None = None
) -> Actor:
    """The actor of a bearer token, or AuthenticationRequired (missing, unknown, revoked, expired, MFA pending)."""
    now = _now(now)
    if not token:
        raise AuthenticationRequired(_SESSION_INVALID)
    with db.read() as s:
        found = _open_session(s, token)
        if found is None:
            raise AuthenticationRequired(_SESSION_INVALID)
        sess, user = found
        if sess.revoked_at is not None:
            raise AuthenticationRequired(_SESSION_INVALID)
        reason = _expiry_reason(sess, user, now)
        touch = now - sess.last_seen_at >= TOUCH_INTERVAL
        actor = _user_actor(user, source=source or sess.source, session=sess)
        session_id = sess.id
        mfa_pending = not sess.mfa_passed and Role(user.role) in MFA_REQUIRED
    if reason is not None:
        with db.write() as s:
            closed = s.execute(
                update(UserSession)
                .where(UserSession.id == session_id, UserSession.revoked_at.is_(None))
                .values(revoked_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
            if closed:  # audited once, by whichever request found it first
                audit.record(
                    s,
                    db,
                    actor,
                    action=AuditAction.LOGOUT,
                    resource="session",
                    record_ids=[session_id],
                    outcome=AuditOutcome.SUCCESS,
                    detail=f"automatic logoff: {reason}",
                )
        raise AuthenticationRequired(_SESSION_INVALID)
    if mfa_pending:
        raise AuthenticationRequired("this session needs the authentication code (MFA) first")
    if touch:
        with db.write() as s:
            s.execute(
                update(UserSession)
                .where(UserSession.id == session_id, UserSession.last_seen_at < now)
                .values(last_seen_at=now)
                .execution_options(synchronize_session=False)
            )
    return actor


def logout(db: Database, *, token: str, source: str | None = None, now: dt.datetime | None = None) -> None:
    """Close the session of ``token`` (audited)."""
    now = _now(now)
    with db.write() as s:
        found = _open_session(s, token) if token else None
        if found is not None and found[0].revoked_at is None:
            sess, user = found
            sess.revoked_at = now
            audit.record(
                s,
                db,
                _user_actor(user, source=source or sess.source, session=sess),
                action=AuditAction.LOGOUT,
                resource="session",
                record_ids=[sess.id],
                outcome=AuditOutcome.SUCCESS,
            )
            return
    raise AuthenticationRequired(_SESSION_INVALID)


def logout_all(db: Database, *, actor: Actor, user_id: int, now: dt.datetime | None = None) -> int:
    """Close every open session of a user (oneself, or a user one manages); returns how many were closed."""
    now = _now(now)
    if actor.user_id != user_id:
        _require(db, actor, Permission.USER_WRITE, action=AuditAction.LOGOUT, resource="session")
    try:
        with db.write() as s:
            user = _user_in_scope(s, actor, user_id)
            n = _revoke_sessions(s, user.id, now=now)
            audit.record(
                s,
                db,
                actor,
                action=AuditAction.LOGOUT,
                resource="session",
                record_ids=[user.id],
                outcome=AuditOutcome.SUCCESS,
                detail=f"all sessions of user {user.id}: {n} closed",
            )
    except NotFound:
        _denied(db, actor, action=AuditAction.LOGOUT, resource="session", record_ids=[user_id], detail="not found")
        raise
    return n


def change_password(
    db: Database,
    *,
    token: str,
    old_password: str,
    new_password: str,
    source: str | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Change one's own password; every other session of the user is closed."""
    now = _now(now)
    actor = authenticate(db, token=token, source=source, now=now)
    assert actor.user_id is not None and actor.session_id is not None
    with db.read() as s:
        current = s.execute(select(User.username, User.password_hash).where(User.id == actor.user_id)).one()
    # argon2 outside the write transaction
    failed = not _verify_password(current.password_hash, old_password)
    new_hash: str | None = None
    if not failed:
        try:
            check_password_policy(new_password, username=current.username)
            if new_password == old_password:
                raise ValidationFailed("the new password must differ from the current one", field="password")
        except ValidationFailed as exc:
            _denied(
                db,
                actor,
                action=AuditAction.UPDATE,
                resource="user",
                record_ids=[actor.user_id],
                detail=f"password change: {exc.code}",
                outcome=AuditOutcome.FAILED,
            )
            raise
        new_hash = hash_password(new_password)
    with db.write() as s:
        user = s.get(User, actor.user_id)
        assert user is not None
        if new_hash is None:
            audit.record(
                s,
                db,
                actor,
                action=AuditAction.UPDATE,
                resource="user",
                record_ids=[user.id],
                outcome=AuditOutcome.FAILED,
                detail="password change: wrong current password",
            )
            if _count_failure(s, db, user, actor, now=now):
                _revoke_sessions(s, user.id, now=now)
        elif user.password_hash != current.password_hash:
            raise Conflict("the password was changed meanwhile; sign in again")
        else:
            user.password_hash = new_hash
            n = _revoke_sessions(s, user.id, now=now, keep=actor.session_id)
            audit.record(
                s,
                db,
                actor,
                action=AuditAction.UPDATE,
                resource="user",
                record_ids=[user.id],
                outcome=AuditOutcome.SUCCESS,
                detail=f"password changed; {n} other sessions closed",
            )
    if failed:
        raise AuthenticationRequired("the current password is wrong")


def break_glass(
    db: Database,
    *,
    token: str,
    reason: str,
    practice_id: int | None = None,
    source: str | None = None,
    now: dt.datetime | None = None,
) -> Actor:
    """Emergency access for this session: read-only PHI, with a stated reason, always audited.

    A system administrator (who belongs to no practice) names the ``practice_id`` to open; for anyone
    else it is their own practice.
    """
    now = _now(now)
    actor = authenticate(db, token=token, source=source, now=now)
    if not allowed(actor.role, Permission.BREAK_GLASS):
        _require(db, actor, Permission.BREAK_GLASS, action=AuditAction.BREAK_GLASS, resource="session")
    text = " ".join(reason.split())
    if len(text) < BREAK_GLASS_MIN_REASON:
        _denied(
            db,
            actor,
            action=AuditAction.BREAK_GLASS,
            resource="session",
            record_ids=[actor.session_id or 0],
            detail="refused: no adequate reason given",
            outcome=AuditOutcome.FAILED,
        )
        raise ValidationFailed(
            f"break-glass access needs a reason of at least {BREAK_GLASS_MIN_REASON} characters", field="reason"
        )
    if actor.break_glass:
        raise Conflict("break-glass access is already granted for this session")
    with db.write() as s:
        sess = s.get(UserSession, actor.session_id)
        user = s.get(User, actor.user_id)
        assert sess is not None and user is not None
        target = user.practice_id
        if target is None:  # a system administrator chooses the practice
            if practice_id is None:
                raise ValidationFailed("name the practice to open", field="practice_id")
            if s.get(Practice, practice_id) is None:
                raise NotFound(f"practice {practice_id} not found")
            target = practice_id
        elif practice_id is not None and practice_id != target:
            raise NotFound(f"practice {practice_id} not found")
        sess.break_glass_reason = text
        sess.practice_id = target
        granted = _user_actor(user, source=actor.source, session=sess)
        audit.record(
            s,
            db,
            granted,
            action=AuditAction.BREAK_GLASS,
            resource="session",
            record_ids=[sess.id],
            outcome=AuditOutcome.SUCCESS,
            detail=text,
        )
    return granted


# ----------------------------------------------------------------------------------------------- authorization
def _denied(
    db: Database,
    actor: Actor,
    *,
    action: AuditAction | str,
    resource: str,
    record_ids: list[int] | None = None,
    detail: str,
    outcome: AuditOutcome | str = AuditOutcome.DENIED,
) -> None:
    audit.record_separately(
        db, actor, action=action, resource=resource, record_ids=record_ids or [], outcome=outcome, detail=detail
    )


def _require(db: Database, actor: Actor, permission: Permission, *, action: AuditAction | str, resource: str) -> None:
    if not allowed(actor.role, permission, break_glass=actor.break_glass):
        _denied(db, actor, action=action, resource=resource, detail=f"missing {permission.value}")
        raise PermissionDenied(f"your role ({actor.role.value}) may not {permission.value}")


def _manages_all(actor: Actor) -> bool:
    return actor.role is Role.SYSTEM_ADMIN


def _user_in_scope(s: Session, actor: Actor, user_id: int | None = None, username: str | None = None) -> User:
    """The user by id or username when the actor's scope holds it, else NotFound (never "forbidden")."""
    if user_id is not None:
        user = s.get(User, user_id)
    elif username is not None:
        user = s.scalars(select(User).where(User.username == _normalise_username(username))).one_or_none()
    else:
        raise ValidationFailed("name the user (id or username)", field="user_id")
    if user is None or not (
        _manages_all(actor) or (actor.practice_id is not None and user.practice_id == actor.practice_id)
    ):
        raise NotFound("user not found")
    return user


@contextmanager
def _managed_user(
    db: Database,
    actor: Actor,
    *,
    action: AuditAction | str,
    user_id: int | None,
    username: str | None,
    permission: Permission = Permission.USER_WRITE,
) -> Iterator[tuple[Session, User]]:
    """Permission check, one write transaction, the target user in scope; a miss is audited as denied."""
    _require(db, actor, permission, action=action, resource="user")
    try:
        with db.write() as s:
            yield s, _user_in_scope(s, actor, user_id, username)
    except NotFound:
        _denied(
            db,
            actor,
            action=action,
            resource="user",
            record_ids=[user_id] if user_id is not None else [],
            detail="user not found",
        )
        raise
    except (Conflict, ValidationFailed) as exc:
        _denied(
            db,
            actor,
            action=action,
            resource="user",
            record_ids=[user_id] if user_id is not None else [],
            detail=exc.code,
            outcome=AuditOutcome.FAILED,
        )
        raise


# ----------------------------------------------------------------------------------------------- user management
def create_user(
    db: Database,
    *,
    actor: Actor,
    username: str,
    password: str,
    role: Role | str,
    practice_id: int | None,
    display_name: str = "",
) -> UserCreated:
    """A new user with a TOTP secret (the returned otpauth URI enrols their authenticator)."""
    _require(db, actor, Permission.USER_WRITE, action=AuditAction.CREATE, resource="user")
    try:
        role = Role(role)
    except ValueError:
        raise ValidationFailed(f"unknown role {role!r}", field="role") from None
    if role is Role.SYSTEM_ADMIN and not _manages_all(actor):
        _denied(db, actor, action=AuditAction.CREATE, resource="user", detail="may not create a system administrator")
        raise PermissionDenied("only a system administrator may create a system administrator")
    name = _normalise_username(username)
    if not _USERNAME.match(name):
        raise ValidationFailed(
            "a username is 3-120 characters: letters, digits, '.', '_', '@', '-' (starting with a letter or digit)",
            field="username",
        )
    if role is Role.SYSTEM_ADMIN:
        if practice_id is not None:
            raise ValidationFailed("a system administrator belongs to no practice", field="practice_id")
    elif practice_id is None:
        raise ValidationFailed("a practice user needs a practice", field="practice_id")
    check_password_policy(password, username=name)
    display = display_name.strip()[:200]
    pw_hash = hash_password(password)
    try:
        with db.write() as s:
            if practice_id is not None and (
                (not _manages_all(actor) and practice_id != actor.practice_id) or s.get(Practice, practice_id) is None
            ):
                raise NotFound(f"practice {practice_id} not found")
            return _insert_user(
                s, db, actor, name=name, pw_hash=pw_hash, role=role, practice_id=practice_id, display_name=display
            )
    except NotFound:
        _denied(db, actor, action=AuditAction.CREATE, resource="user", detail=f"practice {practice_id} not found")
        raise
    except Conflict as exc:
        _denied(db, actor, action=AuditAction.CREATE, resource="user", detail=exc.code, outcome=AuditOutcome.FAILED)
        raise


def _insert_user(
    s: Session,
    db: Database,
    actor: Actor,
    *,
    name: str,
    pw_hash: str,
    role: Role,
    practice_id: int | None,
    display_name: str,
) -> UserCreated:
    if s.scalars(select(User.id).where(User.username == name)).first() is not None:
        raise Conflict(f"the username {name!r} is taken")
    secret = pyotp.random_base32()
    user = User(
        username=name,
        display_name=display_name,
        role=role.value,
        practice_id=practice_id,
        password_hash=pw_hash,
        totp_secret=secret,
        mfa_enabled=False,
        failed_logins=0,
        active=True,
    )
    s.add(user)
    s.flush()
    audit.record(
        s,
        db,
        actor,
        action=AuditAction.CREATE,
        resource="user",
        record_ids=[user.id],
        outcome=AuditOutcome.SUCCESS,
        detail=f"role {role.value}, practice {practice_id}",
    )
    return UserCreated(user_id=user.id, username=name, otpauth_uri=_provisioning_uri(secret, name))


def list_users(
    db: Database, *, actor: Actor, practice_id: int | None = None, include_inactive: bool = True
) -> list[UserInfo]:
    """The users the actor may see (a system administrator: all, or one practice's)."""
    _require(db, actor, Permission.USER_READ, action=AuditAction.READ, resource="user")
    if not _manages_all(actor):
        if practice_id is not None and practice_id != actor.practice_id:
            _denied(db, actor, action=AuditAction.READ, resource="user", detail=f"practice {practice_id} not found")
            raise NotFound(f"practice {practice_id} not found")
        if actor.practice_id is None:
            return []
        practice_id = actor.practice_id
    with db.write() as s:
        stmt = select(User).order_by(User.id)
        if practice_id is not None:
            stmt = stmt.where(User.practice_id == practice_id)
        if not include_inactive:
            stmt = stmt.where(User.active.is_(True))
        users = [_info(u) for u in s.scalars(stmt)]
        audit.record(
            s,
            db,
            actor,
            action=AuditAction.READ,
            resource="user",
            record_ids=[u.id for u in users],
            outcome=AuditOutcome.SUCCESS,
        )
    return users


def get_user(db: Database, *, actor: Actor, user_id: int | None = None, username: str | None = None) -> UserInfo:
    """One user the actor may see, by id or username (another practice's users are not found)."""
    with _managed_user(
        db, actor, action=AuditAction.READ, user_id=user_id, username=username, permission=Permission.USER_READ
    ) as (s, user):
        audit.record(
            s, db, actor, action=AuditAction.READ, resource="user", record_ids=[user.id], outcome=AuditOutcome.SUCCESS
        )
        return _info(user)


def _record_user_change(s: Session, db: Database, actor: Actor, user: User, *, detail: str) -> None:
    """The audit record of a change to a user, inside the change's transaction."""
    audit.record(
        s, db, actor, action=AuditAction.UPDATE, resource="user", record_ids=[user.id],
        outcome=AuditOutcome.SUCCESS, detail=detail,
    )  # fmt: skip


def set_role(
    db: Database, *, actor: Actor, role: Role | str, user_id: int | None = None, username: str | None = None
) -> UserInfo:
    """Give a practice user another practice role (system administrators are created, not promoted)."""
    try:
        new = Role(role)
    except ValueError:
        raise ValidationFailed(f"unknown role {role!r}", field="role") from None
    with _managed_user(db, actor, action=AuditAction.UPDATE, user_id=user_id, username=username) as (s, user):
        if Role.SYSTEM_ADMIN in (new, Role(user.role)):
            raise ValidationFailed(
                "the system administrator role is neither granted nor removed by a role change", field="role"
            )
        if user.id == actor.user_id:
            raise Conflict("you cannot change your own role")
        old = user.role
        user.role = new.value
        _record_user_change(s, db, actor, user, detail=f"role {old} -> {new.value}")
        return _info(user)


def deactivate_user(
    db: Database,
    *,
    actor: Actor,
    user_id: int | None = None,
    username: str | None = None,
    now: dt.datetime | None = None,
) -> UserInfo:
    """Deactivate a user (they can no longer sign in; their open sessions are closed). Rows are kept."""
    now = _now(now)
    with _managed_user(db, actor, action=AuditAction.UPDATE, user_id=user_id, username=username) as (s, user):
        if user.id == actor.user_id:
            raise Conflict("you cannot deactivate yourself")
        user.active = False
        n = _revoke_sessions(s, user.id, now=now)
        _record_user_change(s, db, actor, user, detail=f"deactivated; {n} sessions closed")
        return _info(user)


def unlock_user(db: Database, *, actor: Actor, user_id: int | None = None, username: str | None = None) -> UserInfo:
    """Lift a lockout and clear the failure count."""
    with _managed_user(db, actor, action=AuditAction.UPDATE, user_id=user_id, username=username) as (s, user):
        was_locked = user.locked_until is not None
        user.locked_until = None
        user.failed_logins = 0
        _record_user_change(s, db, actor, user, detail="unlocked" if was_locked else "failure count cleared")
        return _info(user)


def reset_mfa(
    db: Database,
    *,
    actor: Actor,
    user_id: int | None = None,
    username: str | None = None,
    now: dt.datetime | None = None,
) -> MfaEnrolment:
    """A new TOTP secret (the old authenticator stops working; open sessions are closed)."""
    now = _now(now)
    secret = pyotp.random_base32()
    with _managed_user(db, actor, action=AuditAction.UPDATE, user_id=user_id, username=username) as (s, user):
        user.totp_secret = secret
        user.mfa_enabled = False
        user.last_totp_step = None
        n = _revoke_sessions(s, user.id, now=now)
        _record_user_change(s, db, actor, user, detail=f"MFA reset; {n} sessions closed")
        return MfaEnrolment(user_id=user.id, otpauth_uri=_provisioning_uri(secret, user.username))


# ----------------------------------------------------------------------------------------------- practices
def create_practice(
    db: Database, *, actor: Actor, name: str, npi: str | None = None, tax_id: str | None = None
) -> PracticeInfo:
    """A new practice (system administrators: Permission.PRACTICE_ADMIN)."""
    _require(db, actor, Permission.PRACTICE_ADMIN, action=AuditAction.CREATE, resource="practice")
    clean = " ".join(name.split())
    if not clean or len(clean) > 200:
        raise ValidationFailed("a practice name is 1-200 characters", field="name")
    npi = npi.strip() if npi else None
    if npi and not is_valid_npi(npi):
        raise ValidationFailed("not a valid NPI (10 digits with the Luhn check digit)", field="npi")
    tax_id = tax_id.strip().replace("-", "") if tax_id else None
    if tax_id and not (len(tax_id) == 9 and tax_id.isdigit()):
        raise ValidationFailed("a tax id (EIN) is 9 digits", field="tax_id")
    with db.write() as s:
        practice = Practice(name=clean, npi=npi, tax_id=tax_id)
        s.add(practice)
        s.flush()
        audit.record(
            s,
            db,
            actor,
            action=AuditAction.CREATE,
            resource="practice",
            record_ids=[practice.id],
            outcome=AuditOutcome.SUCCESS,
        )
        return PracticeInfo(id=practice.id, name=practice.name, npi=practice.npi, tax_id=practice.tax_id)


def bootstrap(db: Database, *, username: str, password: str, source: str = "cli") -> UserCreated:
    """The first system administrator of an empty install (refused once any user exists)."""
    name = _normalise_username(username)
    if not _USERNAME.match(name):
        raise ValidationFailed("a username is 3-120 characters: letters, digits, '.', '_', '@', '-'", field="username")
    check_password_policy(password, username=name)
    pw_hash = hash_password(password)
    with db.write() as s:
        if db.kind == "postgresql":  # two first-run bootstraps at once: the second waits, then sees the first
            s.execute(text("SELECT pg_advisory_xact_lock(835002)"))
        if s.scalar(select(func.count()).select_from(User)):
            raise Conflict("users exist already: bootstrap is only for a new install")
        return _insert_user(
            s,
            db,
            system_actor(source=source),
            name=name,
            pw_hash=pw_hash,
            role=Role.SYSTEM_ADMIN,
            practice_id=None,
            display_name="system administrator",
        )
