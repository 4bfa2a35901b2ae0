"""``fetch_sources`` and ``import_cpt`` with a fake transport: no test touches the network.

Zips are built here from the small official-format samples in ``tests/codesets/data``; CPT files
are the SYNTHETIC ones (real-looking code numbers, fake descriptors).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from medbill.codesets.build import Dataset, build
from medbill.codesets.datasets import all_datasets
from medbill.codesets.manifest import Manifest, ManifestEntry, load_manifest, parse_manifest
from medbill.codesets.records import ITEM, CodeRow
from medbill.codesets.refstore import CPT_LICENSE_NOTE, RefStore
from medbill.codesets.writer import ReleaseWriter
from medbill.core.codes import CodeSystem
from medbill.core.errors import PermissionDenied
from medbill.services.fetch import (
    CptLicenseRequired,
    FetchError,
    cpt_acceptances,
    fetch_sources,
    import_cpt,
    urllib_fetch,
)
from medbill.settings import Settings

DATA = Path(__file__).resolve().parents[1] / "codesets" / "data"
CM_URL = "https://www.cms.gov/files/zip/april-1-2026-code-tables-tabular-index.zip"


def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def cm_zip() -> bytes:
    """A zip laid out like CMS's 'Code Tables, Tabular and Index' zip, with our small samples."""
    return make_zip(
        {
            "Table and Index/icd10cm_tabular_2026.xml": b"<ICD10CM.tabular/>",
            "Table and Index/icd10cm_index_2026.xml": (DATA / "icd10cm_index_sample.xml").read_bytes(),
            "Table and Index/icd10cm_eindex_2026.xml": (DATA / "icd10cm_eindex_sample.xml").read_bytes(),
            "Table and Index/icd10cm_neoplasm_2026.xml": (DATA / "icd10cm_neoplasm_sample.xml").read_bytes(),
            "Table and Index/icd10cm_drug_2026.xml": (DATA / "icd10cm_drug_sample.xml").read_bytes(),
            "Table and Index/icd10cm_index.xsd": b"<xsd/>",
        }
    )


class FakeWeb:
    """Serves bytes per URL and counts the requests."""

    def __init__(self, pages: dict[str, bytes] | None = None, chunk: int = 1000) -> None:
        self.pages = dict(pages or {})
        self.calls: list[str] = []
        self.chunk = chunk

    def __call__(self, url: str) -> Iterable[bytes]:
        self.calls.append(url)
        if url not in self.pages:
            raise FetchError(f"cannot download {url}: HTTP 404 Not Found")
        data = self.pages[url]
        return [data[i : i + self.chunk] for i in range(0, len(data), self.chunk)]


def no_network(url: str) -> Iterable[bytes]:
    raise AssertionError(f"the network was used: {url}")


@pytest.fixture()
def cfg(tmp_path: Path) -> Settings:
    home = tmp_path / "home"
    return Settings(home=home, refdata_path=home / "refdata.sqlite", source_dir=None, download_dir=home / "sources")


def _entry(**over: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "id": "t-ncci",
        "title": "test NCCI file",
        "publisher": "CMS",
        "url": "https://www.cms.gov/files/zip/t-ncci-f1.zip",
        "page": "https://www.cms.gov/ncci",
        "folder": "ncci-2026q3",
        "datasets": ["ncci-practitioner"],
        "members": [{"pattern": "ccipra-v322r0-f1.txt", "target": "ccipra-v322r0-f1.txt"}],
        "cpt_license": True,
    }
    raw.update(over)
    return raw


def manifest(*entries: dict[str, Any]) -> Manifest:
    return parse_manifest({"manifest_version": 1, "checked": "2026-11-26", "entries": list(entries)})


NCCI_TXT = (DATA / "ncci_ptp_practitioner_cms_layout.txt").read_bytes()
NCCI_ZIP = make_zip({"ccipra-v322r0-f1.TXT": NCCI_TXT, "ccipra-v322r0-f1.xlsx": b"PK-not-really"})


# ----------------------------------------------------------------------------- downloading


