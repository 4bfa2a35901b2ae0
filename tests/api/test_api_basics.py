"""One error shape, security headers, no PHI echoed in errors or logs, money as strings."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from medbill.services.permissions import Role

SHAPE = {"error", "message", "field", "hint", "request_id"}


def test_every_error_has_one_shape(world: Any) -> None:
    c, h = world.client, world.headers(Role.BILLER)
    cases = [
        c.get("/patients"),  # 401
        c.post("/providers", json={"npi": "1234567893", "last_name": "X"}, headers=h),  # 403
        c.get("/patients/999999", headers=h),  # 404
        c.get(f"/patients/{world.other.ids['patient']}", headers=h),  # 404, other practice
        c.post("/patients", json={"last_name": "A"}, headers=h),  # 422
        c.put("/patients", headers=h),  # 405
        c.post("/payers", json={"name": "Dup", "payer_id": "PAYA"}, headers=h),  # 409
    ]
    assert [r.status_code for r in cases] == [401, 403, 404, 404, 422, 405, 409]
    for r in cases:
        body = r.json()
        assert set(body) == SHAPE, body
        assert body["request_id"] == r.headers["X-Request-ID"]
    assert cases[0].headers["WWW-Authenticate"] == "Bearer"
    assert cases[4].json()["field"] == "first_name"
    # another practice's object answers exactly like a missing one
    assert cases[2].json()["message"].replace("999999", "N") == cases[3].json()["message"].replace(
        str(world.other.ids["patient"]), "N"
    )


def test_security_headers_on_every_response(world: Any) -> None:
    for r in (
        world.client.get("/auth/me"),
        world.client.get("/auth/me", headers=world.headers(Role.CODER)),
        world.client.get("/openapi.json"),
    ):
        assert r.headers["Cache-Control"] == "no-store"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_validation_errors_do_not_echo_phi(world: Any) -> None:
    canary = "999-88-CANARY"
    r = world.client.post(
        "/patients",
        json={"last_name": "A", "first_name": "B", "birth_date": "1970-01-01", "ssn": canary},
        headers=world.headers(Role.BILLER),
    )
    assert r.status_code == 422 and canary not in r.text


def test_money_and_codes_in_the_api(world: Any) -> None:
    h = world.headers(Role.PRACTICE_ADMIN)
    r = world.client.get(f"/encounters/{world.own.ids['encounter']}", headers=h)
    assert r.status_code == 200
    proc = r.json()["procedures"][0]
    assert proc["charge"] == "120.00" and proc["units"] == "1"
    assert r.json()["diagnoses"][0]["code"] == "E119"
    bad = world.client.patch(
        f"/encounters/{world.own.ids['encounter']}",
        json={"procedures": [{"code": "99213", "charge": "1.005"}]},
        headers=h,
    )
    assert bad.status_code == 422 and "two decimal places" in bad.json()["message"]
    pointer = world.client.patch(
        f"/encounters/{world.own.ids['encounter']}",
        json={"procedures": [{"code": "99213", "diagnosis_pointers": [3]}]},
        headers=h,
    )
    assert pointer.status_code == 422 and pointer.json()["field"] == "procedures[0].diagnosis_pointers"


def test_access_log_has_no_query_string_or_phi(world: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    h = world.headers(Role.BILLER)
    world.client.get("/patients?offset=0&limit=5&sex=F", headers=h)
    world.client.post("/patients/search", json={"last_name": "PatientA"}, headers=h)
    # the server's records (the test client's own httpx log shows the URL it sent, which is not ours)
    text = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "asyncio")))
    assert "GET /patients 200" in text
    assert "limit=5" not in text and "PatientA" not in text and "MRNA" not in text
