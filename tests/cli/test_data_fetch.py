"""``medbill data fetch`` and ``medbill data import-cpt`` through click's CliRunner (no network).

CPT files are the SYNTHETIC ones in tests/codesets/data (fake descriptors, never AMA text).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from medbill.cli.main import main
from medbill.codesets.build import Dataset, build
from medbill.codesets.manifest import parse_manifest
from medbill.codesets.records import ITEM, CodeRow
from medbill.codesets.refstore import RefStore
from medbill.codesets.writer import ReleaseWriter
from medbill.core.codes import CodeSystem

DATA = Path(__file__).resolve().parents[1] / "codesets" / "data"
LONGULT = DATA / "cpt_synthetic_LONGULT.txt"
CM_ZIP_NAME = "april-1-2026-code-tables-tabular-index.zip"


def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str | None]:
    home = tmp_path / "home"
    return {
        "MEDBILL_HOME": str(home),
        "MEDBILL_REFDATA": str(home / "refdata.sqlite"),
        "MEDBILL_SOURCE_DIR": None,
    }


def run(env: dict[str, str | None], *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to download fails the test."""

    def no_network(url: str) -> Iterable[bytes]:
        raise AssertionError(f"the network was used: {url}")

    monkeypatch.setattr("medbill.services.fetch.urllib_fetch", no_network)


@pytest.fixture()
def downloads(tmp_path: Path) -> Path:
    """A folder as a user leaves it after downloading by hand."""
    d = tmp_path / "Downloads"
    d.mkdir()
    (d / CM_ZIP_NAME).write_bytes(
        make_zip(
            {
                "Table and Index/icd10cm_index_2026.xml": (DATA / "icd10cm_index_sample.xml").read_bytes(),
                "Table and Index/icd10cm_eindex_2026.xml": (DATA / "icd10cm_eindex_sample.xml").read_bytes(),
                "Table and Index/icd10cm_neoplasm_2026.xml": (DATA / "icd10cm_neoplasm_sample.xml").read_bytes(),
                "Table and Index/icd10cm_drug_2026.xml": (DATA / "icd10cm_drug_sample.xml").read_bytes(),
            }
        )
    )
    ncci = (DATA / "ncci_ptp_practitioner_cms_layout.txt").read_bytes()
    for i in range(1, 5):
        name = f"medicare-ncci-2026q3-practitioner-ptp-edits-ccipra-v322r0-f{i}.zip"
        (d / name).write_bytes(make_zip({f"ccipra-v322r0-f{i}.TXT": ncci}))
    return d


def test_help_for_both_commands(env: dict[str, str | None]) -> None:
    res = run(env, "data", "fetch", "--help")
    assert res.exit_code == 0
    for opt in ("--from", "--dataset", "--accept-cpt-license", "--json", "--list"):
        assert opt in res.output
    res = run(env, "data", "import-cpt", "--help")
    assert res.exit_code == 0 and "--accept-cpt-license" in res.output and "--json" in res.output


def test_list_shows_the_manifest(env: dict[str, str | None]) -> None:
    res = run(env, "data", "fetch", "--list", "--json", "--dataset", "mue-practitioner")
    assert res.exit_code == 0
    payload = json.loads(res.stdout)
    (entry,) = payload["entries"]
    assert entry["url"] == "https://www.cms.gov/files/zip/medicare-ncci-2026-q3-practitioner-services-mue-table.zip"
    assert entry["cpt_license"] is True and entry["folder"] == "mue-2026q3"
    text = run(env, "data", "fetch", "--list").output
    assert "ncci-outpatient-2026q3-f1" in text and "URL unconfirmed" in text and "CPT licence" in text