def test_download_unpacks_members_and_the_build_loads_them(cfg: Settings) -> None:
    web = FakeWeb({CM_URL: cm_zip()})
    report = fetch_sources(settings=cfg, datasets=["icd10cm-index", "icd10cm-drug"], fetch_url=web)
    assert web.calls == [CM_URL]
    (res,) = report.results
    assert res.entry == "icd10cm-2026-tables" and res.status == "fetched" and res.origin == "download"
    assert res.files == (
        "icd10cm-2026/icd10cm_index_2026.xml",
        "icd10cm-2026/icd10cm_eindex_2026.xml",
        "icd10cm-2026/icd10cm_neoplasm_2026.xml",
        "icd10cm-2026/icd10cm_drug_2026.xml",
    )
    assert res.sha256 == hashlib.sha256(cm_zip()).hexdigest()
    assert res.verified is None and res.message.startswith("unverified")
    dl = cfg.download_dir
    assert (dl / "icd10cm-2026" / "icd10cm_index_2026.xml").read_bytes() == (
        DATA / "icd10cm_index_sample.xml"
    ).read_bytes()
    assert not (dl / "icd10cm-2026" / "icd10cm_tabular_2026.xml").exists()  # not a kept member
    assert (dl / "_downloads" / "april-1-2026-code-tables-tabular-index.zip").is_file()
    assert not list(dl.rglob("*.part"))
    record = json.loads((dl / "fetched.json").read_text())
    assert record["icd10cm-2026-tables"]["sha256"] == res.sha256
    assert record["icd10cm-2026-tables"]["verified"] is False
    assert report.next_steps[0] == f"MEDBILL_SOURCE_DIR={dl} medbill data build"
    assert report.license_accepted is None

    # what was fetched is what the build reads
    wanted = {"icd10cm-index", "icd10cm-eindex", "icd10cm-neoplasm", "icd10cm-drug"}
    results = build(cfg.refdata_path, source_dir=dl, datasets=[d for d in all_datasets() if d.id in wanted])
    loaded = {r.dataset: r for r in results if r.status == "loaded"}
    assert set(loaded) == wanted | {"search-index"}
    assert loaded["icd10cm-index"].source == "icd10cm_index_2026.xml" and loaded["icd10cm-index"].rows > 10


def test_second_fetch_is_a_no_op(cfg: Settings) -> None:
    web = FakeWeb({CM_URL: cm_zip()})
    fetch_sources(settings=cfg, datasets=["icd10cm-index"], fetch_url=web)
    index = cfg.download_dir / "icd10cm-2026" / "icd10cm_index_2026.xml"
    mtime = index.stat().st_mtime_ns
    again = fetch_sources(settings=cfg, datasets=["icd10cm-index"], fetch_url=web)
    assert web.calls == [CM_URL]
    assert [(r.status, r.origin) for r in again.results] == [("unchanged", "cache")]
    assert index.stat().st_mtime_ns == mtime
    # an altered file is noticed and re-made from the kept archive, without downloading again
    index.write_text("tampered")
    third = fetch_sources(settings=cfg, datasets=["icd10cm-index"], fetch_url=web)
    assert web.calls == [CM_URL] and third.results[0].status == "fetched"
    assert index.read_bytes() == (DATA / "icd10cm_index_sample.xml").read_bytes()


def test_known_checksum_is_verified(cfg: Settings) -> None:
    data = NCCI_ZIP
    man = manifest(_entry(sha256=hashlib.sha256(data).hexdigest()))
    web = FakeWeb({"https://www.cms.gov/files/zip/t-ncci-f1.zip": data})
    report = fetch_sources(settings=cfg, manifest=man, accept_cpt_license=True, fetch_url=web)
    (res,) = report.results
    assert res.status == "fetched" and res.verified is True and res.message == ""
    # the upper-case .TXT member is written under the name the build's glob finds
    assert (cfg.download_dir / "ncci-2026q3" / "ccipra-v322r0-f1.txt").read_bytes() == NCCI_TXT
    assert not (cfg.download_dir / "ncci-2026q3" / "ccipra-v322r0-f1.xlsx").exists()


