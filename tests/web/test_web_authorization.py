"""Web authorization matrix: every page route × every role × own/other practice, against a table written here.

The expected table is written from the product's role descriptions, independently of
``services/permissions.py``: F front desk, C coder, B biller, A auditor, P practice admin, S system admin
(who belongs to no practice and sees no PHI). Allowed → the page (200, or 303 after a form); not allowed →
the 403 page; another practice's object → the 404 page. A route without a declared policy
(``openapi_extra={"x-medbill-permission": ...}``), or missing from the table, fails the test.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from medbill.core.errors import PermissionDenied
from medbill.services import auth, records
from medbill.services import claims as claim_svc
from medbill.services import schemas as sc
from medbill.services.context import Actor, system_actor
from medbill.services.demo import DemoSummary
from medbill.services.permissions import Role
from medbill.web.common import PREFIX, WebDep
from tests.web.conftest import DemoWorld, sign_in, signed_in

ROLE = {
    "F": Role.FRONT_DESK,
    "C": Role.CODER,
    "B": Role.BILLER,
    "A": Role.AUDITOR,
    "P": Role.PRACTICE_ADMIN,
    "S": Role.SYSTEM_ADMIN,
}
ALL = "FCBAPS"
PHI = "FCBAP"  # everyone in the practice reads its patients, encounters and claims; the system admin does not
PUBLIC = "public"

# (method, path) -> the roles allowed
EXPECTED: dict[tuple[str, str], str] = {
    ("GET", "/"): PUBLIC,
    ("GET", "/web/login"): PUBLIC,
    ("POST", "/web/login"): PUBLIC,
    ("GET", "/web/mfa"): PUBLIC,
    ("POST", "/web/mfa"): PUBLIC,
    ("POST", "/web/logout"): ALL,
    ("GET", "/web/ping"): ALL,
    ("GET", "/web/"): ALL,
    ("GET", "/web/break-glass"): "FCBPS",  # auditors review break-glass use; they never use it
    ("POST", "/web/break-glass"): "FCBPS",
    ("GET", "/web/codes"): ALL,
    ("GET", "/web/codes/{system}/{code}"): ALL,
    ("GET", "/web/queues/{name}"): "per-queue",
    # coding: everyone in the practice reads encounters; coders decide on suggestions; desk, coders, admin edit
    ("GET", "/web/encounters/{encounter_id}"): PHI,
    ("GET", "/web/encounters/{encounter_id}/suggestions"): PHI,
    ("POST", "/web/encounters/{encounter_id}/decisions"): "C",
    ("POST", "/web/encounters/{encounter_id}/codes"): "FCP",
    ("POST", "/web/encounters/{encounter_id}/claim"): "CB",
    # claims: coders and billers build and fix them; billers send them
    ("GET", "/web/claims/{claim_id}"): PHI,
    ("POST", "/web/claims/{claim_id}/scrub"): "CB",
    ("POST", "/web/claims/{claim_id}"): "CB",
    ("GET", "/web/submission"): "B",
    ("POST", "/web/batches"): "B",
    ("GET", "/web/batches/{batch_id}/837"): "B",
    ("GET", "/web/batches/{batch_id}/simulated/{kind}"): "B",
    ("POST", "/web/acknowledgments"): "B",
    # money: billers post; the desk collects; oversight (auditor, admin) reads
    ("GET", "/web/payments"): "B",
    ("POST", "/web/remittances/preview"): "B",
    ("POST", "/web/remittances/post"): "B",
    ("GET", "/web/claims/{claim_id}/ledger"): "FBAP",
    ("POST", "/web/claims/{claim_id}/patient-payments"): "FB",
    ("GET", "/web/patients/{patient_id}/statement"): "FBAP",
    ("GET", "/web/dashboard"): "BAP",
    # administration: practice setup is read by the practice, kept by billers and admins; users by admins
    ("GET", "/web/admin"): ALL,
    ("POST", "/web/admin/users"): "PS",
    ("POST", "/web/admin/users/{user_id}/role"): "PS",
    ("POST", "/web/admin/payers"): "BP",
    ("POST", "/web/admin/partners"): "BP",
    ("GET", "/web/admin/fee-schedules/{fee_id}"): PHI,
    ("POST", "/web/admin/fee-schedules/{fee_id}"): "BP",
    ("GET", "/web/admin/payer-rules/{rule_id}"): PHI,
    ("POST", "/web/admin/payer-rules/{rule_id}"): "BP",
    ("POST", "/web/admin/payer-rules"): "BP",
    ("GET", "/web/admin/reference"): ALL,
    ("GET", "/web/admin/audit"): "APS",
}
QUEUE_EXPECTED = {
    "to_code": PHI,
    "scrub_errors": PHI,
    "ready": PHI,
    "rejections": PHI,
    "denials": "BAP",
    "unmatched": "BAP",
}
SYSTEM_WIDE = {("POST", "/web/admin/users/{user_id}/role")}  # the system admin manages users of every practice
# routes whose allowed outcome depends on the data (a batch of a sent claim, an unreadable upload ...):
# passing authorization is what is checked here, i.e. anything but 401/403/404 and 5xx
OPERATIONS = {
    ("POST", "/web/encounters/{encounter_id}/claim"),
    ("POST", "/web/claims/{claim_id}/scrub"),
    ("POST", "/web/claims/{claim_id}"),
    ("POST", "/web/batches"),
    ("POST", "/web/acknowledgments"),
    ("POST", "/web/remittances/preview"),
    ("POST", "/web/admin/users"),
}
LAST = [("POST", "/web/break-glass"), ("POST", "/web/logout")]  # they change the session: checked at the end


def web_routes(routes: Any) -> list[APIRoute]:
    """Every page route (``/`` and ``/web...``), also inside included routers (kept as lazy branches)."""
    out: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            if route.path == "/" or route.path.startswith("/web"):
                out.append(route)
        elif hasattr(route, "original_router"):
            out.extend(web_routes(route.original_router.routes))
    return out


def _key(route: APIRoute) -> tuple[str, str]:
    return next(iter(route.methods)), route.path


@dataclass
class Objects:
    """Records of one practice that the routes name."""

    patient: int
    encounter: int
    encounter_codes: int
    encounter_claim: int
    claim: int
    batch: int
    partner: int
    fee: int
    fee_items: list[Any]
    rule: int
    user: int


def _seed(world: DemoWorld, summary: DemoSummary, tag: str) -> Objects:
    admin = Actor(user_id=None, role=Role.PRACTICE_ADMIN, practice_id=summary.practice_id, source="test")
    biller = Actor(user_id=None, role=Role.BILLER, practice_id=summary.practice_id, source="test")
    db = world.db
    patient = records.list_records(db, actor=admin, resource="patient").items[0].id  # type: ignore[attr-defined]
    to_code = records.list_records(db, actor=admin, resource="encounter", filters={"status": "to_code"}).items
    coded = records.list_records(db, actor=admin, resource="encounter", filters={"status": "coded"}).items
    extra = records.create(
        db, actor=admin, resource="encounter",
        data=sc.EncounterCreate(patient_id=patient, service_date=dt.date(2026, 3, 2), note="Hypertension."),
    )  # fmt: skip
    partner = records.create(
        db, actor=admin, resource="trading_partner",
        data=sc.TradingPartnerCreate(name=f"CH {tag}", sender_id="S1", receiver_id="R1", gs_sender="S1",
                                     gs_receiver="R1", contact_phone="6145550100"),
    )  # fmt: skip
    for enc in coded:  # the first coded encounter whose claim scrubs clean
        claim = claim_svc.build_claim(db, actor=biller, encounter_id=enc.id)  # type: ignore[attr-defined]
        if claim_svc.scrub_claim(db, actor=biller, claim_id=claim.id).status == "ready":
            break
    batch = claim_svc.create_batch(db, actor=biller, partner_id=partner.id, claim_ids=[claim.id])  # type: ignore[attr-defined]
    fee = records.list_records(db, actor=admin, resource="fee_schedule").items[0]
    rule = records.create(
        db, actor=admin, resource="payer_rule",
        data=sc.PayerRuleCreate(name=f"rule {tag}", definition={"id": "auth", "require": {"ndc": True}}, active=False),
    )  # fmt: skip
    user = auth.create_user(
        db, actor=system_actor(), username=f"matrix-{tag}", password="matrix tests password 42", role="coder",
        practice_id=summary.practice_id,
    )  # fmt: skip
    return Objects(
        patient=patient,
        encounter=to_code[0].id,  # type: ignore[attr-defined]
        encounter_codes=extra.id,  # type: ignore[attr-defined]
        encounter_claim=coded[-1].id,  # type: ignore[attr-defined]
        claim=claim.id,
        batch=batch.id,
        partner=partner.id,  # type: ignore[attr-defined]
        fee=fee.id,  # type: ignore[attr-defined]
        fee_items=list(fee.items),  # type: ignore[attr-defined]
        rule=rule.id,  # type: ignore[attr-defined]
        user=user.user_id,
    )


@pytest.fixture(scope="module")
def objects(web_world: DemoWorld) -> dict[bool, Objects]:
    return {False: _seed(web_world, web_world.own, "own"), True: _seed(web_world, web_world.other, "other")}


_n = itertools.count(1)


def _request(world: DemoWorld, key: tuple[str, str], o: Objects, csrf: str) -> tuple[str, dict[str, Any], Any]:
    """The path, form fields and files of one request to the route ``key`` naming practice ``o``'s records."""
    method, path = key
    path = (
        path.replace("{encounter_id}", str(o.encounter_codes if path.endswith("/codes") else o.encounter))
        .replace("{claim_id}", str(o.claim))
        .replace("{patient_id}", str(o.patient))
        .replace("{batch_id}", str(o.batch))
        .replace("{kind}", "835")
        .replace("{fee_id}", str(o.fee))
        .replace("{rule_id}", str(o.rule))
        .replace("{user_id}", str(o.user))
        .replace("{system}/{code}", "ICD10CM/E119")
    )
    if path.endswith("/claim") and "/encounters/" in path:
        path = path.replace(f"/{o.encounter}/", f"/{o.encounter_claim}/")
    if method == "GET":
        return path, {}, None
    n = next(_n)
    files = None
    form: dict[str, Any] = {"csrf_token": csrf}
    if path.endswith("/decisions"):
        form |= {"system": "ICD10CM", "code": "I10", "accepted": "1", "mention": "hypertension"}
    elif path.endswith("/claim"):
        form |= {"payer_rank": "1"}
    elif path == "/web/batches":
        form |= {"partner_id": str(o.partner), "claim_id": str(o.claim), "kind": "837P"}
    elif path in ("/web/acknowledgments", "/web/remittances/preview"):
        files = {"file": ("x.x12", b"ISA*00*not an interchange~", "text/plain")}
    elif path == "/web/remittances/post":
        form |= {"key": "not-a-previewed-file"}
    elif path.endswith("/patient-payments"):
        form |= {"amount": "1.00", "action_id": f"matrix-{n}"}
    elif path == "/web/admin/users":
        form |= {"username": f"made-{n:04d}", "password": "another long password 77", "role": "coder"}
    elif path.endswith("/role"):
        form |= {"role": "front_desk"}
    elif path == "/web/admin/payers":
        form |= {"name": "Matrix payer", "payer_id": f"MX{n:05d}"}
    elif path == "/web/admin/partners":
        form |= {"name": "TP", "sender_id": "S", "receiver_id": "R", "gs_sender": "S", "gs_receiver": "R"}
    elif "/fee-schedules/" in path:
        items = o.fee_items
        form |= {"name": "Practice charges", "fi_code": [i.code for i in items],
                 "fi_mod": [i.modifier for i in items], "fi_amount": [str(i.amount) for i in items]}  # fmt: skip
    elif path.startswith("/web/admin/payer-rules"):
        form |= {"name": f"rule {n}", "active": "1", "definition": "id: auth\nrequire:\n  prior_authorization: true\n"}
    elif path == "/web/break-glass":
        form |= {"reason": "patient in the emergency room now", "practice_id": str(world.own.practice_id)}
    return path, form, files