def test_fetch_from_folder(env: dict[str, str | None], downloads: Path) -> None:
    res = run(env, "data", "fetch", "--from", str(downloads), "--dataset", "icd10cm-index")
    assert res.exit_code == 0, res.output
    home = Path(str(env["MEDBILL_HOME"]))
    assert "copied" in res.output and "icd10cm-2026-tables" in res.output
    assert f"MEDBILL_SOURCE_DIR={home / 'sources'} medbill data build" in res.output
    assert (home / "sources" / "icd10cm-2026" / "icd10cm_drug_2026.xml").is_file()
    again = run(env, "data", "fetch", "--from", str(downloads), "--dataset", "icd10cm-index", "--json")
    assert again.exit_code == 0
    payload = json.loads(again.stdout)
    assert payload["ok"] is True and payload["download_dir"] == str(home / "sources")
    assert [(r["entry"], r["status"]) for r in payload["results"]] == [("icd10cm-2026-tables", "unchanged")]


def test_cpt_files_need_the_licence(env: dict[str, str | None], downloads: Path) -> None:
    res = CliRunner().invoke(
        main, ["data", "fetch", "--from", str(downloads), "--dataset", "ncci-practitioner"], env=env
    )
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [
        "error: 4 of the files asked for carry CPT content (AMA licence) "
        "(accept the licence (https://www.cms.gov/license/ama) with --accept-cpt-license)"
    ]
    home = Path(str(env["MEDBILL_HOME"]))
    assert not (home / "licenses.json").exists()
    res = run(env, "data", "fetch", "--from", str(downloads), "--dataset", "ncci-practitioner", "--json")
    assert res.exit_code == 2 and json.loads(res.stdout)["error"] == "cpt_license_required"

    res = run(
        env,
        "data",
        "fetch",
        "--from",
        str(downloads),
        "--dataset",
        "ncci-practitioner",
        "--accept-cpt-license",
    )
    assert res.exit_code == 0, res.output
    assert res.output.count("copied") == 4
    for i in range(1, 5):
        assert (home / "sources" / "ncci-2026q3" / f"ccipra-v322r0-f{i}.txt").is_file()
    (acc,) = json.loads((home / "licenses.json").read_text())["cpt"]
    assert acc["command"] == "medbill data fetch" and acc["how"] == "--accept-cpt-license"
    assert len(acc["files"]) == 4 and acc["files"][0].endswith("ccipra-v322r0-f1.zip")