def test_checksum_mismatch_deletes_the_file_and_names_url_and_hashes(cfg: Settings) -> None:
    expected = "0" * 64
    man = manifest(_entry(sha256=expected))
    url = "https://www.cms.gov/files/zip/t-ncci-f1.zip"
    report = fetch_sources(settings=cfg, manifest=man, accept_cpt_license=True, fetch_url=FakeWeb({url: NCCI_ZIP}))
    (res,) = report.results
    got = hashlib.sha256(NCCI_ZIP).hexdigest()
    assert res.status == "failed"
    assert res.message == f"SHA-256 mismatch for {url}: expected {expected}, got {got}"
    assert report.failed == [res]
    assert not (cfg.download_dir / "_downloads" / "t-ncci-f1.zip").exists()
    assert not (cfg.download_dir / "ncci-2026q3").exists()
    assert not list(cfg.download_dir.rglob("*.part"))


def test_member_checksum_mismatch_deletes_the_member(cfg: Settings) -> None:
    man = manifest(_entry(members=[{"pattern": "ccipra*.txt", "target": "ccipra-v322r0-f1.txt", "sha256": "1" * 64}]))
    web = FakeWeb({"https://www.cms.gov/files/zip/t-ncci-f1.zip": NCCI_ZIP})
    (res,) = fetch_sources(settings=cfg, manifest=man, accept_cpt_license=True, fetch_url=web).results
    assert res.status == "failed"
    assert res.message.startswith("SHA-256 mismatch for t-ncci-f1.zip:ccipra-v322r0-f1.TXT: expected 1111")
    assert not (cfg.download_dir / "ncci-2026q3" / "ccipra-v322r0-f1.txt").exists()


def test_html_instead_of_zip_is_a_clear_failure(cfg: Settings) -> None:
    url = "https://www.cms.gov/files/zip/t-ncci-f1.zip"
    web = FakeWeb({url: b"<!DOCTYPE html><html><body>License for Use of CPT</body></html>"})
    (res,) = fetch_sources(settings=cfg, manifest=manifest(_entry()), accept_cpt_license=True, fetch_url=web).results
    assert res.status == "failed"
    assert res.message.startswith(f"{url} returned an HTML page, not the zip")
    assert not list(cfg.download_dir.rglob("*.zip"))


def test_interrupted_download_leaves_nothing(cfg: Settings) -> None:
    def broken(url: str) -> Iterator[bytes]:
        yield NCCI_ZIP[:100]
        raise FetchError(f"cannot download {url}: connection reset")

    (res,) = fetch_sources(settings=cfg, manifest=manifest(_entry()), accept_cpt_license=True, fetch_url=broken).results
    assert res.status == "failed" and res.message.endswith("connection reset")
    leftovers = [p for p in cfg.download_dir.rglob("*") if p.is_file() and p.name != "fetched.json"]
    assert leftovers == []


def test_a_failure_does_not_stop_the_other_files(cfg: Settings) -> None:
    man = manifest(
        _entry(id="t-a", url="https://www.cms.gov/files/zip/a.zip", cpt_license=False),
        _entry(id="t-b", url="https://www.cms.gov/files/zip/b.zip", cpt_license=False),
    )
    web = FakeWeb({"https://www.cms.gov/files/zip/b.zip": NCCI_ZIP})
    report = fetch_sources(settings=cfg, manifest=man, fetch_url=web)
    assert [(r.entry, r.status) for r in report.results] == [("t-a", "failed"), ("t-b", "fetched")]
    assert report.results[0].message == "cannot download https://www.cms.gov/files/zip/a.zip: HTTP 404 Not Found"


def test_zip_without_the_member_is_a_failure(cfg: Settings) -> None:
    web = FakeWeb({CM_URL: make_zip({"readme.txt": b"x"})})
    (res,) = fetch_sources(settings=cfg, datasets=["icd10cm-index"], fetch_url=web).results
    assert res.status == "failed"
    assert res.message == (
        "april-1-2026-code-tables-tabular-index.zip: no member matches 'icd10cm[_-]index[_-]2026.xml' "
        "(it holds: readme.txt)"
    )


# ----------------------------------------------------------------------------- CPT licence


