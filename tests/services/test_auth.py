"""Authentication and user management on both backends: passwords, TOTP, sessions, lockout, break-glass, audit."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from argon2 import PasswordHasher, Type
from sqlalchemy import select, text

from medbill.core.errors import AuthenticationRequired, Conflict, NotFound, PermissionDenied, ValidationFailed
from medbill.services import auth
from medbill.services.audit import verify_audit
from medbill.services.context import Actor, system_actor
from medbill.services.permissions import PHI_PERMISSIONS, Permission, Role, allowed
from medbill.store.db import Database
from medbill.store.models import AuditEvent, User, UserSession

T0 = dt.datetime(2026, 3, 2, 9, 0, 0)  # a TOTP step boundary (09:00:00 UTC)
PASSWORD = "correct-Horse-battery-42"
ADMIN = system_actor()


class CountingHasher(PasswordHasher):
    """Cheap argon2id parameters for speed, counting verifications (equal work for unknown users)."""

    verifications = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002
        CountingHasher.verifications += 1
        return super().verify(hash, password)


@pytest.fixture(autouse=True)
def cheap_hasher(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(
        auth, "PASSWORD_HASHER", CountingHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID)
    )
    CountingHasher.verifications = 0
    yield


def _secret(uri: str) -> str:
    return parse_qs(urlparse(uri).query)["secret"][0]


def _code(secret: str, at: dt.datetime, shift: int = 0) -> str:
    return pyotp.TOTP(secret).generate_otp(auth.totp_step(at) + shift)


def _practice(db: Database, name: str = "Clinic") -> int:
    return auth.create_practice(db, actor=ADMIN, name=name).id


def _user(db: Database, username: str, role: Role, practice_id: int | None) -> tuple[int, str]:
    made = auth.create_user(db, actor=ADMIN, username=username, password=PASSWORD, role=role, practice_id=practice_id)
    return made.user_id, _secret(made.otpauth_uri)


def _signin(db: Database, username: str, secret: str, at: dt.datetime = T0) -> tuple[str, Actor]:
    res = auth.login(db, username=username, password=PASSWORD, source="10.0.0.1", now=at)
    actor = auth.verify_mfa(db, token=res.token, code=_code(secret, at), source="10.0.0.1", now=at)
    return res.token, actor


def _audit(db: Database, **where: object) -> list[AuditEvent]:
    with db.read() as s:
        stmt = select(AuditEvent).order_by(AuditEvent.id)
        for k, v in where.items():
            stmt = stmt.where(getattr(AuditEvent, k) == v)
        rows = list(s.scalars(stmt))
        s.expunge_all()  # keep the loaded values after the read transaction ends
        return rows


@pytest.fixture
def clinic(db: Database) -> tuple[Database, int, int, str]:
    pid = _practice(db)
    uid, secret = _user(db, "coder1", Role.CODER, pid)
    return db, pid, uid, secret


# ------------------------------------------------------------------------------------------ passwords
def test_argon2id_hash_with_stated_parameters(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()  # the production hasher
    assert auth.PASSWORD_HASHER.type is Type.ID
    pid = _practice(db)
    uid, _ = _user(db, "biller1", Role.BILLER, pid)
    with db.read() as s:
        user = s.get(User, uid)
        assert user is not None
        stored = user.password_hash
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PASSWORD not in stored
    assert auth.PASSWORD_HASHER.verify(stored, PASSWORD)


def test_hash_is_upgraded_when_parameters_change(
    clinic: tuple[Database, int, int, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, _, uid, _ = clinic
    with db.read() as s:
        before = s.get(User, uid).password_hash  # type: ignore[union-attr]
    assert "m=1024,t=1,p=1" in before
    monkeypatch.setattr(auth, "PASSWORD_HASHER", PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1))
    auth.login(db, username="coder1", password=PASSWORD, now=T0)
    with db.read() as s:
        after = s.get(User, uid).password_hash  # type: ignore[union-attr]
    assert "m=2048,t=2,p=1" in after and after != before


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short-Pw-1", "at least 12"),
        ("aaaabbbbaaaabbbb", "different characters"),
        ("xx-nurse.jones-xx", "username"),
        ("Password1234", "too common"),
    ],
)
def test_password_policy(password: str, why: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        auth.check_password_policy(password, username="Nurse.Jones")
    assert why in exc.value.message and exc.value.field == "password"
    auth.check_password_policy(PASSWORD, username="nurse.jones")  # a good one passes


def test_create_user_refuses_weak_password(db: Database) -> None:
    pid = _practice(db)
    with pytest.raises(ValidationFailed):
        auth.create_user(db, actor=ADMIN, username="weak", password="qwertyuiop12", role=Role.CODER, practice_id=pid)
    with db.read() as s:
        assert s.scalars(select(User)).all() == []


# ------------------------------------------------------------------------------------------ sign-in
def test_wrong_password_and_unknown_user_look_the_same(clinic: tuple[Database, int, int, str]) -> None:
    db, pid, uid, _ = clinic
    CountingHasher.verifications = 0
    with pytest.raises(AuthenticationRequired) as wrong:
        auth.login(db, username="coder1", password="not-the-password-1", source="10.1.1.1", now=T0)
    work_wrong = CountingHasher.verifications
    with pytest.raises(AuthenticationRequired) as unknown:
        auth.login(db, username="nobody-here", password="not-the-password-1", source="10.1.1.1", now=T0)
    assert wrong.value.message == unknown.value.message == auth.LOGIN_FAILED
    assert work_wrong == 1 and CountingHasher.verifications == 2  # the unknown user cost one argon2 check too
    failed = _audit(db, action="login_failed", outcome="failed")
    assert [(e.user_id, e.chain, e.source) for e in failed] == [(uid, pid, "10.1.1.1"), (None, 0, "10.1.1.1")]
    assert all("nobody" not in (e.detail or "") for e in failed)
    assert failed[1].role is None  # an unknown caller has no role
    assert verify_audit(db, actor=ADMIN).intact  # the anonymous record sits in the keyed chain 0


def test_lockout_after_five_failures_released_after_fifteen_minutes(clinic: tuple[Database, int, int, str]) -> None:
    db, _, uid, secret = clinic
    for i in range(5):
        with pytest.raises(AuthenticationRequired):
            auth.login(db, username="coder1", password=f"wrong-password-{i}", now=T0 + dt.timedelta(seconds=i))
    lock = _audit(db, action="lockout")
    assert len(lock) == 1 and lock[0].record_ids == [uid] and "15 minutes" in (lock[0].detail or "")
    with db.read() as s:
        assert s.get(User, uid).locked_until == T0 + dt.timedelta(seconds=4, minutes=15)  # type: ignore[union-attr]
    # the right password during the lockout: refused with the same message
    with pytest.raises(AuthenticationRequired) as exc:
        auth.login(db, username="coder1", password=PASSWORD, now=T0 + dt.timedelta(minutes=14))
    assert exc.value.message == auth.LOGIN_FAILED
    assert _audit(db, action="login_failed", outcome="denied")[-1].detail == "account locked"
    later = T0 + dt.timedelta(minutes=15, seconds=5)
    token, actor = _signin(db, "coder1", secret, at=later)
    assert actor.user_id == uid
    with db.read() as s:
        u = s.get(User, uid)
        assert u is not None and u.locked_until is None and u.failed_logins == 0


def test_unlock_user_lifts_the_lockout(clinic: tuple[Database, int, int, str]) -> None:
    db, _, uid, secret = clinic
    for i in range(5):
        with pytest.raises(AuthenticationRequired):
            auth.login(db, username="coder1", password=f"wrong-password-{i}", now=T0)
    info = auth.unlock_user(db, actor=ADMIN, username="coder1")
    assert info.locked_until is None and info.failed_logins == 0
    _signin(db, "coder1", secret, at=T0 + dt.timedelta(minutes=1))
    assert _audit(db, action="update", resource="user")[-1].detail == "unlocked"


def test_inactive_user_cannot_sign_in_and_loses_sessions(clinic: tuple[Database, int, int, str]) -> None:
    db, _, uid, secret = clinic
    token, _ = _signin(db, "coder1", secret)
    auth.deactivate_user(db, actor=ADMIN, user_id=uid, now=T0)
    with pytest.raises(AuthenticationRequired):
        auth.authenticate(db, token=token, now=T0 + dt.timedelta(seconds=1))
    with pytest.raises(AuthenticationRequired) as exc:
        auth.login(db, username="coder1", password=PASSWORD, now=T0)
    assert exc.value.message == auth.LOGIN_FAILED


# ------------------------------------------------------------------------------------------ TOTP / MFA
def test_mfa_required_before_the_session_is_usable(clinic: tuple[Database, int, int, str]) -> None:
    db, pid, uid, secret = clinic
    res = auth.login(db, username="coder1", password=PASSWORD, source="10.0.0.9", now=T0)
    assert res.mfa_required and len(res.token) >= 43
    with pytest.raises(AuthenticationRequired, match="MFA"):
        auth.authenticate(db, token=res.token, now=T0)
    actor = auth.verify_mfa(db, token=res.token, code=_code(secret, T0), now=T0)
    again = auth.authenticate(db, token=res.token, source="10.0.0.9", now=T0 + dt.timedelta(seconds=5))
    assert (again.user_id, again.role, again.practice_id, again.session_id, again.source, again.break_glass) == (
        uid,
        Role.CODER,
        pid,
        res.session_id,
        "10.0.0.9",
        False,
    )
    assert actor.session_id == res.session_id
    # only the token's SHA-256 is stored
    with db.read() as s:
        sess = s.get(UserSession, res.session_id)
        assert sess is not None and sess.token_hash == hashlib.sha256(res.token.encode()).hexdigest()
        assert sess.mfa_passed
    assert [e.outcome for e in _audit(db, action="mfa")] == ["success"]
    assert _audit(db, action="login", outcome="success")[0].detail == "password accepted; MFA pending"


def test_mfa_must_follow_the_password_within_five_minutes(clinic: tuple[Database, int, int, str]) -> None:
    db, _, _, secret = clinic
    res = auth.login(db, username="coder1", password=PASSWORD, now=T0)
    late = T0 + auth.MFA_PENDING_TIMEOUT + dt.timedelta(seconds=1)
    with pytest.raises(AuthenticationRequired):
        auth.verify_mfa(db, token=res.token, code=_code(secret, late), now=late)
    assert _audit(db, action="logout")[-1].detail == "automatic logoff: MFA not completed in time"


def test_totp_wrong_replayed_and_window(clinic: tuple[Database, int, int, str]) -> None:
    db, _, uid, secret = clinic
    res = auth.login(db, username="coder1", password=PASSWORD, now=T0)
    good = _code(secret, T0)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    with pytest.raises(AuthenticationRequired):
        auth.verify_mfa(db, token=res.token, code=wrong, now=T0)
    with pytest.raises(AuthenticationRequired):  # two steps away: outside the ±1 window
        auth.verify_mfa(db, token=res.token, code=_code(secret, T0, shift=-2), now=T0)
    auth.verify_mfa(db, token=res.token, code=_code(secret, T0, shift=-1), now=T0)  # one step late: accepted
    # the same code (same step) again on a new session: a replay
    res2 = auth.login(db, username="coder1", password=PASSWORD, now=T0 + dt.timedelta(seconds=10))
    with pytest.raises(AuthenticationRequired):
        auth.verify_mfa(db, token=res2.token, code=_code(secret, T0, shift=-1), now=T0 + dt.timedelta(seconds=10))
    # one step ahead (clock of the phone fast) is accepted
    auth.verify_mfa(db, token=res2.token, code=_code(secret, T0, shift=1), now=T0 + dt.timedelta(seconds=10))
    # an older step than the last accepted is refused even if inside the window
    res3 = auth.login(db, username="coder1", password=PASSWORD, now=T0 + dt.timedelta(seconds=20))
    with pytest.raises(AuthenticationRequired):
        auth.verify_mfa(db, token=res3.token, code=good, now=T0 + dt.timedelta(seconds=20))
    with db.read() as s:
        assert s.get(User, uid).last_totp_step == auth.totp_step(T0) + 1  # type: ignore[union-attr]
    details = [e.detail for e in _audit(db, action="mfa_failed", outcome="failed")]
    assert details == ["wrong code", "wrong code", "replayed code", "replayed code"]


def test_mfa_failures_lock_the_account(clinic: tuple[Database, int, int, str]) -> None:
    db, _, uid, secret = clinic
    res = auth.login(db, username="coder1", password=PASSWORD, now=T0)
    bad = f"{(int(_code(secret, T0)) + 7) % 1_000_000:06d}"
    for _ in range(5):
        with pytest.raises(AuthenticationRequired):
            auth.verify_mfa(db, token=res.token, code=bad, now=T0)
    assert len(_audit(db, action="lockout")) == 1
    with pytest.raises(AuthenticationRequired):  # the session was closed at the lockout
        auth.verify_mfa(db, token=res.token, code=_code(secret, T0), now=T0)
    with db.read() as s:
        assert s.get(UserSession, res.session_id).revoked_at == T0  # type: ignore[union-attr]


def test_totp_secret_is_encrypted_at_rest(clinic: tuple[Database, int, int, str]) -> None:
    db, _, uid, secret = clinic
    with db.read() as s:
        raw = s.execute(text("SELECT totp_secret FROM app_user WHERE id = :i"), {"i": uid}).scalar_one()
    assert secret not in raw and raw.startswith("v")


def test_reset_mfa_replaces_the_secret(clinic: tuple[Database, int, int, str]) -> None:
    db, _, uid, secret = clinic
    token, _ = _signin(db, "coder1", secret)
    enrol = auth.reset_mfa(db, actor=ADMIN, username="coder1", now=T0)
    new = _secret(enrol.otpauth_uri)
    assert new != secret and enrol.otpauth_uri.startswith("otpauth://totp/medbill:coder1?")
    with pytest.raises(AuthenticationRequired):  # sessions closed
        auth.authenticate(db, token=token, now=T0)
    at = T0 + dt.timedelta(minutes=1)
    res = auth.login(db, username="coder1", password=PASSWORD, now=at)
    with pytest.raises(AuthenticationRequired):
        auth.verify_mfa(db, token=res.token, code=_code(secret, at), now=at)
    auth.verify_mfa(db, token=res.token, code=_code(new, at), now=at)


# ------------------------------------------------------------------------------------------ sessions
def test_idle_timeout_and_sliding(clinic: tuple[Database, int, int, str]) -> None:
    db, _, _, secret = clinic
    token, _ = _signin(db, "coder1", secret)
    t = T0
    for _ in range(3):  # activity every 14 minutes keeps the session alive
        t += dt.timedelta(minutes=14)
        auth.authenticate(db, token=token, now=t)
    with pytest.raises(AuthenticationRequired):
        auth.authenticate(db, token=token, now=t + dt.timedelta(minutes=15, seconds=1))
    logoff = _audit(db, action="logout")
    assert len(logoff) == 1 and logoff[0].detail == "automatic logoff: idle timeout"
    with pytest.raises(AuthenticationRequired):  # stays closed
        auth.authenticate(db, token=token, now=t + dt.timedelta(minutes=1))


def test_last_seen_written_at_most_every_30_seconds(clinic: tuple[Database, int, int, str]) -> None:
    db, _, _, secret = clinic
    token, actor = _signin(db, "coder1", secret)

    def seen() -> dt.datetime:
        with db.read() as s:
            return s.get(UserSession, actor.session_id).last_seen_at  # type: ignore[union-attr]

    auth.authenticate(db, token=token, now=T0 + dt.timedelta(seconds=20))
    assert seen() == T0
    auth.authenticate(db, token=token, now=T0 + dt.timedelta(seconds=31))
    assert seen() == T0 + dt.timedelta(seconds=31)


def test_absolute_timeout(clinic: tuple[Database, int, int, str]) -> None:
    db, _, _, secret = clinic
    token, _ = _signin(db, "coder1", secret)
    t = T0
    while t + dt.timedelta(minutes=10) < T0 + auth.ABSOLUTE_TIMEOUT:
        t += dt.timedelta(minutes=10)
        auth.authenticate(db, token=token, now=t)
    with pytest.raises(AuthenticationRequired):
        auth.authenticate(db, token=token, now=T0 + auth.ABSOLUTE_TIMEOUT)
    assert _audit(db, action="logout")[-1].detail == "automatic logoff: absolute timeout"


def test_logout_revokes_and_unknown_tokens_are_refused(clinic: tuple[Database, int, int, str]) -> None:
    db, pid, uid, secret = clinic
    token, actor = _signin(db, "coder1", secret)
    auth.logout(db, token=token, now=T0)
    for bad in (token, None, "", "made-up-token"):
        with pytest.raises(AuthenticationRequired):
            auth.authenticate(db, token=bad, now=T0)
    out = _audit(db, action="logout")
    assert [(e.user_id, e.chain, e.record_ids) for e in out] == [(uid, pid, [actor.session_id])]


def test_change_password_closes_other_sessions(clinic: tuple[Database, int, int, str]) -> None:
    db, _, uid, secret = clinic
    first, _ = _signin(db, "coder1", secret)
    at = T0 + dt.timedelta(seconds=30)
    second, _ = _signin(db, "coder1", secret, at=at)
    with pytest.raises(ValidationFailed):
        auth.change_password(db, token=second, old_password=PASSWORD, new_password="password1234", now=at)
    with pytest.raises(AuthenticationRequired):
        auth.change_password(db, token=second, old_password="wrong-one-here", new_password="Fresh-secret-99", now=at)
    auth.change_password(db, token=second, old_password=PASSWORD, new_password="Fresh-secret-99", now=at)
    auth.authenticate(db, token=second, now=at)
    with pytest.raises(AuthenticationRequired):
        auth.authenticate(db, token=first, now=at)
    with pytest.raises(AuthenticationRequired):
        auth.login(db, username="coder1", password=PASSWORD, now=at)
    auth.login(db, username="coder1", password="Fresh-secret-99", now=at)
    outcomes = [(e.outcome, e.detail) for e in _audit(db, action="update", resource="user", user_id=uid)]
    assert outcomes == [
        ("failed", "password change: validation_failed"),
        ("failed", "password change: wrong current password"),
        ("success", "password changed; 1 other sessions closed"),
    ]


def test_logout_all(clinic: tuple[Database, int, int, str]) -> None:
    db, _, uid, secret = clinic
    a, actor = _signin(db, "coder1", secret)
    b, _ = _signin(db, "coder1", secret, at=T0 + dt.timedelta(seconds=30))
    assert auth.logout_all(db, actor=actor, user_id=uid, now=T0 + dt.timedelta(seconds=40)) == 2
    for token in (a, b):
        with pytest.raises(AuthenticationRequired):
            auth.authenticate(db, token=token, now=T0 + dt.timedelta(seconds=41))


# ------------------------------------------------------------------------------------------ break-glass
def test_break_glass_needs_a_reason_and_grants_only_phi_reads(clinic: tuple[Database, int, int, str]) -> None:
    db, pid, _, _ = clinic
    sid, secret = _user(db, "root1", Role.SYSTEM_ADMIN, None)
    token, actor = _signin(db, "root1", secret)
    assert not allowed(actor.role, Permission.PATIENT_READ, break_glass=actor.break_glass)
    with pytest.raises(ValidationFailed):
        auth.break_glass(db, token=token, reason="urgent", practice_id=pid, now=T0)
    with pytest.raises(ValidationFailed):  # a system administrator names the practice
        auth.break_glass(db, token=token, reason="patient in ER, chart needed", now=T0)
    with pytest.raises(NotFound):
        auth.break_glass(db, token=token, reason="patient in ER, chart needed", practice_id=999, now=T0)
    granted = auth.break_glass(db, token=token, reason="patient in ER, chart needed", practice_id=pid, now=T0)
    assert granted.break_glass and granted.practice_id == pid
    later = auth.authenticate(db, token=token, now=T0 + dt.timedelta(minutes=1))
    assert later.break_glass and later.practice_id == pid
    for perm in Permission:
        expected = perm in PHI_PERMISSIONS or allowed(Role.SYSTEM_ADMIN, perm)
        assert allowed(later.role, perm, break_glass=later.break_glass) is expected, perm
    assert not allowed(later.role, Permission.PATIENT_WRITE, break_glass=True)
    events = _audit(db, action="break_glass")
    assert [(e.outcome, e.user_id) for e in events] == [("failed", sid), ("success", sid)]
    assert events[-1].detail == "patient in ER, chart needed" and events[-1].chain == pid
    with db.read() as s:
        assert s.get(UserSession, granted.session_id).break_glass_reason == "patient in ER, chart needed"  # type: ignore[union-attr]
    # only that session: a new sign-in has no emergency access, and it ends with the session
    other, fresh = _signin(db, "root1", secret, at=T0 + dt.timedelta(minutes=2))
    assert not fresh.break_glass
    with pytest.raises(AuthenticationRequired):
        auth.authenticate(db, token=token, now=T0 + dt.timedelta(minutes=20))


# ------------------------------------------------------------------------------------------ user management
def test_practice_admin_manages_only_their_practice(db: Database) -> None:
    p1, p2 = _practice(db, "One"), _practice(db, "Two")
    admin_id, _ = _user(db, "admin1", Role.PRACTICE_ADMIN, p1)
    other_id, _ = _user(db, "coder2", Role.CODER, p2)
    root_id, _ = _user(db, "root1", Role.SYSTEM_ADMIN, None)
    pa = Actor(user_id=admin_id, role=Role.PRACTICE_ADMIN, practice_id=p1, session_id=1)
    mine = auth.create_user(db, actor=pa, username="fd1", password=PASSWORD, role="front_desk", practice_id=p1)
    with pytest.raises(NotFound):
        auth.create_user(db, actor=pa, username="fd2", password=PASSWORD, role=Role.FRONT_DESK, practice_id=p2)
    with pytest.raises(PermissionDenied):
        auth.create_user(db, actor=pa, username="root2", password=PASSWORD, role=Role.SYSTEM_ADMIN, practice_id=None)
    for target in (other_id, root_id):
        for call in (
            lambda target=target: auth.get_user(db, actor=pa, user_id=target),
            lambda target=target: auth.set_role(db, actor=pa, user_id=target, role=Role.BILLER),
            lambda target=target: auth.unlock_user(db, actor=pa, user_id=target),
            lambda target=target: auth.reset_mfa(db, actor=pa, user_id=target),
            lambda target=target: auth.deactivate_user(db, actor=pa, user_id=target),
            lambda target=target: auth.logout_all(db, actor=pa, user_id=target),
        ):
            with pytest.raises(NotFound):
                call()
    with pytest.raises(NotFound):
        auth.unlock_user(db, actor=pa, username="coder2")
    with pytest.raises(NotFound):
        auth.list_users(db, actor=pa, practice_id=p2)
    assert {u.id for u in auth.list_users(db, actor=pa)} == {admin_id, mine.user_id}
    assert auth.set_role(db, actor=pa, user_id=mine.user_id, role=Role.BILLER).role is Role.BILLER
    with pytest.raises(ValidationFailed):
        auth.set_role(db, actor=pa, user_id=mine.user_id, role=Role.SYSTEM_ADMIN)
    with pytest.raises(Conflict):
        auth.deactivate_user(db, actor=pa, user_id=admin_id)
    # the system administrator manages anyone
    assert {u.id for u in auth.list_users(db, actor=ADMIN)} == {admin_id, other_id, root_id, mine.user_id}
    assert auth.unlock_user(db, actor=ADMIN, user_id=other_id).id == other_id
    # every refusal is in the practice's audit chain, with the id asked for and no more
    denied = _audit(db, outcome="denied", user_id=admin_id)
    assert len(denied) == 2 * 6 + 4
    assert {e.chain for e in denied} == {p1}
    created = _audit(db, action="create", resource="user", outcome="success", user_id=admin_id)
    assert [e.record_ids for e in created] == [[mine.user_id]]
    roles = _audit(db, action="update", resource="user", outcome="success", user_id=admin_id)
    assert roles[0].detail == "role front_desk -> biller"
    total = len(_audit(db))
    report = verify_audit(db, actor=ADMIN)
    assert report.intact and report.records == total


def test_roles_without_user_write_are_refused(clinic: tuple[Database, int, int, str]) -> None:
    db, pid, uid, _ = clinic
    coder = Actor(user_id=uid, role=Role.CODER, practice_id=pid)
    with pytest.raises(PermissionDenied):
        auth.create_user(db, actor=coder, username="x-user", password=PASSWORD, role=Role.CODER, practice_id=pid)
    with pytest.raises(PermissionDenied):
        auth.list_users(db, actor=coder)
    with pytest.raises(PermissionDenied):
        auth.create_practice(db, actor=Actor(user_id=uid, role=Role.PRACTICE_ADMIN, practice_id=pid), name="Mine")
    assert [e.detail for e in _audit(db, outcome="denied")] == [
        "missing user.write",
        "missing user.read",
        "missing practice.admin",
    ]


def test_create_user_checks(db: Database) -> None:
    pid = _practice(db)
    _user(db, "coder1", Role.CODER, pid)
    with pytest.raises(Conflict):
        _user(db, "Coder1", Role.CODER, pid)  # usernames are case-insensitive
    with pytest.raises(ValidationFailed):
        _user(db, "no spaces", Role.CODER, pid)
    with pytest.raises(ValidationFailed):
        _user(db, "coder3", Role.CODER, None)
    with pytest.raises(NotFound):
        _user(db, "coder4", Role.CODER, 999)
    with pytest.raises(ValidationFailed):
        auth.create_practice(db, actor=ADMIN, name="Bad NPI", npi="1234567890")
    assert auth.create_practice(db, actor=ADMIN, name="Good", npi="1234567893").npi == "1234567893"


def test_bootstrap_only_on_an_empty_install(db: Database) -> None:
    made = auth.bootstrap(db, username="root", password=PASSWORD)
    assert made.otpauth_uri.startswith("otpauth://totp/")
    token, actor = _signin(db, "root", _secret(made.otpauth_uri))
    assert actor.role is Role.SYSTEM_ADMIN and actor.practice_id is None
    with pytest.raises(Conflict):
        auth.bootstrap(db, username="root2", password=PASSWORD)
    assert [e.record_ids for e in _audit(db, action="create", resource="user")] == [[made.user_id]]
