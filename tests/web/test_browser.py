"""End to end in a real Chromium (Debian's chromium + chromedriver, driven by Selenium): a coder and a biller
walk an encounter from the note to a posted payment through the pages, then the denial flow.

The payer is :mod:`medbill.x12.simulate`: the test downloads the 837 the page produced, lets the simulator
answer it, and uploads its 999, 277CA and 835 through the pages. Screenshots go to ``MEDBILL_ARTIFACTS_DIR``
(or the test's tmp folder); the path is printed.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from medbill.services import claims as claim_svc
from medbill.services import records
from medbill.services.context import Actor
from medbill.services.permissions import Role
from medbill.x12.simulate import Denial, SimulationRules, simulate
from tests.web.conftest import DemoWorld, make_world, refdata_path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
try:
    import selenium  # noqa: F401

    HAVE_SELENIUM = True
except ImportError:  # pragma: no cover - depends on the environment
    HAVE_SELENIUM = False

pytestmark = [
    pytest.mark.skipif(not HAVE_SELENIUM, reason="selenium is not installed (pip install selenium)"),
    pytest.mark.skipif(
        CHROMIUM is None or DRIVER is None,
        reason="no chromium/chromedriver: apt-get install -y chromium chromium-driver (.ci/run does it as root)",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            if time.time() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    raw = os.environ.get("MEDBILL_ARTIFACTS_DIR")
    path = Path(raw) / "web-e2e" if raw else tmp_path_factory.mktemp("web-e2e-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    print(f"\nbrowser screenshots: {path}")
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, built_store_path: Path) -> Iterator[DemoWorld]:
    path = refdata_path() or built_store_path
    mp = pytest.MonkeyPatch()
    mp.setenv("MEDBILL_REFDATA", str(path))
    w = make_world(tmp_path_factory.mktemp("web-e2e"))
    yield w
    w.db.dispose()
    mp.undo()


@pytest.fixture(scope="module")
def server(world: DemoWorld) -> Iterator[Server]:
    from medbill.api import create_app

    with Server(create_app(db=world.db)) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(str(DRIVER)), options=opts)
    drv.implicitly_wait(0)
    yield drv
    drv.quit()


class Walk:
    """The browser and what the steps share: screenshots, waits, sign-in."""

    def __init__(self, drv: Any, server: Server, world: DemoWorld, artifacts: Path) -> None:
        self.drv, self.server, self.world, self.artifacts = drv, server, world, artifacts
        self.steps: list[str] = []
        self.used_steps: dict[str, int] = {}

    def shot(self, name: str) -> None:
        self.steps.append(name)
        self.drv.save_screenshot(str(self.artifacts / f"{len(self.steps):02d}-{name}.png"))

    def open(self, path: str) -> None:
        self.drv.get(self.server.url + path)

    def css(self, selector: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.drv.find_element(By.CSS_SELECTOR, selector)

    def all(self, selector: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list(self.drv.find_elements(By.CSS_SELECTOR, selector))

    def wait(self, condition: Any, timeout: float = 60) -> Any:
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.drv, timeout, poll_frequency=0.1).until(condition)

    def wait_css(self, selector: str, timeout: float = 60) -> Any:
        return self.wait(lambda d: self.all(selector) and self.all(selector)[0], timeout)

    def submit(self, selector: str) -> None:
        """Click a submit button and wait for the next page."""
        old = self.css("html")
        self.css(selector).click()
        self.wait(lambda d: _stale(old))

    def sign_in(self, role: str) -> None:
        user = self.world.users[role]
        self.open("/web/login")
        self.css("#username").send_keys(user.username)
        self.css("#password").send_keys(user.password)
        self.submit("form button[type=submit]")
        assert self.drv.current_url.endswith("/web/mfa")
        totp = pyotp.parse_uri(user.otpauth_uri)
        # one TOTP step is accepted once per user: wait for a fresh step when this user signed in this step
        step = int(time.time()) // 30
        if self.used_steps.get(role) == step:
            time.sleep(30 - time.time() % 30 + 0.5)
            step = int(time.time()) // 30
        self.used_steps[role] = step
        self.css("#code").send_keys(totp.now())
        self.submit("form button[type=submit]")
        assert self.drv.current_url.endswith("/web/"), self.drv.current_url
        assert "medbill_session" in {c["name"] for c in self.drv.get_cookies()}

    def sign_out(self) -> None:
        self.submit("#signout button")
        assert "signed_out=1" in self.drv.current_url
        assert "medbill_session" not in {c["name"] for c in self.drv.get_cookies()}

    def cookie(self) -> str:
        found = self.drv.get_cookie("medbill_session")
        assert found is not None
        return str(found["value"])

    def download(self, href: str) -> str:
        r = httpx.get(href, cookies={"medbill_session": self.cookie()})
        assert r.status_code == 200, r.text
        return r.text

    def upload(self, form_input: str, button: str, name: str, content: str) -> None:
        path = self.artifacts / name
        path.write_text(content)
        self.css(form_input).send_keys(str(path))
        self.submit(button)

    def csp_violations(self) -> list[str]:
        logs = self.drv.get_log("browser")
        return [e["message"] for e in logs if "Content Security Policy" in e["message"]]


def _stale(element: Any) -> bool:
    """The old page's root is gone: a new page has loaded.

    While Chromium swaps documents, touching the old node may raise StaleElementReference or, in the
    middle of the swap, a plain WebDriverException ("Node with given id does not belong to the
    document"); both mean the old page is gone.
    """
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    try:
        element.is_enabled()
        return False
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        if "does not belong to the document" in str(exc) or "No node with given id" in str(exc):
            return True
        raise


def _send_and_answer(walk: Walk, claim_ids: list[int], rules: SimulationRules, tag: str) -> None:
    """Batch the claims on the submission page, let the simulator answer, upload 999, 277CA, 835."""
    walk.open("/web/submission")
    for box in walk.all("input[name=claim_id]"):
        if int(box.get_attribute("value")) not in claim_ids and box.is_selected():
            box.click()
    walk.shot(f"{tag}-submission")
    walk.submit("#create-batch")
    assert "Batch" in walk.css("h1").text
    walk.shot(f"{tag}-batch")
    text = walk.download(walk.css("#download-837").get_attribute("href"))
    assert text.startswith("ISA*") and "ST*837*" in text
    answer = simulate(text, rules)
    for kind, content in (("999", answer.ack_999), ("277ca", answer.ack_277ca)):
        walk.open("/web/submission")
        walk.upload("#ack-file", "#upload-ack", f"{tag}-{kind}.x12", content)
        assert walk.css("#ack-rejected").text == "0", walk.css("main").text
        walk.shot(f"{tag}-ack-{kind}")
    walk.open("/web/payments")
    walk.upload("#remit-file", "#preview-835", f"{tag}-835.x12", answer.remit_835)
    assert "Preview" in walk.css("h1").text
    assert walk.css("#count-posted").text == str(len(claim_ids)), walk.css("main").text
    walk.shot(f"{tag}-835-preview")
    walk.submit("#post-835")
    assert walk.css("h1").text == "835 posted"
    assert walk.css("#count-posted").text == str(len(claim_ids))
    walk.shot(f"{tag}-835-posted")


def test_note_to_posted_payment_and_denial(browser: Any, server: Server, world: DemoWorld, artifacts: Path) -> None:
    from selenium.webdriver.common.keys import Keys

    walk = Walk(browser, server, world, artifacts)
    coder = Actor(user_id=None, role=Role.CODER, practice_id=world.own.practice_id)
    to_code = records.list_records(world.db, actor=coder, resource="encounter", filters={"status": "to_code"})
    encounter = to_code.items[0]

    # ---- the coder: workbench, keyboard accept, code search, save, create claim
    walk.sign_in("coder")
    walk.shot("coder-home")
    walk.open("/web/queues/to_code")
    assert walk.all(f"a[href='/web/encounters/{encounter.id}']")  # type: ignore[attr-defined]
    walk.shot("queue-to-code")
    walk.open(f"/web/encounters/{encounter.id}")  # type: ignore[attr-defined]
    walk.wait(lambda d: walk.css("#sugpanel").get_attribute("data-loaded") == "1", timeout=120)
    marks = walk.all("#note mark")
    assert marks, "no evidence highlighted"
    walk.shot("workbench-suggestions")
    sugs = walk.all("#suggestions .sug")
    index = next(
        i
        for i, li in enumerate(sugs)
        if li.get_attribute("data-system") == "ICD10CM" and "ev-present" in li.get_attribute("class")
    )
    code = sugs[index].get_attribute("data-code")
    body = walk.css("body")
    body.send_keys("j")  # j moves the focus to the next suggestion
    for _ in range(index):
        walk.drv.switch_to.active_element.send_keys("j")
    assert walk.drv.switch_to.active_element.get_attribute("data-code") == code
    walk.drv.switch_to.active_element.send_keys("a")  # a accepts the focused suggestion
    walk.wait(lambda d: "accepted" in walk.all("#suggestions .sug")[index].get_attribute("class"))
    dx = [i.get_attribute("value") for i in walk.all("input[name=dx_code]")]
    assert code in dx
    walk.shot("workbench-accepted")
    # "/" jumps to the code search; the result's details open in the side panel
    walk.drv.switch_to.active_element.send_keys("/")
    assert walk.drv.switch_to.active_element.get_attribute("id") == "code-q"
    walk.drv.switch_to.active_element.send_keys("office visit established", Keys.ENTER)
    walk.css("#code-system").send_keys("HCPCS")
    walk.open(f"/web/encounters/{encounter.id}")  # type: ignore[attr-defined]
    walk.wait(lambda d: walk.css("#sugpanel").get_attribute("data-loaded") == "1", timeout=60)
    walk.css("#code-q").send_keys("hypertension", Keys.ENTER)
    walk.wait_css("#code-results .detail-link").click()
    walk.wait_css("#code-detail .code-detail")
    walk.shot("workbench-code-detail")
    # the accepted code was not saved yet (page reloaded): accept it again, add a procedure, save with Ctrl+S
    # (the accepted pair was learned: the list may have changed, so find the code again)
    sug = walk.css(f"#suggestions .sug[data-code='{code}']")
    walk.drv.execute_script("arguments[0].scrollIntoView()", sug)
    sug.find_element("css selector", "button.accept").click()
    walk.wait(lambda d: "accepted" in walk.css(f"#suggestions .sug[data-code='{code}']").get_attribute("class"))
    walk.wait(lambda d: code in [i.get_attribute("value") for i in walk.all("input[name=dx_code]")])
    walk.css("input[name=px_code]").send_keys("99213")
    walk.css("input[name=px_ptr]").clear()
    walk.css("input[name=px_ptr]").send_keys("1")
    old = walk.css("html")
    walk.css("input[name=px_code]").send_keys(Keys.CONTROL, "s")
    walk.wait(lambda d: _stale(old))
    assert "Codes saved." in walk.css("main").text
    walk.shot("workbench-saved")
    walk.submit("#create-claim")
    assert walk.css("h1").text.startswith("Claim ")
    claim_id = int(walk.css("h1").text.split()[1])
    summary = walk.css("#scrub-summary").text
    walk.shot("claim-created")
    assert "0 errors" in summary, summary
    assert walk.css("#claim-status").text == "ready"
    assert walk.csp_violations() == []
    walk.sign_out()
    walk.shot("signed-out")

    # ---- the biller: a trading partner on the admin page, then send, acknowledge, post
    walk.sign_in("biller")
    walk.open("/web/admin")
    for field, value in (
        ("#tp-name", "Demo clearinghouse"),
        ("#tp-sender", "DEMOSENDER"),
        ("#tp-receiver", "DEMORECV"),
        ("#tp-gs-sender", "DEMOSENDER"),
        ("#tp-gs-receiver", "DEMORECV"),
        ("#tp-phone", "6145550100"),
    ):
        walk.css(field).send_keys(value)
    walk.submit("#add-partner")
    assert "Trading partner added." in walk.css("main").text
    walk.shot("admin-partner")
    rules = SimulationRules(reject_member_prefixes=())
    _send_and_answer(walk, [claim_id], rules, "walk")
    walk.open(f"/web/claims/{claim_id}/ledger")
    payments = walk.css("#ledger-payments").text
    assert payments not in ("0", "0.00"), walk.css("main").text
    walk.shot("ledger")
    walk.css("#statement-link").click()
    walk.wait_css("#total-due")
    walk.shot("statement")
    walk.open(f"/web/claims/{claim_id}")
    history = walk.css("#history").text
    for status in ("draft", "ready", "submitted", "accepted", "paid"):
        assert status in history, history

    # ---- the denial flow: a coded demo encounter's claim, denied by the payer with CARC 50
    biller = Actor(user_id=None, role=Role.BILLER, practice_id=world.own.practice_id)
    coded = records.list_records(world.db, actor=biller, resource="encounter", filters={"status": "coded"})
    denied_claim = claim_svc.build_claim(world.db, actor=biller, encounter_id=coded.items[0].id)  # type: ignore[attr-defined]
    walk.open(f"/web/claims/{denied_claim.id}")
    walk.submit("#scrub-claim")
    assert walk.css("#claim-status").text == "ready", walk.css("main").text
    deny = SimulationRules(
        reject_member_prefixes=(), denials=(Denial(carc="50", claim=denied_claim.patient_control_number),)
    )
    _send_and_answer(walk, [denied_claim.id], deny, "denial")
    walk.open("/web/queues/denials")
    table = walk.css("#queue-table").text
    assert str(denied_claim.id) in table and "CO-50" in table, table
    assert "medical necessity" in table.lower() or "not deemed" in table.lower(), table
    walk.shot("denials-worklist")
    walk.open("/web/dashboard")
    assert walk.all("svg rect.bar")
    assert "CO-50" in walk.css("#denial-reasons").text
    walk.shot("dashboard")
    assert walk.csp_violations() == []
    walk.sign_out()
    print("browser walk steps:", ", ".join(walk.steps))