def test_cpt_files_are_refused_without_acceptance(cfg: Settings) -> None:
    man = manifest(_entry(), _entry(id="t-free", url="https://www.cms.gov/files/zip/free.zip", cpt_license=False))
    web = FakeWeb({"https://www.cms.gov/files/zip/free.zip": NCCI_ZIP})
    report = fetch_sources(settings=cfg, manifest=man, fetch_url=web)
    assert [(r.entry, r.status) for r in report.results] == [("t-ncci", "refused"), ("t-free", "fetched")]
    assert report.results[0].message.startswith("carries CPT content")
    assert web.calls == ["https://www.cms.gov/files/zip/free.zip"]
    assert report.license_accepted is False
    assert not (cfg.home / "licenses.json").exists()


def test_only_cpt_files_asked_for_and_refused_raises(cfg: Settings) -> None:
    with pytest.raises(CptLicenseRequired, match="4 of the files asked for carry CPT content") as exc:
        fetch_sources(settings=cfg, datasets=["ncci-practitioner"], fetch_url=no_network)
    assert exc.value.code == "cpt_license_required" and "--accept-cpt-license" in (exc.value.hint or "")
    asked: list[list[ManifestEntry]] = []

    def say_no(entries: list[ManifestEntry]) -> bool:
        asked.append(entries)
        return False

    with pytest.raises(CptLicenseRequired):
        fetch_sources(settings=cfg, datasets=["mue-dme"], confirm_cpt=say_no, fetch_url=no_network)
    assert [[e.id for e in a] for a in asked] == [["mue-dme-2026q3"]]