def _ok(key: tuple[str, str], path: str, status: int, text: str) -> bool:
    method = key[0]
    if key in OPERATIONS:
        return status not in (401, 403, 404) and status < 500
    if key == ("POST", "/web/remittances/post"):  # allowed: the (unknown) previewed file has expired
        return status == 404 and "expired" in text
    if path == "/":
        return status == 303
    if method == "GET" or path in ("/web/admin/users",) or path.endswith(("/patient-payments",)):
        return status == 200
    return status == 303


def _check(
    client: TestClient, world: DemoWorld, objects: dict[bool, Objects], key: tuple[str, str], letters: str,
    mismatches: list[str], path_of: Callable[[str], str] | None = None,
) -> int:  # fmt: skip
    calls = 0
    for letter, other in itertools.product(ALL, (False, True)):
        role = ROLE[letter]
        templ = key[1]
        names_object = "{" in templ and "{system}" not in templ and "{name}" not in templ
        if other and not (names_object or key == ("POST", "/web/batches")):
            continue  # the route names no object: it works on one's own practice only
        csrf = signed_in(client, world, role.value)
        path, form, files = _request(world, key, objects[other], csrf)
        if path_of is not None:
            path = path_of(path)
        r = client.request(key[0], path, data=form or None, files=files, follow_redirects=False)
        calls += 1
        allowed = letter in letters
        if not allowed:
            ok = r.status_code == 403 and "Not allowed" in r.text
            want = "403 page"
        elif other and not (role is Role.SYSTEM_ADMIN and key in SYSTEM_WIDE):
            ok = r.status_code == 404 and "Not found" in r.text
            want = "404 page"
        else:
            ok = _ok(key, path, r.status_code, r.text)
            want = "the page"
        if not ok:
            mismatches.append(
                f"{key[0]} {path} as {role.value} ({'other' if other else 'own'}): {r.status_code}, expected {want}: "
                f"{r.text[:200]!r}"
            )
    return calls


