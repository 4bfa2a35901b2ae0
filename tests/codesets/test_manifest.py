"""The manifest of official files: valid, consistent with the datasets' locators, CPT files flagged."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from medbill.codesets.datasets import all_datasets
from medbill.codesets.manifest import Member, load_manifest, member_for, parse_manifest
from medbill.core.errors import CodeSetError

MANIFEST = load_manifest()
DATASETS = {d.id: d for d in all_datasets()}


def _example_name(pattern: str) -> str:
    """A file name the member glob keeps: '[_-]' -> '_', '*' -> '07-01-2026'."""
    return re.sub(r"\[(.)[^\]]*\]", r"\1", pattern).replace("*", "07-01-2026").replace("?", "X")


def test_packaged_manifest_lists_the_expected_files() -> None:
    ids = [e.id for e in MANIFEST.entries]
    assert len(ids) == len(set(ids)) == 17
    assert MANIFEST.version == 1 and MANIFEST.checked == "2026-11-26"
    cm = MANIFEST.get("icd10cm-2026-tables")
    assert cm.url == "https://www.cms.gov/files/zip/april-1-2026-code-tables-tabular-index.zip"
    assert cm.file == "april-1-2026-code-tables-tabular-index.zip"
    assert cm.folder == "icd10cm-2026"
    assert cm.datasets == ("icd10cm-index", "icd10cm-eindex", "icd10cm-neoplasm", "icd10cm-drug")
    assert [m.target for m in cm.members] == [
        "icd10cm_index_2026.xml",
        "icd10cm_eindex_2026.xml",
        "icd10cm_neoplasm_2026.xml",
        "icd10cm_drug_2026.xml",
    ]
    assert MANIFEST.get("icd10pcs-2026-order").folder == "icd10pcs-2026"
    assert MANIFEST.get("hcpcs-2026q4").folder == "hcpcs-level2-2026q4"
    assert {e.folder for e in MANIFEST.entries if e.id.startswith("ncci-")} == {"ncci-2026q3"}
    assert {e.folder for e in MANIFEST.entries if e.id.startswith("mue-")} == {"mue-2026q3"}
    rvu = MANIFEST.get("mpfs-rvu26c")
    assert rvu.folder == "mpfs-2026" and rvu.datasets == ("pfs-rvu", "pfs-gpci")
    assert rvu.members[0].sha256 == "b7d197e73211ef6854c213c267d5fa9dec8df995db8e1ee7d44c0556ad7cee21"


def test_every_dataset_id_exists_in_the_registry() -> None:
    unknown = {d for e in MANIFEST.entries for d in e.datasets if d not in DATASETS}
    assert unknown == set()


def test_urls_are_official_https() -> None:
    for e in MANIFEST.entries:
        for url in (e.url, e.page):
            if url is None:
                continue
            host = urlparse(url).hostname or ""
            assert url.startswith("https://") and host in ("www.cms.gov", "ftp.cdc.gov", "www.cdc.gov"), url
    # files without a stable direct link are the ones the build does not read yet
    assert {e.id for e in MANIFEST.entries if e.url is None} == {"ioce-quarterly", "mce-v43"}
    assert all(e.converter_needed for e in MANIFEST.entries if e.url is None)


def test_files_with_cpt_content_are_flagged() -> None:
    cpt = {e.id for e in MANIFEST.entries if e.cpt_license}
    for e in MANIFEST.entries:
        carries_cpt = any(d.startswith(("ncci-", "mue-", "pfs-", "ioce-")) for d in e.datasets)
        assert (e.id in cpt) == carries_cpt, e.id
    assert "icd10cm-2026-tables" not in cpt and "hcpcs-2026q4" not in cpt
    assert len(cpt) == 13


@pytest.mark.parametrize("entry", [e for e in MANIFEST.entries if not e.converter_needed], ids=lambda e: e.id)
def test_unpacked_layout_is_what_the_build_looks_for(entry: Any, tmp_path: Path) -> None:
    """Files written as <folder>/<target> are found by every dataset the entry feeds."""
    written = []
    for m in entry.members:
        name = m.target or _example_name(m.pattern)
        assert m.matches(name), (m.pattern, name)
        path = tmp_path / entry.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
        written.append(path)
    for ds_id in entry.datasets:
        found = DATASETS[ds_id].locate(tmp_path)
        files = found if isinstance(found, tuple) else (found,)
        assert found is not None and all(f in written for f in files), (entry.id, ds_id, found)


def test_member_rules_match_base_names_case_insensitively() -> None:
    cm = MANIFEST.get("icd10cm-2026-tables")
    assert member_for(cm.members, "Table and Index/ICD10CM_INDEX_2026.XML") is cm.members[0]
    assert member_for(cm.members, "icd10cm-eindex-2026.xml") is cm.members[1]  # CDC's hyphenated names
    assert member_for(cm.members, "Table and Index/icd10cm_tabular_2026.xml") is None
    assert member_for(cm.members, "Table and Index/") is None
    ncci = MANIFEST.get("ncci-practitioner-2026q3-f1")
    assert ncci.members[0].matches("ccipra-v322r0-f1.TXT")  # CMS ships f1/f2 with an upper-case .TXT
    assert not ncci.members[0].matches("ccipra-v322r0-f1.xlsx")
    assert Member("MCR_MUE_PractitionerServices_Eff_*.csv", None).matches(
        "MCR_MUE_PractitionerServices_Eff_07-01-2026.csv"
    )


def test_select_by_dataset_or_entry_id() -> None:
    default = MANIFEST.select([])
    assert [e.id for e in default] == [e.id for e in MANIFEST.entries if not e.converter_needed]
    assert len(default) == 15
    assert [e.id for e in MANIFEST.select(["ncci-practitioner"])] == [
        f"ncci-practitioner-2026q3-f{i}" for i in range(1, 5)
    ]
    assert [e.id for e in MANIFEST.select(["pfs-gpci", "icd10cm-index", "pfs-rvu"])] == [
        "icd10cm-2026-tables",
        "mpfs-rvu26c",
    ]
    assert [e.id for e in MANIFEST.select(["mce-dx"])] == ["mce-v43"]  # named: taken even if not default
    with pytest.raises(CodeSetError, match="no official file feeds dataset 'icd10cm-tabular'") as exc:
        MANIFEST.select(["icd10cm-tabular"])
    assert exc.value.hint is not None and "icd10cm-index" in exc.value.hint


def _raw() -> dict[str, Any]:
    return {
        "manifest_version": 1,
        "checked": "2026-01-01",
        "entries": [
            {
                "id": "t-one",
                "title": "T",
                "publisher": "CMS",
                "url": "https://www.cms.gov/files/zip/t%20one.zip",
                "page": "https://www.cms.gov/",
                "folder": "t-2026",
                "datasets": ["icd10cm-index"],
                "members": [{"pattern": "a*.txt", "target": "a.txt"}],
                "cpt_license": False,
            }
        ],
    }


def test_parse_defaults_file_name_from_url() -> None:
    man = parse_manifest(_raw())
    (e,) = man.entries
    assert e.file == "t one.zip" and e.sha256 is None and not e.url_confirmed and not e.converter_needed
    assert e.matches_file("T ONE.ZIP")


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("sha256",), "ABC", "entry 't-one': sha256 'ABC' is not 64 lower-case hex digits"),
        (("url",), "http://www.cms.gov/x.zip", "must start with https://"),
        (("url",), None, "an entry without url needs 'file'"),
        (("folder",), "../etc", "folder '../etc' must be a plain name"),
        (("members", 0, "target"), "sub/a.txt", "member 0: target 'sub/a.txt' must be a plain name"),
        (("datasets",), [], "'datasets' must be a non-empty list"),
        (("cpt_license",), "yes", "field 'cpt_license' must be true or false"),
        (("id",), "Bad Id", "id 'Bad Id' must be lower-case"),
        (("title",), None, "field 'title' is missing"),
    ],
)
def test_parse_rejects_malformed_entries(path: tuple[Any, ...], value: Any, message: str) -> None:
    raw = _raw()
    node: Any = raw["entries"][0]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(CodeSetError) as exc:
        parse_manifest(raw, source="m.json")
    assert exc.value.message.startswith("m.json: entry ")
    assert message in exc.value.message


def test_parse_rejects_duplicate_ids_and_versions() -> None:
    raw = _raw()
    raw["entries"].append(copy.deepcopy(raw["entries"][0]))
    with pytest.raises(CodeSetError, match="entry id 't-one' appears twice"):
        parse_manifest(raw)
    raw = _raw()
    raw["manifest_version"] = 2
    with pytest.raises(CodeSetError, match="manifest_version 2 is not supported"):
        parse_manifest(raw)


def test_load_manifest_from_a_file_names_bad_json(tmp_path: Path) -> None:
    p = tmp_path / "manifest.json"
    p.write_text('{"manifest_version": 1,\n "entries": [\n')
    with pytest.raises(CodeSetError, match=r"manifest.json, line 3: not valid JSON"):
        load_manifest(p)
    with pytest.raises(CodeSetError, match="cannot read"):
        load_manifest(tmp_path / "missing.json")