def test_acceptance_is_recorded_with_user_time_and_files(cfg: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("medbill.services.fetch.getpass.getuser", lambda: "coder1")
    url = "https://www.cms.gov/files/zip/t-ncci-f1.zip"
    fetch_sources(
        settings=cfg, manifest=manifest(_entry()), accept_cpt_license=True, fetch_url=FakeWeb({url: NCCI_ZIP})
    )
    fetch_sources(settings=cfg, manifest=manifest(_entry()), confirm_cpt=lambda entries: True, fetch_url=no_network)
    (first, second) = cpt_acceptances(cfg.home)
    assert first["accepted_by"] == "coder1" and first["license"] == "AMA CPT"
    assert first["files"] == [url] and first["how"] == "--accept-cpt-license"
    assert first["command"] == "medbill data fetch"
    assert first["accepted_at"][:2] == "20" and first["accepted_at"].endswith("+00:00")
    assert second["how"] == "interactive"
    assert json.loads((cfg.home / "licenses.json").read_text())["cpt"][1] == second


# ----------------------------------------------------------------------------- local folders


def test_from_dir_unpacks_a_downloaded_zip_without_the_network(cfg: Settings, tmp_path: Path) -> None:
    local = tmp_path / "downloads" / "cms"
    local.mkdir(parents=True)
    (local / "April-1-2026-Code-Tables-Tabular-Index.ZIP").write_bytes(cm_zip())  # one folder down, any case
    report = fetch_sources(
        settings=cfg, datasets=["icd10cm-neoplasm"], from_dir=tmp_path / "downloads", fetch_url=no_network
    )
    (res,) = report.results
    assert (res.status, res.origin) == ("copied", "local")
    assert (cfg.download_dir / "icd10cm-2026" / "icd10cm_neoplasm_2026.xml").is_file()
    again = fetch_sources(
        settings=cfg, datasets=["icd10cm-neoplasm"], from_dir=tmp_path / "downloads", fetch_url=no_network
    )
    assert again.results[0].status == "unchanged"


def test_from_dir_copies_unpacked_files(cfg: Settings, tmp_path: Path) -> None:
    local = tmp_path / "src" / "ncci-2026q3"
    local.mkdir(parents=True)
    (local / "ccipra-v322r0-f1.txt").write_bytes(NCCI_TXT)
    report = fetch_sources(
        settings=cfg,
        manifest=manifest(_entry()),
        from_dir=tmp_path / "src",
        accept_cpt_license=True,
        fetch_url=no_network,
    )
    (res,) = report.results
    assert res.status == "copied" and res.files == ("ncci-2026q3/ccipra-v322r0-f1.txt",)
    assert (cfg.download_dir / "ncci-2026q3" / "ccipra-v322r0-f1.txt").read_bytes() == NCCI_TXT
    flat = tmp_path / "flat"  # files saved straight into the folder, no sub-folder
    flat.mkdir()
    (flat / "ccipra-v322r0-f1.txt").write_bytes(NCCI_TXT[:-2])
    (res,) = fetch_sources(
        settings=cfg,
        manifest=manifest(_entry()),
        from_dir=flat,
        accept_cpt_license=True,
        fetch_url=no_network,
    ).results
    assert res.status == "copied"
    assert (cfg.download_dir / "ncci-2026q3" / "ccipra-v322r0-f1.txt").read_bytes() == NCCI_TXT[:-2]


def test_from_dir_without_the_file_says_what_it_looked_for(cfg: Settings, tmp_path: Path) -> None:
    report = fetch_sources(settings=cfg, datasets=["icd10pcs-order"], from_dir=tmp_path, fetch_url=no_network)
    (res,) = report.results
    assert res.status == "unavailable"
    assert res.message == (
        f"not in {tmp_path}: expected 2026-icd-10-pcs-order-file-long-and-abbreviated-titles.zip "
        "or icd10pcs-2026/icd10pcs_order_2026.txt"
    )
    with pytest.raises(FetchError, match="no such folder"):
        fetch_sources(settings=cfg, datasets=["icd10pcs-order"], from_dir=tmp_path / "nope")


def test_source_dir_that_already_holds_the_files_is_reported(tmp_path: Path) -> None:
    src = tmp_path / "shared"
    (src / "icd10pcs-2026").mkdir(parents=True)
    (src / "icd10pcs-2026" / "icd10pcs_order_2026.txt").write_bytes((DATA / "icd10pcs_order_sample.txt").read_bytes())
    (src / "2026-code-tables-zips").mkdir()
    (src / "2026-code-tables-zips" / "april-1-2026-code-tables-tabular-index.zip").write_bytes(cm_zip())
    home = tmp_path / "home"
    cfg = Settings(home=home, refdata_path=home / "r.sqlite", source_dir=src, download_dir=home / "sources")
    report = fetch_sources(settings=cfg, datasets=["icd10pcs-order", "icd10cm-index"], fetch_url=no_network)
    by = {r.entry: r for r in report.results}
    assert (by["icd10pcs-2026-order"].status, by["icd10pcs-2026-order"].where) == ("present", str(src))
    assert by["icd10pcs-2026-order"].files == ("icd10pcs-2026/icd10pcs_order_2026.txt",)
    assert not (cfg.download_dir / "icd10pcs-2026").exists()
    assert (by["icd10cm-2026-tables"].status, by["icd10cm-2026-tables"].origin) == ("copied", "source-dir")
    assert (cfg.download_dir / "icd10cm-2026" / "icd10cm_index_2026.xml").is_file()


def test_file_without_direct_url_points_to_its_page(cfg: Settings) -> None:
    (res,) = fetch_sources(settings=cfg, datasets=["mce-dx"], fetch_url=no_network).results
    assert res.status == "unavailable"
    assert res.message.startswith("no direct download: get *mce*.zip from https://www.cms.gov/medicare/payment/")


def test_urllib_transport_reads_file_urls(tmp_path: Path) -> None:
    p = tmp_path / "x.zip"
    p.write_bytes(NCCI_ZIP)
    assert b"".join(urllib_fetch(p.as_uri())) == NCCI_ZIP
    with pytest.raises(FetchError, match="cannot download file:"):
        list(urllib_fetch((tmp_path / "missing.zip").as_uri()))


def test_packaged_manifest_is_the_default() -> None:
    assert load_manifest().get("icd10cm-2026-tables").url == CM_URL


# ----------------------------------------------------------------------------- import-cpt


def _cpt_numbers(w: ReleaseWriter, _path: Path) -> None:
    """Like the I/OCE's CPT rows: code numbers, no descriptors."""
    w.codes(CodeRow(CodeSystem.CPT, c, ITEM, True, None) for c in ("00100", "99213", "0591T"))


def build_store(cfg: Settings) -> None:
    numbers = Dataset(
        "cpt-numbers",
        "CPT numbers (test)",
        CodeSystem.CPT,
        lambda _s: DATA / "cpt_synthetic_LONGULT.txt",
        _cpt_numbers,
        "test",
        None,
        None,
        where="test",
    )
    results = build(cfg.refdata_path, source_dir=None, datasets=[numbers])
    assert [r.status for r in results] == ["loaded", "loaded"]


def test_import_cpt_loads_descriptors_once(cfg: Settings) -> None:
    build_store(cfg)
    store = RefStore.open(cfg.refdata_path)
    before = store.get("99213", system=CodeSystem.CPT)
    store.close()
    assert before.description is None and before.description_note == CPT_LICENSE_NOTE

    synthetic = DATA / "cpt_synthetic_LONGULT.txt"
    res = import_cpt(settings=cfg, path=synthetic, accept_cpt_license=True)
    assert (res.status, res.rows, res.file) == ("loaded", 7, "cpt_synthetic_LONGULT.txt")
    assert res.sha256 == hashlib.sha256(synthetic.read_bytes()).hexdigest()
    store = RefStore.open(cfg.refdata_path)
    after = store.get("99213", system=CodeSystem.CPT)
    assert after.description == "TEST DESCRIPTOR TWO"
    assert after.description_note != CPT_LICENSE_NOTE
    assert store.get("0001A", system=CodeSystem.CPT).description == "TEST DESCRIPTOR SIX"
    (rel,) = [r for r in store.releases if r.dataset == "cpt-licensed"]
    assert (rel.source, rel.rows, rel.system) == ("cpt_synthetic_LONGULT.txt", 7, "CPT")
    hits = store.conn.execute(
        "SELECT code FROM search_doc WHERE system='CPT' AND text='TEST DESCRIPTOR FIVE'"
    ).fetchall()
    store.close()
    assert hits == [("0001U",)]

    again = import_cpt(settings=cfg, path=synthetic, accept_cpt_license=True)
    assert (again.status, again.rows) == ("unchanged", 0)
    store = RefStore.open(cfg.refdata_path)
    assert len([r for r in store.releases if r.dataset == "cpt-licensed"]) == 1
    store.close()
    files = [a["files"] for a in cpt_acceptances(cfg.home)]
    assert files == [[f"cpt_synthetic_LONGULT.txt sha256 {res.sha256}"]] * 2


def test_import_cpt_refuses_without_acceptance(cfg: Settings) -> None:
    build_store(cfg)
    with pytest.raises(CptLicenseRequired, match="needs your acceptance"):
        import_cpt(settings=cfg, path=DATA / "cpt_synthetic_SHORTU.txt")
    with pytest.raises(CptLicenseRequired):
        import_cpt(settings=cfg, path=DATA / "cpt_synthetic_SHORTU.txt", confirm=lambda: False)
    assert cpt_acceptances(cfg.home) == []
    res = import_cpt(settings=cfg, path=DATA / "cpt_synthetic_SHORTU.txt", confirm=lambda: True)
    assert res.rows == 7 and cpt_acceptances(cfg.home)[0]["how"] == "interactive"


def test_import_cpt_needs_a_store_and_a_file(cfg: Settings) -> None:
    from medbill.codesets.cpt_import import load_cpt_file
    from medbill.core.errors import CodeSetError

    with pytest.raises(CodeSetError, match="does not exist") as exc:
        import_cpt(settings=cfg, path=DATA / "cpt_synthetic_LONGULT.txt", accept_cpt_license=True)
    assert exc.value.hint == "build it first with `medbill data build`"
    with pytest.raises(FetchError, match="no such file"):
        import_cpt(settings=cfg, path=DATA / "missing.txt", accept_cpt_license=True)
    with pytest.raises(PermissionDenied):
        load_cpt_file(cfg.refdata_path, DATA / "cpt_synthetic_LONGULT.txt", accepted=False)
