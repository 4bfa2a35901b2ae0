"""The manifest of official release files that ``medbill data fetch`` downloads.

The files are CMS/CDC publications: the ICD-10-CM "Code Tables, Tabular and Index" zip and the
ICD-10-PCS order file zip (cms.gov, "ICD-10 Codes"; CDC/NCHS mirrors the CM files on
ftp.cdc.gov), the HCPCS Level II quarterly "Alpha-Numeric HCPCS File" zip, the Medicare NCCI PTP
and MUE zips, the PFS Relative Value File zip, and the I/OCE and MCE software packages. The list
lives in ``data/manifest.json`` (data, not code): one entry per file, with

* ``id`` -- a stable name; ``datasets`` -- the ids of ``datasets.py`` / ``datasets_billing.py``
  it feeds;
* ``url`` (``None`` when CMS has no stable direct link: the user downloads it from ``page`` and
  runs ``medbill data fetch --from DIR``), ``url_confirmed``, ``file`` (the downloaded file's
  name, a case-insensitive glob; default: the last part of the URL);
* ``sha256`` of the downloaded file when known (``None``: the first download is recorded and
  reported as unverified);
* ``folder`` under the source dir and ``members``: which members of the zip to keep (a
  case-insensitive glob on the member's base name), the name to write (``target``; none = the
  member's own name) and the member's SHA-256 when known. No members: the file is kept whole;
* ``cpt_license`` -- the file carries CPT content (AMA copyright);
* ``converter_needed`` -- the build reads CSV exports of these tables, not the official file.

``load_manifest`` validates the JSON and raises ``CodeSetError`` (one line, naming the file and
the entry) for anything malformed.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlparse

from medbill.core.errors import CodeSetError

_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_ID_RE = re.compile(r"[a-z0-9][a-z0-9.-]*")


@dataclass(frozen=True, slots=True)
class Member:
    """One member of a release zip to keep."""

    pattern: str  # case-insensitive glob on the member's base name
    target: str | None  # file name to write; None = the member's own base name
    sha256: str | None = None

    def matches(self, name: str) -> bool:
        base = PurePosixPath(name.replace("\\", "/")).name
        return bool(base) and fnmatch.fnmatchcase(base.lower(), self.pattern.lower())


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    """One official release file."""

    id: str
    title: str
    publisher: str
    url: str | None
    url_confirmed: bool
    file: str  # the downloaded file's name (a case-insensitive glob when there is no URL)
    page: str
    sha256: str | None
    folder: str
    datasets: tuple[str, ...]
    members: tuple[Member, ...]
    cpt_license: bool
    converter_needed: bool = False
    note: str = ""

    @property
    def is_zip(self) -> bool:
        return bool(self.members)

    def matches_file(self, name: str) -> bool:
        """Whether a file name is this entry's download (case-insensitive)."""
        return fnmatch.fnmatchcase(name.lower(), self.file.lower())

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "publisher": self.publisher,
            "url": self.url,
            "url_confirmed": self.url_confirmed,
            "file": self.file,
            "page": self.page,
            "sha256": self.sha256,
            "folder": self.folder,
            "datasets": list(self.datasets),
            "members": [{"pattern": m.pattern, "target": m.target, "sha256": m.sha256} for m in self.members],
            "cpt_license": self.cpt_license,
            "converter_needed": self.converter_needed,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Manifest:
    version: int
    checked: str
    entries: tuple[ManifestEntry, ...]
    source: str = "manifest.json"

    def get(self, entry_id: str) -> ManifestEntry:
        for e in self.entries:
            if e.id == entry_id:
                return e
        raise CodeSetError(f"no manifest entry {entry_id!r}")

    def dataset_ids(self) -> list[str]:
        seen: dict[str, None] = {}
        for e in self.entries:
            for d in e.datasets:
                seen.setdefault(d, None)
        return list(seen)

    def default_entries(self) -> list[ManifestEntry]:
        """What ``medbill data fetch`` takes without ``--dataset``: every file the build can read."""
        return [e for e in self.entries if not e.converter_needed]

    def select(self, names: Iterable[str]) -> list[ManifestEntry]:
        """Entries named by entry id or by the dataset id they feed, in manifest order.

        An unknown name raises ``CodeSetError`` listing the names that exist.
        """
        wanted = [n.strip() for n in names if n.strip()]
        if not wanted:
            return self.default_entries()
        chosen: set[str] = set()
        for name in wanted:
            hits = [e.id for e in self.entries if e.id == name or name in e.datasets]
            if not hits:
                known = ", ".join(sorted({*self.dataset_ids(), *(e.id for e in self.entries)}))
                raise CodeSetError(
                    f"no official file feeds dataset {name!r}", hint=f"known datasets and files: {known}"
                )
            chosen.update(hits)
        return [e for e in self.entries if e.id in chosen]


# ------------------------------------------------------------------------------------- loading


def _fail(source: str, where: str, message: str) -> CodeSetError:
    return CodeSetError(f"{source}: {where}: {message}")


def _str(raw: dict[str, Any], key: str, source: str, where: str, *, optional: bool = False) -> str | None:
    value = raw.get(key)
    if value is None:
        if optional:
            return None
        raise _fail(source, where, f"field {key!r} is missing")
    if not isinstance(value, str) or not value.strip():
        raise _fail(source, where, f"field {key!r} must be a non-empty string")
    return value