def _fresh_user(world: DemoWorld, role: Role) -> Any:
    """A new user of ``role`` (own TOTP secret: signing in does not reuse another session's TOTP step)."""
    from medbill.services.demo import DemoUser

    password = "matrix tests password 42"
    made = auth.create_user(
        world.db, actor=system_actor(), username=f"fresh-{role.value.replace('_', '-')}-{next(_n)}",
        password=password, role=role.value,
        practice_id=None if role is Role.SYSTEM_ADMIN else world.own.practice_id,
    )  # fmt: skip
    return DemoUser(made.username, role.value, password, made.otpauth_uri)


def _check_session_routes(client: TestClient, world: DemoWorld, mismatches: list[str]) -> int:
    """Break-glass (it marks the session) and sign-out (it ends it), each role on a session of its own."""
    calls = 0
    for letter in ALL:
        role = ROLE[letter]
        csrf = sign_in(client, _fresh_user(world, role))
        for key in LAST:
            path, form, _files = _request(world, key, Objects(*([0] * 11)), csrf)
            r = client.post(path, data=form, follow_redirects=False)
            calls += 1
            allowed = letter in EXPECTED[key]
            ok = (r.status_code == 303) if allowed else (r.status_code == 403 and "Not allowed" in r.text)
            if not ok:
                mismatches.append(f"POST {path} as {role.value}: {r.status_code}: {r.text[:200]!r}")
            if key == ("POST", "/web/break-glass") and allowed and ok:
                home = client.get("/web/")
                if 'id="break-glass-banner"' not in home.text:
                    mismatches.append(f"no break-glass banner for {role.value}")
    return calls


