"""Fast page tests (TestClient): sign-in with MFA, the cookie, CSRF, headers, escaping, labels, 403/404."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pyotp
from fastapi.testclient import TestClient

from medbill.services import records
from medbill.services import schemas as sc
from medbill.services.context import Actor
from medbill.services.permissions import Role
from medbill.x12.simulate import SimulationRules, simulate
from tests.web.conftest import DemoWorld, csrf_of, sign_in, signed_in

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _actor(world: DemoWorld, role: Role, practice: int | None = None) -> Actor:
    return Actor(user_id=None, role=role, practice_id=practice or world.own.practice_id, source="test")


def _first(world: DemoWorld, resource: str, **filters: Any) -> Any:
    page = records.list_records(
        world.db, actor=_actor(world, Role.PRACTICE_ADMIN), resource=resource, filters=filters or None
    )
    return page.items[0]


# ------------------------------------------------------------------------------------------- sign-in
def test_sign_in_needs_password_then_totp_and_sets_a_strict_cookie(client: TestClient, web_world: DemoWorld) -> None:
    user = web_world.new_user("coder", "web-signin-coder")
    assert client.get("/web/", follow_redirects=False).headers["location"] == "/web/login"
    page = client.get("/web/login")
    bad = client.post(
        "/web/login",
        data={"csrf_token": csrf_of(page.text), "username": user.username, "password": "wrong password 123"},
    )
    assert bad.status_code == 401 and "sign-in failed" in bad.text and "medbill_session" not in client.cookies
    r = client.post(
        "/web/login",
        data={"csrf_token": csrf_of(page.text), "username": user.username, "password": user.password},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/web/mfa"
    cookie = r.headers["set-cookie"]
    assert (
        "medbill_session=" in cookie
        and "HttpOnly" in cookie
        and "SameSite=strict" in cookie.replace("Strict", "strict")
    )
    assert "Secure" not in cookie  # plain http (the https case is below)
    # the password alone opens nothing
    probe = TestClient(client.app, cookies={"medbill_session": client.cookies["medbill_session"]})
    assert probe.get("/web/queues/to_code", follow_redirects=False).headers["location"] == "/web/login"
    assert probe.get("/claims", headers={"Accept": "application/json"}).status_code == 401
    mfa = client.get("/web/mfa")
    wrong = client.post("/web/mfa", data={"csrf_token": csrf_of(mfa.text), "code": "000000"})
    assert wrong.status_code == 401 and "not accepted" in wrong.text
    code = pyotp.parse_uri(user.otpauth_uri).now()
    ok = client.post("/web/mfa", data={"csrf_token": csrf_of(mfa.text), "code": code}, follow_redirects=False)
    assert ok.headers["location"] == "/web/"
    assert client.get("/web/queues/to_code").status_code == 200


def test_cookie_is_secure_over_https(app: Any, web_world: DemoWorld) -> None:
    user = web_world.new_user("biller", "web-https-biller")
    client = TestClient(app, base_url="https://testserver")
    page = client.get("/web/login")
    r = client.post(
        "/web/login",
        data={"csrf_token": csrf_of(page.text), "username": user.username, "password": user.password},
        follow_redirects=False,
    )
    assert "Secure" in r.headers["set-cookie"]


def test_login_form_without_its_csrf_token_is_refused(client: TestClient, web_world: DemoWorld) -> None:
    client.get("/web/login")
    user = web_world.users["coder"]
    r = client.post("/web/login", data={"csrf_token": "forged", "username": user.username, "password": user.password})
    assert r.status_code == 403 and "medbill_session" not in client.cookies


def test_sign_out_clears_cookie_and_page_state(client: TestClient, web_world: DemoWorld) -> None:
    user = web_world.new_user("auditor", "web-signout-auditor")
    csrf = sign_in(client, user)
    assert client.post("/web/logout", data={"csrf_token": "nope"}).status_code == 403
    r = client.post("/web/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/web/login?signed_out=1"
    assert 'medbill_session=""' in r.headers["set-cookie"] and "Max-Age=0" in r.headers["set-cookie"]
    assert "storage" in r.headers["clear-site-data"] and "cache" in r.headers["clear-site-data"]
    stale = TestClient(client.app, cookies={"medbill_session": "x"})
    assert stale.get("/web/", follow_redirects=False).headers["location"] == "/web/login"


def test_idle_timeout_warning_is_wired(client: TestClient, web_world: DemoWorld) -> None:
    signed_in(client, web_world, "coder")
    page = client.get("/web/")
    assert 'data-idle="900"' in page.text and 'id="idle-warning"' in page.text and "hidden" in page.text
    assert client.get("/web/ping").json() == {"idle_seconds": 900}
    js = (Path(__file__).parents[2] / "src/medbill/web/static/app.js").read_text()
    assert "idle-warning" in js and "signout" in js and "sessionStorage.clear" in js


# ------------------------------------------------------------------------------------------- CSRF
def test_every_post_form_carries_the_session_csrf_token_and_a_forged_post_changes_nothing(
    client: TestClient, web_world: DemoWorld
) -> None:
    csrf = signed_in(client, web_world, "coder")
    enc = _first(web_world, "encounter", status="to_code")
    page = client.get(f"/web/encounters/{enc.id}")
    forms = re.findall(r'<form[^>]*method="post"[^>]*>.*?</form>', page.text, flags=re.S)
    assert forms and all(f'name="csrf_token" value="{csrf}"' in f for f in forms)
    data = {"dx_code": "I10", "px_code": "", "px_system": "CPT", "px_mod": "", "px_units": "1", "px_charge": "",
            "px_ptr": "1"}  # fmt: skip
    for token in (None, "0" * 64, csrf[:-1] + ("0" if csrf[-1] != "0" else "1")):
        body = dict(data) if token is None else {**data, "csrf_token": token}
        r = client.post(f"/web/encounters/{enc.id}/codes", data=body, follow_redirects=False)
        assert r.status_code == 403 and "security token" in r.text
    after = records.get(web_world.db, actor=_actor(web_world, Role.CODER), resource="encounter", record_id=enc.id)
    assert after.diagnoses == []  # type: ignore[attr-defined]
    # another session's token is refused too
    other = TestClient(client.app)
    signed_in(other, web_world, "biller")
    r = other.post("/web/claims/1/scrub", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 403


# ------------------------------------------------------------------------------------------- headers
PAGES = {
    "coder": ["/web/", "/web/queues/to_code", "/web/queues/scrub_errors", "/web/queues/ready", "/web/queues/rejections",
              "/web/encounters/{enc}", "/web/encounters/{enc}/suggestions", "/web/codes", "/web/codes?q=diabetes",
              "/web/codes/ICD10CM/E119", "/web/claims/999999", "/web/no-such-page", "/web/queues/denials"],
    "biller": ["/web/submission", "/web/payments", "/web/dashboard", "/web/queues/denials", "/web/queues/unmatched",
               "/web/admin", "/web/admin/reference", "/web/admin/fee-schedules/{fee}", "/web/queues/rejections",
               "/web/dashboard?days=365", "/web/break-glass"],
    "practice_admin": ["/web/admin", "/web/admin/audit", "/web/admin/payer-rules/{rule}", "/web/break-glass"],
    "system_admin": ["/web/", "/web/admin", "/web/admin/reference", "/web/break-glass"],
}  # fmt: skip


def _pages(client: TestClient, world: DemoWorld) -> list[tuple[str, str, Any]]:
    enc = _first(world, "encounter", status="to_code")
    fee = _first(world, "fee_schedule")
    rules = records.list_records(world.db, actor=_actor(world, Role.PRACTICE_ADMIN), resource="payer_rule").items
    rule = rules[0] if rules else records.create(
        world.db, actor=_actor(world, Role.PRACTICE_ADMIN), resource="payer_rule",
        data=sc.PayerRuleCreate(name="Labels", definition={"id": "x", "require": {"ndc": True}}, active=False),
    )  # fmt: skip
    out = []
    for role, paths in PAGES.items():
        signed_in(client, world, role)
        for path in paths:
            out.append((role, path, client.get(path.format(enc=enc.id, fee=fee.id, rule=rule.id))))  # type: ignore[attr-defined]
    client.cookies.clear()
    out.append(("anonymous", "/web/login", client.get("/web/login")))
    out.append(("anonymous", "/web/static/app.js", client.get("/web/static/app.js")))
    return out


def test_every_page_sends_csp_no_store_and_frame_deny(client: TestClient, web_world: DemoWorld) -> None:
    for role, path, r in _pages(client, web_world):
        assert r.status_code in (200, 403, 404), (role, path, r.status_code)
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, path
        assert r.headers["cache-control"] == "no-store", path
        assert r.headers["x-frame-options"] == "DENY", path
        if r.headers["content-type"].startswith("text/html"):
            # the CSP allows no inline script or style: none may be in the pages
            assert not re.search(r"<script(?![^>]*\bsrc=)", r.text), path
            assert " style=" not in r.text and "<style" not in r.text and " onclick=" not in r.text, path


def test_error_pages_are_html_for_web_and_json_for_the_api(client: TestClient, web_world: DemoWorld) -> None:
    signed_in(client, web_world, "coder")
    r = client.get("/web/queues/denials")  # a coder has no remittance permission
    assert r.status_code == 403 and r.headers["content-type"].startswith("text/html") and "Not allowed" in r.text
    r = client.get("/web/encounters/not-a-number")
    assert r.status_code == 404 and "Not found" in r.text
    assert client.get("/web/claims/999999").status_code == 404
    assert client.get("/claims/999999").headers["content-type"].startswith("application/json")


def test_another_practice_s_records_are_not_found(client: TestClient, web_world: DemoWorld) -> None:
    other = records.list_records(
        web_world.db, actor=_actor(web_world, Role.PRACTICE_ADMIN, web_world.other.practice_id), resource="encounter"
    ).items[0]
    signed_in(client, web_world, "coder")
    for path in (f"/web/encounters/{other.id}", f"/web/encounters/{other.id}/suggestions"):  # type: ignore[attr-defined]
        r = client.get(path)
        assert r.status_code == 404, path
    signed_in(client, web_world, "biller")
    patient = records.list_records(
        web_world.db, actor=_actor(web_world, Role.PRACTICE_ADMIN, web_world.other.practice_id), resource="patient"
    ).items[0]
    assert client.get(f"/web/patients/{patient.id}/statement").status_code == 404  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------- labels
class _Fields(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.in_label = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label":
            self.in_label += 1
            if a.get("for"):
                self.label_for.add(str(a["for"]))
        elif tag in ("input", "select", "textarea"):
            if tag == "input" and a.get("type") in ("hidden", "submit", "button"):
                return
            self.fields.append({**a, "_tag": tag, "_wrapped": "1" if self.in_label else None})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.in_label -= 1


def test_every_form_field_has_a_label(client: TestClient, web_world: DemoWorld) -> None:
    checked = 0
    for role, path, r in _pages(client, web_world):
        if not r.headers["content-type"].startswith("text/html"):
            continue
        parser = _Fields()
        parser.feed(r.text)
        for f in parser.fields:
            assert f["_wrapped"] or (f.get("id") and f["id"] in parser.label_for), (role, path, f)
            checked += 1
    signed_in(client, web_world, "biller")
    claim_page = client.get("/web/claims/999999")
    assert claim_page.status_code == 404
    assert checked > 40


# ------------------------------------------------------------------------------------------- escaping
def test_user_text_is_escaped_everywhere(client: TestClient, web_world: DemoWorld) -> None:
    admin = _actor(web_world, Role.PRACTICE_ADMIN)
    payer = records.create(
        web_world.db, actor=admin, resource="payer", data=sc.PayerCreate(name=XSS[:60], payer_id="XSSPAYER")
    )
    patient = _first(web_world, "patient")
    enc = records.create(
        web_world.db,
        actor=admin,
        resource="encounter",
        data=sc.EncounterCreate(
            patient_id=patient.id, service_date=dt.date(2026, 3, 2), note=f"Hypertension. {XSS} Denies chest pain."
        ),
    )
    signed_in(client, web_world, "biller")
    admin_page = client.get("/web/admin")
    assert "&lt;script&gt;alert(" in admin_page.text and "<script>alert" not in admin_page.text
    signed_in(client, web_world, "coder")
    for path in (f"/web/encounters/{enc.id}", f"/web/encounters/{enc.id}/suggestions"):  # type: ignore[attr-defined]
        r = client.get(path)
        assert r.status_code == 200 and "&lt;script&gt;" in r.text and "<script>alert" not in r.text, path
        assert "<img src=x" not in r.text
    assert str(payer.id)  # type: ignore[attr-defined]


def test_text_from_an_835_file_is_escaped(client: TestClient, web_world: DemoWorld) -> None:
    """An 835 whose payer name and patient name carry markup: preview, post and the queues show it inert."""
    from medbill.services import claims as claim_svc

    biller = _actor(web_world, Role.BILLER)
    enc = _first(web_world, "encounter", status="coded")
    claim = claim_svc.build_claim(web_world.db, actor=biller, encounter_id=enc.id)
    partner = records.create(
        web_world.db, actor=_actor(web_world, Role.PRACTICE_ADMIN), resource="trading_partner",
        data=sc.TradingPartnerCreate(name="CH", sender_id="S1", receiver_id="R1", gs_sender="S1", gs_receiver="R1",
                                     contact_phone="6145550100"),
    )  # fmt: skip
    claim_svc.scrub_claim(web_world.db, actor=biller, claim_id=claim.id)
    batch = claim_svc.create_batch(web_world.db, actor=biller, partner_id=partner.id, claim_ids=[claim.id])  # type: ignore[attr-defined]
    answer = simulate(batch.content, SimulationRules(reject_member_prefixes=(), payer_name="<script>alert(9)</script>"))
    remit = answer.remit_835.replace("NM1*QC*1*", "NM1*QC*1*<b>X</b>", 1)
    remit = remit.replace(f"CLP*{claim.patient_control_number}*", "CLP*<script>x</script>*", 1)  # unmatched
    csrf = signed_in(client, web_world, "biller")
    files = {"file": ("remit.835", remit.encode(), "text/plain")}
    preview = client.post("/web/remittances/preview", data={"csrf_token": csrf}, files=files)
    assert preview.status_code == 200, preview.text
    key = re.search(r'name="key" value="([^"]+)"', preview.text).group(1)  # type: ignore[union-attr]
    posted = client.post("/web/remittances/post", data={"csrf_token": csrf, "key": key})
    assert posted.status_code == 200
    for r in (preview, posted, client.get("/web/queues/unmatched"), client.get("/web/queues/denials")):
        assert "<script>" not in r.text.replace('<script src="/web/static/app.js" defer></script>', "")
        assert "<b>X</b>" not in r.text


# ------------------------------------------------------------------------------------------- no PHI in URLs/titles
def test_no_phi_in_links_form_actions_or_titles(client: TestClient, web_world: DemoWorld) -> None:
    patients = records.list_records(
        web_world.db, actor=_actor(web_world, Role.PRACTICE_ADMIN), resource="patient"
    ).items
    phi = {p.last_name for p in patients} | {p.birth_date.isoformat() for p in patients}  # type: ignore[attr-defined]
    for _role, path, r in _pages(client, web_world):
        if not r.headers["content-type"].startswith("text/html"):
            continue
        urls = re.findall(r'(?:href|action|src)="([^"]*)"', r.text)
        title = re.search(r"<title>(.*?)</title>", r.text, flags=re.S)
        for value in phi:
            assert all(value not in u for u in urls), (path, value)
            assert title is None or value not in title.group(1), (path, value)


# ------------------------------------------------------------------------------------------- new pages
def _biller_fee(world: DemoWorld) -> Any:
    return _first(world, "fee_schedule")


def test_fee_schedule_page_edits_items_refuses_forgery_and_escapes(client: TestClient, web_world: DemoWorld) -> None:
    fee = _biller_fee(web_world)
    csrf = signed_in(client, web_world, "biller")
    page = client.get(f"/web/admin/fee-schedules/{fee.id}")
    assert page.status_code == 200 and 'id="fee-items"' in page.text
    assert f'name="csrf_token" value="{csrf}"' in page.text
    items = list(fee.items)
    form: dict[str, Any] = {
        "csrf_token": csrf,
        "name": XSS[:100],
        "fi_code": [i.code for i in items] + ["99499", ""],
        "fi_mod": [i.modifier for i in items] + ["25", ""],
        "fi_amount": ["1.23"] + [str(i.amount) for i in items[1:]] + ["45.60", ""],
    }
    forged = client.post(f"/web/admin/fee-schedules/{fee.id}", data={**form, "csrf_token": "0" * 64})
    assert forged.status_code == 403 and "security token" in forged.text
    bad = client.post(
        f"/web/admin/fee-schedules/{fee.id}", data={**form, "fi_amount": ["lots"] + form["fi_amount"][1:]}
    )
    assert bad.status_code == 422 and 'id="form-error"' in bad.text and 'value="lots"' in bad.text
    admin = _actor(web_world, Role.PRACTICE_ADMIN)
    assert records.get(web_world.db, actor=admin, resource="fee_schedule", record_id=fee.id).items == fee.items  # type: ignore[attr-defined]
    ok = client.post(f"/web/admin/fee-schedules/{fee.id}", data=form, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"].endswith("?saved=1")
    after = records.get(web_world.db, actor=admin, resource="fee_schedule", record_id=fee.id)
    got = {(i.code, i.modifier): i.amount for i in after.items}  # type: ignore[attr-defined]
    assert len(got) == len(items) + 1 and got[("99499", "25")] == Decimal("45.60")
    assert got[(items[0].code, items[0].modifier)] == Decimal("1.23")
    shown = client.get(f"/web/admin/fee-schedules/{fee.id}?saved=1")
    assert "Fee schedule saved." in shown.text and "&lt;script&gt;" in shown.text and "<script>alert" not in shown.text
    # a coder reads it, with the form disabled and no save button
    signed_in(client, web_world, "coder")
    read = client.get(f"/web/admin/fee-schedules/{fee.id}")
    assert read.status_code == 200 and "disabled" in read.text and 'id="save-fees"' not in read.text
    assert client.post(f"/web/admin/fee-schedules/{fee.id}", data={**form, "csrf_token": csrf}).status_code == 403


RULE_YAML = 'id: tele-95\nwhen:\n  place_of_service: ["10"]\nrequire:\n  modifier: ["95"]\nfix: add modifier 95\n'


def test_payer_rule_pages_validate_the_definition(client: TestClient, web_world: DemoWorld) -> None:
    csrf = signed_in(client, web_world, "biller")
    form = {"csrf_token": csrf, "name": "Telehealth " + XSS[:60], "payer_id": "", "definition": RULE_YAML}
    assert client.post("/web/admin/payer-rules", data={**form, "csrf_token": "x"}).status_code == 403
    made = client.post("/web/admin/payer-rules", data=form, follow_redirects=False)
    assert made.status_code == 303, made.text
    url = made.headers["location"].split("?")[0]
    page = client.get(url)
    assert page.status_code == 200 and "tele-95" in page.text and "&lt;script&gt;" in page.text
    assert "<script>alert" not in page.text
    rule_id = int(url.rsplit("/", 1)[1])
    for text, needle in (
        ("id: [unclosed", "not valid YAML"),
        ("- just\n- a list\n", "expected a mapping"),
        ('id: x\nrequire:\n  modifierz: ["95"]\n', "modifierz"),
        ("id: x\nrequire:\n  max_units: many\n", "max_units"),
        (XSS, "expected a mapping"),
    ):
        bad = client.post(url, data={**form, "definition": text, "active": "1"})
        assert bad.status_code == 422 and needle in bad.text, (text, bad.text[-400:])
        assert "<script>alert" not in bad.text and "<img src=x" not in bad.text
    admin = _actor(web_world, Role.PRACTICE_ADMIN)
    kept = records.get(web_world.db, actor=admin, resource="payer_rule", record_id=rule_id)
    assert kept.definition["id"] == "tele-95"  # type: ignore[attr-defined]
    json_text = '{"id": "tele-95", "require": {"modifier": ["95", "GT"]}}'
    ok = client.post(url, data={**form, "definition": json_text}, follow_redirects=False)  # unchecked: inactive
    assert ok.status_code == 303
    after = records.get(web_world.db, actor=admin, resource="payer_rule", record_id=rule_id)
    assert after.definition["require"]["modifier"] == ["95", "GT"] and after.active is False  # type: ignore[attr-defined]
    admin_page = client.get("/web/admin")
    assert f'href="/web/admin/payer-rules/{rule_id}"' in admin_page.text


def test_break_glass_page_marks_the_session(client: TestClient, web_world: DemoWorld) -> None:
    user = web_world.new_user("front_desk", "web-breakglass-desk")
    csrf = sign_in(client, user)
    home = client.get("/web/")
    assert 'href="/web/break-glass"' in home.text and 'id="break-glass-banner"' not in home.text
    page = client.get("/web/break-glass")
    assert page.status_code == 200 and 'for="bg-reason"' in page.text
    reason = "patient in the emergency room " + XSS
    assert client.post("/web/break-glass", data={"reason": reason}).status_code == 403  # no CSRF token
    short = client.post("/web/break-glass", data={"csrf_token": csrf, "reason": "because"})
    assert short.status_code == 422 and "at least" in short.text
    ok = client.post("/web/break-glass", data={"csrf_token": csrf, "reason": reason}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/web/?break_glass=1"
    marked = client.get(ok.headers["location"])
    assert 'id="break-glass-banner"' in marked.text and "emergency access" in marked.text
    assert 'class="bg-session"' in marked.text and 'href="/web/break-glass"' not in marked.text
    again = client.get("/web/break-glass")
    assert "already has emergency access" in again.text
    # an auditor reviews break-glass use and never asks for it
    signed_in(client, web_world, "auditor")
    assert client.get("/web/break-glass").status_code == 403


def test_837_download_comes_from_the_database_and_is_audited(client: TestClient, web_world: DemoWorld) -> None:
    from sqlalchemy import select

    from medbill.services import claims as claim_svc
    from medbill.store import models as m

    biller = _actor(web_world, Role.BILLER)
    partner = records.create(
        web_world.db, actor=_actor(web_world, Role.PRACTICE_ADMIN), resource="trading_partner",
        data=sc.TradingPartnerCreate(name="CH dl", sender_id="S1", receiver_id="R1", gs_sender="S1",
                                     gs_receiver="R1", contact_phone="6145550100"),
    )  # fmt: skip
    coded = records.list_records(web_world.db, actor=biller, resource="encounter", filters={"status": "coded"}).items
    claim_id = None
    for enc in coded:
        claim = claim_svc.build_claim(web_world.db, actor=biller, encounter_id=enc.id)  # type: ignore[attr-defined]
        if claim_svc.scrub_claim(web_world.db, actor=biller, claim_id=claim.id).status == "ready":
            claim_id = claim.id
            break
    assert claim_id is not None
    csrf = signed_in(client, web_world, "biller")
    made = client.post(
        "/web/batches", data={"csrf_token": csrf, "partner_id": str(partner.id), "claim_id": str(claim_id)}
    )  # type: ignore[attr-defined]
    assert made.status_code == 200
    href = re.search(r'id="download-837" href="([^"]+)"', made.text).group(1)  # type: ignore[union-attr]
    assert re.fullmatch(r"/web/batches/\d+/837", href)
    batch_id = int(href.split("/")[3])
    r = client.get(href)
    assert r.status_code == 200 and r.text.startswith("ISA*") and "ST*837*" in r.text
    assert r.headers["content-disposition"] == f'attachment; filename="837P-batch{batch_id}.x12"'
    assert r.headers["cache-control"] == "no-store"
    # the same file after a restart: nothing is kept in process memory
    with web_world.db.read() as s:
        assert s.get(m.SubmissionBatch, batch_id).content == r.text  # type: ignore[union-attr]
        exports = s.execute(
            select(m.AuditEvent.action, m.AuditEvent.resource).where(
                m.AuditEvent.action == "export", m.AuditEvent.resource == "submission_batch"
            )
        ).all()
    assert exports
    # a test partner's batch is answered by the payer simulator, for the user to upload like a payer's files
    assert f'id="sim-835" href="/web/batches/{batch_id}/simulated/835"' in made.text
    for kind, st in (("999", "ST*999*"), ("277ca", "ST*277*"), ("835", "ST*835*")):
        sim = client.get(f"/web/batches/{batch_id}/simulated/{kind}")
        assert sim.status_code == 200 and sim.text.startswith("ISA*") and st in sim.text, kind
    assert client.get(f"/web/batches/{batch_id}/simulated/837").status_code in (404, 422)
    sub = client.get("/web/submission")
    assert f'href="/web/batches/{batch_id}/837"' in sub.text and 'id="batches"' in sub.text
    signed_in(client, web_world, "coder")
    assert client.get(href).status_code == 403
    other = _actor(web_world, Role.BILLER, web_world.other.practice_id)
    assert history_ids(web_world, other) and batch_id not in history_ids(web_world, other)
    signed_in(client, web_world, "biller")
    assert client.get("/web/batches/999999/837").status_code == 404


def history_ids(world: DemoWorld, actor: Actor) -> list[int] | list[None]:
    from medbill.services import history

    return [b.id for b in history.list_batches(world.db, actor=actor).items] or [None]


def test_rejections_queue_lists_acknowledgment_work_items(client: TestClient, web_world: DemoWorld) -> None:
    from medbill.store import models as m

    claim_id = 1
    with web_world.db.write() as s:
        s.add_all(
            [
                m.WorkItem(practice_id=web_world.own.practice_id, queue="rejections", claim_id=claim_id,
                           summary=f"277CA rejected claim {claim_id}: A7:21 {XSS[:80]}", detail={}),
                m.WorkItem(practice_id=web_world.own.practice_id, queue="unmatched_ack", claim_id=None,
                           summary="277CA claim 3 (A7:562) matches no claim", detail={}),
                m.WorkItem(practice_id=web_world.other.practice_id, queue="rejections", claim_id=None,
                           summary="OTHER PRACTICE rejection", detail={}),
            ]
        )  # fmt: skip
    signed_in(client, web_world, "biller")
    page = client.get("/web/queues/rejections")
    assert page.status_code == 200
    assert f'<a href="/web/claims/{claim_id}">{claim_id}</a>' in page.text
    assert "A7:21" in page.text and "matches no claim" in page.text and "OTHER PRACTICE" not in page.text
    assert "&lt;script&gt;" in page.text and "<script>alert" not in page.text
    only = client.get("/web/queues/rejections?queue=unmatched_ack")
    assert "matches no claim" in only.text and "A7:21" not in only.text
    unmatched = client.get("/web/queues/unmatched")
    assert "A7:21" not in unmatched.text and "matches no claim" not in unmatched.text
    home = client.get("/web/")
    assert re.search(r'id="q-rejections"><span class="t">[^<]*</span><span class="n">[1-9]', home.text)
    # a coder (no remittance permission) still sees the rejected claims, as a claim list
    signed_in(client, web_world, "coder")
    assert client.get("/web/queues/rejections").status_code == 200


def test_dashboard_shows_revenue_measures_beside_the_charts(client: TestClient, web_world: DemoWorld) -> None:
    signed_in(client, web_world, "biller")
    page = client.get("/web/dashboard?days=30")
    assert page.status_code == 200
    for marker in ('id="days-in-ar"', 'id="rates"', "Net collection rate", "First-pass acceptance",
                   "Clean-claim rate", "Denial rate", "last 30 days", "<svg"):  # fmt: skip
        assert marker in page.text, marker
    assert client.get("/web/dashboard?days=7").status_code == 200  # an unknown period falls back to 90 days
    signed_in(client, web_world, "coder")
    assert client.get("/web/dashboard").status_code == 403


def test_reference_page_shows_the_load_command_to_the_system_admin_only(
    client: TestClient, web_world: DemoWorld
) -> None:
    signed_in(client, web_world, "system_admin")
    page = client.get("/web/admin/reference")
    assert page.status_code == 200 and 'id="load-command"' in page.text and "medbill data build" in page.text
    signed_in(client, web_world, "biller")
    assert 'id="load-command"' not in client.get("/web/admin/reference").text