def _sha(raw: dict[str, Any], source: str, where: str) -> str | None:
    value = raw.get("sha256")
    if value is None:
        return None
    if not isinstance(value, str) or _SHA256_RE.fullmatch(value) is None:
        raise _fail(source, where, f"sha256 {value!r} is not 64 lower-case hex digits")
    return value


def _bool(raw: dict[str, Any], key: str, source: str, where: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise _fail(source, where, f"field {key!r} must be true or false")
    return value


def _safe_name(value: str, source: str, where: str, what: str) -> str:
    """A single path component (no separators, no '..'): names written under the source dir."""
    if "/" in value or "\\" in value or value in (".", "..") or value.startswith("."):
        raise _fail(source, where, f"{what} {value!r} must be a plain name")
    return value


def _file_from_url(url: str) -> str:
    return unquote(PurePosixPath(urlparse(url).path).name)


def _entry(raw: Any, source: str, index: int) -> ManifestEntry:
    if not isinstance(raw, dict):
        raise _fail(source, f"entry {index}", "must be an object")
    where = f"entry {index}"
    entry_id = _str(raw, "id", source, where)
    assert entry_id is not None
    if _ID_RE.fullmatch(entry_id) is None:
        raise _fail(source, where, f"id {entry_id!r} must be lower-case letters, digits, '.' and '-'")
    where = f"entry {entry_id!r}"
    url = _str(raw, "url", source, where, optional=True)
    if url is not None and not url.startswith("https://"):
        raise _fail(source, where, f"url {url!r} must start with https://")
    file = _str(raw, "file", source, where, optional=True)
    if file is None:
        if url is None:
            raise _fail(source, where, "an entry without url needs 'file' (the download's name)")
        file = _file_from_url(url)
    _safe_name(file, source, where, "file")
    folder = _str(raw, "folder", source, where)
    assert folder is not None
    _safe_name(folder, source, where, "folder")
    datasets = raw.get("datasets")
    if not isinstance(datasets, list) or not datasets or not all(isinstance(d, str) and d for d in datasets):
        raise _fail(source, where, "'datasets' must be a non-empty list of dataset ids")
    members_raw = raw.get("members", [])
    if not isinstance(members_raw, list):
        raise _fail(source, where, "'members' must be a list")
    members: list[Member] = []
    targets: set[str] = set()
    for j, m in enumerate(members_raw):
        mwhere = f"{where} member {j}"
        if not isinstance(m, dict):
            raise _fail(source, mwhere, "must be an object")
        pattern = _str(m, "pattern", source, mwhere)
        assert pattern is not None
        target = _str(m, "target", source, mwhere, optional=True)
        if target is not None:
            _safe_name(target, source, mwhere, "target")
            if target.lower() in targets:
                raise _fail(source, mwhere, f"target {target!r} appears twice")
            targets.add(target.lower())
        members.append(Member(pattern, target, _sha(m, source, mwhere)))
    title = _str(raw, "title", source, where)
    publisher = _str(raw, "publisher", source, where)
    page = _str(raw, "page", source, where)
    assert title is not None and publisher is not None and page is not None
    return ManifestEntry(
        id=entry_id,
        title=title,
        publisher=publisher,
        url=url,
        url_confirmed=_bool(raw, "url_confirmed", source, where),
        file=file,
        page=page,
        sha256=_sha(raw, source, where),
        folder=folder,
        datasets=tuple(datasets),
        members=tuple(members),
        cpt_license=_bool(raw, "cpt_license", source, where),
        converter_needed=_bool(raw, "converter_needed", source, where),
        note=_str(raw, "note", source, where, optional=True) or "",
    )


def parse_manifest(data: Any, *, source: str = "manifest.json") -> Manifest:
    """Validate a manifest already decoded from JSON."""
    if not isinstance(data, dict):
        raise CodeSetError(f"{source}: the manifest must be a JSON object")
    version = data.get("manifest_version")
    if version != 1:
        raise CodeSetError(f"{source}: manifest_version {version!r} is not supported (expected 1)")
    raw_entries = data.get("entries")
    if not isinstance(raw_entries, list) or not raw_entries:
        raise CodeSetError(f"{source}: 'entries' must be a non-empty list")
    entries = tuple(_entry(raw, source, i) for i, raw in enumerate(raw_entries))
    seen: set[str] = set()
    for e in entries:
        if e.id in seen:
            raise CodeSetError(f"{source}: entry id {e.id!r} appears twice")
        seen.add(e.id)
    checked = data.get("checked")
    return Manifest(version, checked if isinstance(checked, str) else "", entries, source)


def load_manifest(path: Path | None = None) -> Manifest:
    """The packaged manifest (``medbill/codesets/data/manifest.json``), or the one at ``path``."""
    if path is None:
        res = resources.files("medbill.codesets").joinpath("data", "manifest.json")
        source = "medbill/codesets/data/manifest.json"
        try:
            text = res.read_text(encoding="utf-8")
        except OSError as exc:
            raise CodeSetError(f"{source}: cannot read the packaged manifest: {exc}") from exc
    else:
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CodeSetError(f"{source}: cannot read: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CodeSetError(f"{source}, line {exc.lineno}: not valid JSON: {exc.msg}") from exc
    return parse_manifest(data, source=source)


def member_for(members: Sequence[Member], name: str) -> Member | None:
    """The first member rule that keeps a zip member of this name, or None."""
    for m in members:
        if m.matches(name):
            return m
    return None
