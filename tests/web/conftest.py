"""A demo practice (and a second one) behind the app, and helpers to sign in through the pages."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient

from medbill.services import auth, demo
from medbill.services.demo import DemoSummary, DemoUser


def refdata_path() -> Path | None:
    for name in ("MEDBILL_TEST_REFDATA", "MEDBILL_REFDATA"):
        raw = os.environ.get(name)
        if raw and Path(raw).is_file():
            return Path(raw)
    return None


@dataclass
class DemoWorld:
    db: Any
    own: DemoSummary
    other: DemoSummary
    users: dict[str, DemoUser]
    tmp: Path
    sessions: dict[str, tuple[str, str]]  # role -> (session cookie, CSRF token): a TOTP step is accepted once

    def new_user(self, role: str, name: str) -> DemoUser:
        """One more user of the own practice (for tests that end their session)."""
        from medbill.services.context import system_actor

        password = "web tests password 42"
        made = auth.create_user(
            self.db, actor=system_actor(), username=name, password=password, role=role,
            practice_id=self.own.practice_id,
        )  # fmt: skip
        return DemoUser(made.username, role, password, made.otpauth_uri)


def make_world(tmp: Path) -> DemoWorld:
    from medbill.store.db import Database
    from medbill.store.keys import KeyRing

    ring = KeyRing.generate(tmp / "keys.json")
    ring.save()
    db = Database(keyring=ring, path=tmp / "medbill.db", audit_anchor=tmp / "audit-anchor.json")
    db.migrate()
    own = demo.create_demo(db, seed=7, patients=6)
    other = demo.create_demo(db, seed=8, patients=2)
    return DemoWorld(db=db, own=own, other=other, users={u.role: u for u in own.users}, tmp=tmp, sessions={})


@pytest.fixture(scope="module")
def web_world(tmp_path_factory: pytest.TempPathFactory, built_store_path: Path) -> Iterator[DemoWorld]:
    from argon2 import PasswordHasher

    path = refdata_path() or built_store_path
    mp = pytest.MonkeyPatch()
    mp.setenv("MEDBILL_REFDATA", str(path))
    # the production argon2id cost is tested in tests/services/test_auth.py; these tests sign in often
    mp.setattr(auth, "PASSWORD_HASHER", PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))
    world = make_world(tmp_path_factory.mktemp("web"))
    yield world
    world.db.dispose()
    mp.undo()


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]*)"')


def csrf_of(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def sign_in(client: TestClient, user: DemoUser) -> str:
    """Password then TOTP through the pages; returns the session's CSRF token."""
    client.cookies.clear()
    page = client.get("/web/login")
    r = client.post(
        "/web/login",
        data={"csrf_token": csrf_of(page.text), "username": user.username, "password": user.password},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/web/mfa", r.text
    page = client.get("/web/mfa")
    code = pyotp.parse_uri(user.otpauth_uri).now()
    r = client.post("/web/mfa", data={"csrf_token": csrf_of(page.text), "code": code}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/web/", r.text
    home = client.get("/web/")
    assert home.status_code == 200
    return csrf_of(home.text)


@pytest.fixture(scope="module")
def app(web_world: DemoWorld) -> Any:
    from medbill.api import create_app

    return create_app(db=web_world.db)


@pytest.fixture
def client(app: Any) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


def signed_in(client: TestClient, world: DemoWorld, role: str) -> str:
    """Sign ``role``'s demo user in once per module, then reuse the session cookie; returns the CSRF token."""
    if role not in world.sessions:
        csrf = sign_in(client, world.users[role])
        world.sessions[role] = (client.cookies["medbill_session"], csrf)
    client.cookies.clear()
    cookie, csrf = world.sessions[role]
    client.cookies.set("medbill_session", cookie)
    return csrf