def test_every_web_route_declares_a_policy_and_is_in_the_table(app: FastAPI) -> None:
    routes = web_routes(app.routes)
    assert len(routes) >= 40
    missing = [f"{_key(r)}" for r in routes if "x-medbill-permission" not in (r.openapi_extra or {})]
    untabled = [f"{_key(r)}" for r in routes if _key(r) not in EXPECTED]
    stale = sorted(set(EXPECTED) - {_key(r) for r in routes})
    assert missing == [], f"web routes without a policy: {missing}"
    assert untabled == [], f"web routes missing from the expected table: {untabled}"
    assert stale == [], f"table rows for routes that no longer exist: {stale}"
    # the declared policy of a single-permission page names a permission every allowed role has
    from medbill.web.work import QUEUES

    assert set(QUEUE_EXPECTED) == set(QUEUES)


def test_web_authorization_matrix(
    client: TestClient, app: FastAPI, web_world: DemoWorld, objects: dict[bool, Objects]
) -> None:
    mismatches: list[str] = []
    calls = 0
    for route in web_routes(app.routes):
        key = _key(route)
        letters = EXPECTED[key]
        if letters == PUBLIC or key in LAST:
            continue
        if key == ("GET", "/web/queues/{name}"):
            for name, queue_letters in QUEUE_EXPECTED.items():
                calls += _check(
                    client, web_world, objects, key, queue_letters, mismatches,
                    path_of=lambda p, name=name: p.replace("{name}", name),  # type: ignore[misc]
                )  # fmt: skip
            continue
        calls += _check(client, web_world, objects, key, letters, mismatches)
    calls += _check_session_routes(client, web_world, mismatches)
    assert calls > 350
    assert mismatches == [], "\n".join(mismatches)


