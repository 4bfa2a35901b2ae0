"""Authorization matrix: every route × every role × own/other practice, against a table written here.

The expected table below is written from the product's role descriptions, independently of
``services/permissions.py``: F front desk, C coder, B biller, A auditor, P practice admin, S system
admin. A route without a declared policy, or missing from this table, fails the test.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute

from medbill.core.claim import npi_check_digit
from medbill.services import records
from medbill.services.context import Actor
from medbill.services.permissions import Role
from medbill.settings import Settings

LETTER = {
    "F": Role.FRONT_DESK,
    "C": Role.CODER,
    "B": Role.BILLER,
    "A": Role.AUDITOR,
    "P": Role.PRACTICE_ADMIN,
    "S": Role.SYSTEM_ADMIN,
}
ALL = "FCBAPS"
PHI_READERS = "FCBAP"
IN_PRACTICE = "FCBAP"  # a system administrator belongs to no practice and reads none of its records

EXPECTED: dict[str, str] = {
    # auth
    "login": "public",
    "verify_mfa": "public",
    "logout": ALL,
    "me": ALL,
    "break_glass": "FCBPS",
    # code sets: anyone signed in
    "search_codes": ALL,
    "lookup_code": ALL,
    # patients and their coverage: registration (front desk), billing, admin write; PHI readers read
    "list_patient": PHI_READERS,
    "get_patient": PHI_READERS,
    "search_patients": PHI_READERS,
    "create_patient": "FBP",
    "update_patient": "FBP",
    "delete_patient": "FBP",
    "list_coverage": PHI_READERS,
    "get_coverage": PHI_READERS,
    "create_coverage": "FBP",
    "update_coverage": "FBP",
    "delete_coverage": "FBP",
    # encounters: front desk schedules, coders code, admin; billers read
    "list_encounter": PHI_READERS,
    "get_encounter": PHI_READERS,
    "create_encounter": "FCP",
    "update_encounter": "FCP",
    "delete_encounter": "FCP",
    # practice setup without PHI: everyone in the practice reads; admin (and billers for payer matters) write
    "list_provider": IN_PRACTICE,
    "get_provider": IN_PRACTICE,
    "create_provider": "P",
    "update_provider": "P",
    "delete_provider": "P",
    "list_payer": IN_PRACTICE,
    "get_payer": IN_PRACTICE,
    "create_payer": "BP",
    "update_payer": "BP",
    "delete_payer": "BP",
    "list_fee_schedule": IN_PRACTICE,
    "get_fee_schedule": IN_PRACTICE,
    "create_fee_schedule": "BP",
    "update_fee_schedule": "BP",
    "delete_fee_schedule": "BP",
    "list_payer_rule": IN_PRACTICE,
    "get_payer_rule": IN_PRACTICE,
    "create_payer_rule": "BP",
    "update_payer_rule": "BP",
    "delete_payer_rule": "BP",
    "list_trading_partner": IN_PRACTICE,
    "get_trading_partner": IN_PRACTICE,
    "create_trading_partner": "BP",
    "update_trading_partner": "BP",
    "delete_trading_partner": "BP",
    # coding: anyone who reads encounters sees suggestions; only coders decide on them
    "suggest_codes": PHI_READERS,
    "record_coding_decision": "C",
    # claims: coders and billers build and fix; billers send; PHI readers read
    "build_claim": "CB",
    "update_claim": "CB",
    "scrub_claim": "CB",
    "list_claims": PHI_READERS,
    "get_claim": PHI_READERS,
    "claim_history": PHI_READERS,
    "create_batch": "B",
    "apply_acknowledgment": "B",
    # money: billers post and work denials; the desk collects; oversight reads
    "post_remittance": "B",
    "denials": "BAP",
    "work_items": "BAP",
    "ar_aging": "BAP",
    "claim_ledger": "FBAP",
    "patient_statement": "FBAP",
    "record_patient_payment": "FB",
    # the audit log: auditors, practice admins, the system admin
    "audit_report": "APS",
    "audit_verify": "APS",
    # users: auditors and admins see them; admins manage them (the system admin: every practice)
    "list_users": "APS",
    "create_user": "PS",
    "update_user": "PS",
    "unlock_user": "PS",
    "reset_mfa": "PS",
    "create_practice": "S",
    # what came and went
    "list_batches": PHI_READERS,
    "list_acknowledgments": PHI_READERS,
    "get_batch_file": "B",
    "list_remittances": "BAP",
    "get_remittance_file": "BAP",
    "simulate_batch_answer": "B",
}
SYSTEM_WIDE = {"list_users", "create_user", "update_user", "unlock_user", "reset_mfa", "create_practice"}
"""Routes where the system administrator acts across practices (so "other practice" is theirs too)."""

# operation routes: passing authorization is what this test checks for them (their own outcomes are
# tested in tests/services); allowed on one's own records = anything but 401/403/404 and 5xx
OPERATIONS = {
    "suggest_codes",
    "record_coding_decision",
    "build_claim",
    "update_claim",
    "scrub_claim",
    "list_claims",
    "get_claim",
    "claim_history",
    "create_batch",
    "apply_acknowledgment",
    "post_remittance",
    "denials",
    "work_items",
    "ar_aging",
    "claim_ledger",
    "patient_statement",
    "record_patient_payment",
    "audit_report",
    "audit_verify",
    *SYSTEM_WIDE,
    "list_batches",
    "list_acknowledgments",
    "get_batch_file",
    "list_remittances",
    "get_remittance_file",
    "simulate_batch_answer",
}
PATH_RESOURCE = {  # which seeded record a route's {record_id} names
    "suggest_codes": "encounter",
    "record_coding_decision": "encounter",
    "build_claim": "encounter2",
    "update_claim": "claim",
    "scrub_claim": "claim",
    "get_claim": "claim",
    "claim_history": "claim",
    "claim_ledger": "claim",
    "patient_statement": "patient",
    "record_patient_payment": "claim",
    "update_user": "user",
    "unlock_user": "user",
    "reset_mfa": "user",
    "get_batch_file": "batch",
    "simulate_batch_answer": "batch",
    "get_remittance_file": "remittance",
}
_action_ids = itertools.count(1)


def _operation_body(op: str, ids: dict[str, int]) -> tuple[Any, bytes | None]:
    if op == "record_coding_decision":
        return {"code": "E11.9", "accepted": True, "mention": "diabetes"}, None
    if op == "build_claim":
        return {"payer_rank": 1}, None
    if op == "update_claim":
        return {"document": {}}, None
    if op == "create_batch":
        return {"partner_id": ids["trading_partner"], "claim_ids": [ids["claim"]]}, None
    if op in ("apply_acknowledgment", "post_remittance"):
        return None, b"ISA*00*not an interchange~"
    if op == "create_user":
        return {
            "username": f"made-{next(_action_ids):04d}",
            "password": "another long password 77",
            "role": "coder",
        }, None
    if op == "update_user":
        return {"role": "front_desk"}, None
    if op == "create_practice":
        return {"name": f"Practice {next(_action_ids)}"}, None
    if op == "record_patient_payment":
        return {"amount": "10.00", "action_id": f"desk-payment-{next(_action_ids):04d}"}, None
    return None, None


_npi_counter = itertools.count(100000001)


def _npi() -> str:
    base = str(next(_npi_counter))[:9]
    return base + npi_check_digit(base)


def _create_body(resource: str, ids: dict[str, int], n: int) -> dict[str, Any]:
    return {
        "patient": {"last_name": "New", "first_name": "Pat", "birth_date": "1980-05-06"},
        "coverage": {"patient_id": ids["patient"], "payer_id": ids["payer"], "member_id": f"M{n}", "rank": 2},
        "provider": {"npi": _npi(), "last_name": "Doc"},
        "payer": {"name": "New payer", "payer_id": f"NEW{n}"},
        "encounter": {"patient_id": ids["patient"], "service_date": "2026-03-03"},
        "fee_schedule": {"name": "Sched", "effective_from": "2026-01-01"},
        "payer_rule": {"name": "Rule", "definition": {}, "payer_id": ids["payer"]},
        "trading_partner": {"name": "TP", "sender_id": "S", "receiver_id": "R", "gs_sender": "S", "gs_receiver": "R"},
    }[resource]


UPDATE_BODY = {
    "patient": {"city": "Boston"},
    "coverage": {"group_number": "G1"},
    "provider": {"city": "Boston"},
    "payer": {"city": "Boston"},
    "encounter": {"place_of_service": "22"},
    "fee_schedule": {"name": "F2"},
    "payer_rule": {"name": "R2"},
    "trading_partner": {"name": "T2"},
}
_REFS = {"coverage", "encounter", "payer_rule"}  # create bodies that point at other records


def _fresh(world: Any, resource: str, practice: Any, n: int) -> int:
    admin = Actor(user_id=None, role=Role.PRACTICE_ADMIN, practice_id=practice.id, source="test")
    model = records.RESOURCES[resource].create
    body = _create_body(resource, practice.ids, 10_000 + n)
    return records.create(world.db, actor=admin, resource=resource, data=model.model_validate(body)).id  # type: ignore[attr-defined,no-any-return]


def api_routes(routes: Any) -> list[APIRoute]:
    """Every API route, also inside included routers (FastAPI keeps those as lazy branches)."""
    out: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            if route.path != "/" and not route.path.startswith("/web"):  # web pages: their matrix is in tests/web
                out.append(route)
        elif hasattr(route, "original_router"):
            prefix = getattr(getattr(route, "include_context", None), "prefix", "") or ""
            assert prefix == "", "routers are included without a prefix (their routes carry it)"
            out.extend(api_routes(route.original_router.routes))
    return out


@pytest.fixture
def matrix_world(world: Any, built_store_path: Path) -> Any:
    settings = replace(Settings.from_env(), refdata_path=built_store_path)
    world.client.app.state.settings = settings
    return world


def test_every_route_declares_a_policy_and_is_in_the_table(world: Any) -> None:
    missing, untabled = [], []
    routes = api_routes(world.client.app.routes)
    assert len(routes) >= 45
    for route in routes:
        extra = route.openapi_extra or {}
        if "x-medbill-permission" not in extra:
            missing.append(route.path)
        if route.operation_id not in EXPECTED:
            untabled.append(route.operation_id)
    assert missing == [], f"routes without a policy: {missing}"
    assert untabled == [], f"routes missing from the expected table: {untabled}"


def _expected_status(method: str, op: str, allowed: bool, other: bool) -> set[int]:
    if not allowed:
        return {403}
    if other:
        return {404}  # another practice's object, or a body naming one: not found, like a missing one
    if op.startswith("create_"):
        return {201}
    if method == "DELETE":
        return {204}
    return {200}


def test_authorization_matrix(matrix_world: Any) -> None:
    w = matrix_world
    mismatches: list[str] = []
    calls = 0
    n = 0
    for route in api_routes(w.client.app.routes):
        op = route.operation_id
        expected_roles = EXPECTED[op]
        if expected_roles == "public" or op in ("logout", "break_glass", "me"):
            continue  # sign-in routes: covered by test_sign_in_routes below
        method = next(iter(route.methods))
        resource = op.split("_", 1)[1] if "_" in op else ""
        resource = "patient" if op == "search_patients" else resource
        if op in OPERATIONS:
            calls += _check_operation(w, route, op, mismatches)
            continue
        for role, other in itertools.product(Role, (False, True)):
            n += 1
            practice = w.other if other else w.own
            letter = next(k for k, v in LETTER.items() if v is role)
            allowed = letter in expected_roles
            path = route.path
            body: Any = None
            if op == "search_codes":
                if other:
                    continue
                path += "?q=diabetes+type+2&limit=3"
            elif op == "lookup_code":
                if other:
                    continue
                path = path.replace("{code}", "E11.9")
            elif op == "search_patients":
                if other:
                    continue  # a search spans one's own practice only: covered by test_search_stays_in_practice
                body = {"last_name": "PatientA"}
            elif op.startswith("list_"):
                if other:
                    continue  # lists are of one's own practice: covered by test_lists_stay_in_practice
            elif op.startswith("create_"):
                if other and resource not in _REFS:
                    continue
                body = _create_body(resource, practice.ids, n)
            if "{record_id}" in path:
                rid = practice.ids[resource]
                if method == "DELETE" and not other and allowed:
                    rid = _fresh(w, resource, w.own, n)
                path = path.replace("{record_id}", str(rid))
                if method == "PATCH":
                    body = UPDATE_BODY[resource]
            resp = w.client.request(method, path, json=body, headers=w.headers(role))
            calls += 1
            want = _expected_status(method, op, allowed, other)
            if op in ("search_codes", "lookup_code") and allowed:
                want = {200}
            if resp.status_code not in want:
                mismatches.append(
                    f"{method} {path} as {role.value} ({'other' if other else 'own'}): "
                    f"{resp.status_code}, expected {sorted(want)}: {resp.text[:160]}"
                )
    assert calls > 250
    assert mismatches == [], "\n".join(mismatches)


def _check_operation(w: Any, route: APIRoute, op: str, mismatches: list[str]) -> int:
    method = next(iter(route.methods))
    calls = 0
    for role, other in itertools.product(Role, (False, True)):
        practice = w.other if other else w.own
        letter = next(k for k, v in LETTER.items() if v is role)
        allowed = letter in EXPECTED[op]
        path = route.path
        if "{record_id}" in path:
            path = path.replace("{record_id}", str(practice.ids[PATH_RESOURCE[op]]))
        elif other and op != "create_batch":
            continue  # no object named: the route works on one's own practice only
        body, raw = _operation_body(op, practice.ids)
        if op == "audit_report":
            path += "?start=2026-01-01&end=2030-12-31"
        headers = w.headers(role)
        if raw is not None:
            resp = w.client.request(method, path, content=raw, headers={**headers, "Content-Type": "text/plain"})
        else:
            resp = w.client.request(method, path, json=body, headers=headers)
        calls += 1
        code = resp.status_code
        if not allowed:
            ok = code == 403
            want = "403"
        elif other and role is Role.SYSTEM_ADMIN and op in SYSTEM_WIDE:
            ok = code not in (401, 403, 404) and code < 500
            want = "not 401/403/404/5xx (system-wide)"
        elif other:
            ok = code == 404
            want = "404"
        else:
            ok = code not in (401, 403, 404) and code < 500
            want = "not 401/403/404/5xx"
        if not ok:
            mismatches.append(
                f"{method} {path} as {role.value} ({'other' if other else 'own'}): {code}, "
                f"expected {want}: {resp.text[:160]}"
            )
    return calls


def test_lists_stay_in_practice(world: Any) -> None:
    resp = world.client.get("/patients", headers=world.headers(Role.BILLER))
    assert resp.status_code == 200
    ids = {p["id"] for p in resp.json()["items"]}
    assert world.own.ids["patient"] in ids and world.other.ids["patient"] not in ids


def test_search_stays_in_practice(world: Any) -> None:
    resp = world.client.post("/patients/search", json={"last_name": "PatientB"}, headers=world.headers(Role.BILLER))
    assert resp.status_code == 200 and resp.json()["total"] == 0
    resp = world.client.post("/patients/search", json={"mrn": "mrna"}, headers=world.headers(Role.BILLER))
    assert [p["id"] for p in resp.json()["items"]] == [world.own.ids["patient"]]


def test_sign_in_routes(world: Any) -> None:
    c = world.client
    assert c.get("/auth/me").status_code == 401
    for role in Role:
        me = c.get("/auth/me", headers=world.headers(role))
        assert me.status_code == 200 and me.json()["role"] == role.value
    bad = c.post("/auth/login", json={"username": "user-coder", "password": "wrong password here"})
    unknown = c.post("/auth/login", json={"username": "nobody-here", "password": "wrong password here"})
    assert bad.status_code == unknown.status_code == 401
    assert bad.json()["message"] == unknown.json()["message"]
    # break-glass: an auditor may not; a system admin may, with a reason, and then reads PHI read-only
    assert (
        c.post(
            "/auth/break-glass", json={"reason": "patient in the emergency room"}, headers=world.headers(Role.AUDITOR)
        ).status_code
        == 403
    )
    sys_h = world.headers(Role.SYSTEM_ADMIN)
    assert c.get(f"/patients/{world.own.ids['patient']}", headers=sys_h).status_code == 403
    ok = c.post(
        "/auth/break-glass",
        json={"reason": "patient in the emergency room", "practice_id": world.own.id},
        headers=sys_h,
    )
    assert ok.status_code == 200 and ok.json()["break_glass"] is True
    assert c.get(f"/patients/{world.own.ids['patient']}", headers=sys_h).status_code == 200
    assert c.patch(f"/patients/{world.own.ids['patient']}", json={"city": "X"}, headers=sys_h).status_code == 403
    # sign-out ends the session
    coder = world.headers(Role.CODER)
    assert c.post("/auth/logout", headers=coder).status_code == 204
    assert c.get("/auth/me", headers=coder).status_code == 401