def test_interactive_yes_and_no(env: dict[str, str | None], downloads: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("medbill.cli.data_fetch._interactive", lambda: True)
    args = ["data", "fetch", "--from", str(downloads), "--dataset", "ncci-practitioner-2026q3-f2"]
    no = run(env, *args, input="n\n")
    assert no.exit_code == 2 and "Do you accept the AMA CPT licence" in no.output
    yes = run(env, *args, input="y\n")
    assert yes.exit_code == 0, yes.output
    assert "copied" in yes.output
    home = Path(str(env["MEDBILL_HOME"]))
    (acc,) = json.loads((home / "licenses.json").read_text())["cpt"]
    assert acc["how"] == "interactive"


def test_default_fetch_refuses_cpt_files_but_takes_the_rest(env: dict[str, str | None], downloads: Path) -> None:
    res = run(env, "data", "fetch", "--from", str(downloads), "--json")
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    status = {r["entry"]: r["status"] for r in payload["results"]}
    assert status["icd10cm-2026-tables"] == "copied"
    assert status["hcpcs-2026q4"] == "unavailable"  # not in the folder
    assert {s for e, s in status.items() if e.startswith(("ncci-", "mue-", "mpfs-"))} == {"refused"}
    assert payload["cpt_license_accepted"] is False
    assert "ioce-quarterly" not in status  # not read by the build: only when named
    text = run(env, "data", "fetch", "--from", str(downloads)).output
    assert "REFUSED    12 files with CPT content (mue-dme, mue-outpatient, mue-practitioner, ncci-out" in text
    assert "unchanged  icd10cm-2026-tables" in text


def test_download_checksum_mismatch_is_one_line(env: dict[str, str | None], monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_zip({"icd10pcs_order_2026.txt": (DATA / "icd10pcs_order_sample.txt").read_bytes()})
    url = "https://www.cms.gov/files/zip/t-pcs.zip"
    man = parse_manifest(
        {
            "manifest_version": 1,
            "entries": [
                {
                    "id": "t-pcs",
                    "title": "t",
                    "publisher": "CMS",
                    "url": url,
                    "page": "https://www.cms.gov/",
                    "sha256": "a" * 64,
                    "folder": "icd10pcs-2026",
                    "datasets": ["icd10pcs-order"],
                    "members": [{"pattern": "icd10pcs_order_2026.txt", "target": "icd10pcs_order_2026.txt"}],
                    "cpt_license": False,
                }
            ],
        }
    )
    served: list[str] = []

    def fake(u: str) -> Iterable[bytes]:
        served.append(u)
        return [data]

    monkeypatch.setattr("medbill.services.fetch.load_manifest", lambda: man)
    monkeypatch.setattr("medbill.services.fetch.urllib_fetch", fake)
    res = CliRunner().invoke(main, ["data", "fetch"], env=env)
    assert served == [url] and res.exit_code == 2
    got = hashlib.sha256(data).hexdigest()
    lines = res.stderr.strip().splitlines()
    assert lines[-1] == f"error: t-pcs: SHA-256 mismatch for {url}: expected {'a' * 64}, got {got}"
    home = Path(str(env["MEDBILL_HOME"]))
    assert not (home / "sources" / "_downloads" / "t-pcs.zip").exists()
    res = run(env, "data", "fetch", "--json")
    assert res.exit_code == 1 and json.loads(res.stdout)["ok"] is False


# ----------------------------------------------------------------------------- import-cpt


def _numbers(w: ReleaseWriter, _p: Path) -> None:
    w.codes(CodeRow(CodeSystem.CPT, c, ITEM, True, None) for c in ("99213", "0591T"))


def _store(env: dict[str, Any]) -> Path:
    path = Path(env["MEDBILL_REFDATA"])
    ds = Dataset("cpt-numbers", "t", CodeSystem.CPT, lambda _s: LONGULT, _numbers, "t", None, None, where="t")
    build(path, source_dir=None, datasets=[ds])
    return path


def test_import_cpt(env: dict[str, str | None]) -> None:
    store_path = _store(env)
    before = run(env, "code", "99213", "--system", "cpt", "--json")
    assert "requires a CPT license" in before.output

    refused = CliRunner().invoke(main, ["data", "import-cpt", str(LONGULT)], env=env)
    assert refused.exit_code == 2 and refused.stderr.startswith("error: CPT descriptors are licensed by the AMA")

    res = run(env, "data", "import-cpt", str(LONGULT), "--accept-cpt-license")
    assert res.exit_code == 0, res.output
    assert res.output.strip() == f"imported 7 CPT codes from cpt_synthetic_LONGULT.txt into {store_path}"
    store = RefStore.open(store_path)
    assert store.get("99213", system=CodeSystem.CPT).description == "TEST DESCRIPTOR TWO"
    store.close()
    after = run(env, "code", "99213", "--system", "cpt", "--json")
    assert "TEST DESCRIPTOR TWO" in after.output

    again = run(env, "data", "import-cpt", str(LONGULT), "--accept-cpt-license", "--json")
    assert again.exit_code == 0
    payload = json.loads(again.stdout)
    assert (payload["status"], payload["rows"]) == ("unchanged", 0)
    assert payload["sha256"] == hashlib.sha256(LONGULT.read_bytes()).hexdigest()
    home = Path(str(env["MEDBILL_HOME"]))
    assert len(json.loads((home / "licenses.json").read_text())["cpt"]) == 2


def test_import_cpt_errors_are_one_line(env: dict[str, str | None], tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["data", "import-cpt", str(LONGULT), "--accept-cpt-license"], env=env)
    assert res.exit_code == 2
    assert res.stderr.strip() == (
        f"error: reference store {env['MEDBILL_REFDATA']} does not exist (build it first with `medbill data build`)"
    )
    _store(env)
    bad = tmp_path / "LONGULT.txt"
    bad.write_text("99213\tTEST DESCRIPTOR\n12\tTEST DESCRIPTOR TWO\n")
    res = CliRunner().invoke(main, ["data", "import-cpt", str(bad), "--accept-cpt-license", "--json"], env=env)
    assert res.exit_code == 2
    err = json.loads(res.stdout)
    assert err["error"] == "source_file_error" and f"{bad}, line 2, field code" in err["message"]