def test_public_routes_and_a_missing_session(client: TestClient, app: FastAPI) -> None:
    client.cookies.clear()
    assert client.get("/", follow_redirects=False).headers["location"] == "/web/"
    assert client.get("/web/login").status_code == 200
    assert client.get("/web/mfa", follow_redirects=False).headers["location"] == "/web/login"
    for route in web_routes(app.routes):
        method, path = _key(route)
        if EXPECTED[(method, path)] == PUBLIC:
            continue
        path = path.replace("{name}", "ready").replace("{system}/{code}", "ICD10CM/E119")
        path = "/".join("1" if part.startswith("{") else part for part in path.split("/"))
        r = client.request(method, path, follow_redirects=False)
        if method == "GET":
            assert r.status_code == 303 and r.headers["location"] == "/web/login", (method, path, r.status_code)
        else:  # no session, no CSRF token: refused before anything is read
            assert r.status_code == 403 and "security token" in r.text, (method, path, r.status_code)


def test_a_page_without_a_declared_policy_refuses_everyone(client: TestClient, web_world: DemoWorld) -> None:
    bare = FastAPI()
    bare.state.db = web_world.db

    @bare.get(PREFIX + "/undeclared")
    def undeclared(web: WebDep) -> dict[str, str]:
        return {"role": web.actor.role.value}

    async def refused(request: Request, exc: Exception) -> PlainTextResponse:
        return PlainTextResponse(str(exc), status_code=403)

    bare.add_exception_handler(PermissionDenied, refused)
    probe = TestClient(bare, raise_server_exceptions=False)
    for role in ("practice_admin", "coder"):
        signed_in(client, web_world, role)
        probe.cookies.set("medbill_session", client.cookies["medbill_session"])
        r = probe.get(PREFIX + "/undeclared")
        assert r.status_code == 403 and "declares no permission policy" in r.text, r.text
