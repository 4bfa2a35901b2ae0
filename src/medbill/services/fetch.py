"""Getting the official release files, and loading a user's licensed CPT file.

``fetch_sources`` takes each file of the manifest (``codesets/manifest.py``) from, in order:

1. ``--from DIR`` when given (the release zip, found by name in DIR or one folder down, or its
   members already unpacked as ``DIR/<folder>/<target>``); the network is not used then;
2. the download dir, when an earlier fetch left the file there (same SHA-256: nothing to do);
3. ``MEDBILL_SOURCE_DIR``: when it already holds the unpacked files, nothing is copied; when it
   holds the zip, the zip is unpacked;
4. the official URL, with urllib (or the ``fetch_url`` given, for tests): the download goes to a
   temporary ``.part`` file renamed when complete, so an interrupted fetch leaves nothing half
   written; its SHA-256 is checked when the manifest knows it, and a mismatch deletes the file.

The kept members are written to ``<download_dir>/<folder>/<target>``, the layout the build's
locators look for, and ``<download_dir>/fetched.json`` records what came from where with its
SHA-256 (for a file the manifest has no hash for, the first download's hash: "unverified").

Files carrying CPT content (``cpt_license``: NCCI, MUE, PFS, I/OCE) are taken only after the user
accepts the AMA licence (``accept_cpt_license`` or an interactive yes); the acceptance (OS user,
time, files) is appended to ``<MEDBILL_HOME>/licenses.json``. ``import_cpt`` does the same for a
user's licensed CPT descriptor file, then loads it with ``codesets.cpt_import``.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from medbill import __version__
from medbill.codesets.build import sha256_of
from medbill.codesets.manifest import Manifest, ManifestEntry, Member, load_manifest
from medbill.core.errors import CodeSetError, PermissionDenied
from medbill.settings import Settings

log = logging.getLogger(__name__)

FetchUrl = Callable[[str], Iterable[bytes]]
"""Yields the bytes at a URL, in chunks; raises ``FetchError`` (or ``OSError``) when it cannot."""

AMA_LICENSE_URL = "https://www.cms.gov/license/ama"
CPT_NOTICE = (
    "These files contain CPT codes and descriptors, copyright American Medical Association (AMA). "
    "CMS distributes them under the AMA's end-user licence shown at "
    f"{AMA_LICENSE_URL}; by accepting you agree to its terms for your own use of CPT."
)
DOWNLOADS = "_downloads"  # archives as downloaded, under the download dir
RECORD = "fetched.json"
LICENSES = "licenses.json"
TIMEOUT_SECONDS = 60.0
_CHUNK = 1 << 20


class FetchError(CodeSetError):
    """A release file that could not be fetched or unpacked."""

    code = "fetch_failed"


class ChecksumMismatch(FetchError):
    code = "checksum_mismatch"


class CptLicenseRequired(PermissionDenied):
    code = "cpt_license_required"


# ------------------------------------------------------------------------------ transport


def urllib_fetch(url: str, *, timeout: float = TIMEOUT_SECONDS) -> Iterator[bytes]:
    """Stream a URL with urllib (timeout per socket operation); errors become ``FetchError``."""
    req = urllib.request.Request(url, headers={"User-Agent": f"medbill/{__version__}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - https URLs from the manifest
            while True:
                chunk = resp.read(_CHUNK)
                if not chunk:
                    return
                yield chunk
    except urllib.error.HTTPError as exc:
        raise FetchError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise FetchError(
            f"cannot download {url}: {reason}",
            hint="no internet? download it in a browser and run `medbill data fetch --from DIR`",
        ) from exc


# ------------------------------------------------------------------------------ results


@dataclass(frozen=True, slots=True)
class FetchResult:
    entry: str
    status: str  # fetched | copied | unchanged | present | refused | unavailable | failed
    folder: str
    datasets: tuple[str, ...]
    files: tuple[str, ...] = ()  # written (or found), relative to the dir named by ``where``
    where: str = ""  # the dir that holds them
    url: str | None = None
    sha256: str | None = None  # of the downloaded file
    verified: bool | None = None  # SHA-256 checked against the manifest (None: nothing to check)
    origin: str = ""  # download | local | source-dir | cache
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["datasets"] = list(self.datasets)
        out["files"] = list(self.files)
        return out


@dataclass(frozen=True, slots=True)
class FetchReport:
    download_dir: Path
    results: list[FetchResult]
    license_accepted: bool | None  # None: no CPT file was asked for
    next_steps: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[FetchResult]:
        return [r for r in self.results if r.status == "failed"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "download_dir": str(self.download_dir),
            "ok": not self.failed,
            "cpt_license_accepted": self.license_accepted,
            "results": [r.to_dict() for r in self.results],
            "next": self.next_steps,
        }


# ------------------------------------------------------------------------------ licence record


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (containers): fall back to the uid
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def _write_json_atomic(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_json(path: Path, default: Any) -> Any:
    if not path.is_file():
        return default
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CodeSetError(f"{path} is not readable JSON: {exc}", hint="fix or remove the file") from exc


def cpt_acceptances(home: Path) -> list[dict[str, Any]]:
    """Every recorded acceptance of the AMA CPT licence, oldest first."""
    data = _read_json(home / LICENSES, {})
    items = data.get("cpt", []) if isinstance(data, dict) else []
    return [i for i in items if isinstance(i, dict)]


def record_cpt_acceptance(
    home: Path, *, command: str, how: str, files: Sequence[str], now: datetime | None = None
) -> dict[str, Any]:
    """Append an acceptance of the AMA CPT licence to ``<home>/licenses.json``; return it."""
    path = home / LICENSES
    data = _read_json(path, {})
    if not isinstance(data, dict):
        data = {}
    record = {
        "license": "AMA CPT",
        "terms": AMA_LICENSE_URL,
        "accepted_by": _os_user(),
        "accepted_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "how": how,
        "command": command,
        "files": list(files),
    }
    data.setdefault("cpt", []).append(record)
    _write_json_atomic(path, data)
    log.info("recorded CPT licence acceptance command=%s files=%d", command, len(files))
    return record


# ------------------------------------------------------------------------------ unpacking


def _write_stream_atomic(dest: Path, chunks: Iterable[bytes]) -> str:
    """Write chunks to ``dest`` through a temporary file; return the SHA-256."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                digest.update(chunk)
                fh.write(chunk)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest.hexdigest()


def _read_chunks(fh: IO[bytes]) -> Iterator[bytes]:
    while chunk := fh.read(_CHUNK):
        yield chunk


def _copy_atomic(src: Path, dest: Path) -> str:
    with src.open("rb") as fh:
        return _write_stream_atomic(dest, _read_chunks(fh))


def _check(expected: str | None, got: str, what: str, delete: Path | None) -> bool | None:
    """None when nothing to check; True when it matches; raises ChecksumMismatch otherwise."""
    if expected is None:
        return None
    if got != expected:
        if delete is not None:
            delete.unlink(missing_ok=True)
        raise ChecksumMismatch(f"SHA-256 mismatch for {what}: expected {expected}, got {got}")
    return True


def _target_name(m: Member, member_name: str) -> str:
    return m.target or Path(member_name.replace("\\", "/")).name


def unpack(entry: ManifestEntry, archive: Path, dest_dir: Path) -> list[str]:
    """Write the entry's kept members (or the whole file) into ``dest_dir/<folder>``.

    Returns the written paths relative to ``dest_dir``. A member rule that matches nothing, or an
    exact target matched by several members, raises ``FetchError``; a member whose SHA-256 the
    manifest knows is checked (a mismatch deletes it and raises ``ChecksumMismatch``).
    """
    folder = dest_dir / entry.folder
    if not entry.members:
        name = archive.name
        _copy_atomic(archive, folder / name)
        return [f"{entry.folder}/{name}"]
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise FetchError(f"{archive.name} is not a readable zip: {exc}") from exc
    written: list[str] = []
    with zf:
        names = [i.filename for i in zf.infolist() if not i.is_dir()]
        for m in entry.members:
            hits = [n for n in names if m.matches(n)]
            if not hits:
                raise FetchError(f"{archive.name}: no member matches {m.pattern!r} (it holds: {', '.join(names[:12])})")
            if m.target is not None and len(hits) > 1:
                raise FetchError(f"{archive.name}: {len(hits)} members match {m.pattern!r}: {', '.join(hits)}")
            for name in hits:
                target = folder / _target_name(m, name)
                with zf.open(name) as src:
                    got = _write_stream_atomic(target, _read_chunks(src))
                _check(m.sha256, got, f"{archive.name}:{name}", target)
                written.append(f"{entry.folder}/{target.name}")
    return written


def _expected_files(entry: ManifestEntry) -> list[str] | None:
    """The exact file names an entry unpacks to, when every member has a fixed target."""
    if not entry.members or any(m.target is None for m in entry.members):
        return None
    return [m.target for m in entry.members if m.target is not None]


def _unpacked_in(entry: ManifestEntry, root: Path, *, flat: bool) -> list[Path] | None:
    """The entry's unpacked files under ``root/<folder>`` (or, with ``flat``, ``root``) when all are there."""
    for base in (root / entry.folder, root) if flat else (root / entry.folder,):
        if not base.is_dir():
            continue
        names = _expected_files(entry)
        if names is not None:
            paths = [base / n for n in names]
            if all(p.is_file() for p in paths):
                return paths
        elif entry.members:
            found: list[Path] = []
            for m in entry.members:
                hits = sorted(p for p in base.iterdir() if p.is_file() and m.matches(p.name))
                if not hits:
                    break
                found.extend(hits)
            else:
                return found
    return None


def _find_archive(entry: ManifestEntry, root: Path) -> Path | None:
    """The entry's downloaded file in ``root``, ``root/<folder>`` or one folder down."""
    if not root.is_dir():
        return None
    candidates = [p for p in root.iterdir() if p.is_file()]
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            candidates.extend(p for p in sub.iterdir() if p.is_file())
        except OSError:
            continue
    hits = sorted(p for p in candidates if entry.matches_file(p.name))
    return hits[-1] if hits else None


# ------------------------------------------------------------------------------ the fetcher


class _Fetcher:
    def __init__(
        self,
        settings: Settings,
        *,
        from_dir: Path | None,
        fetch_url: FetchUrl,
        record: dict[str, Any],
    ) -> None:
        self.settings = settings
        self.dest = settings.download_dir
        self.from_dir = from_dir
        self.fetch_url = fetch_url
        self.record = record

    def _result(self, entry: ManifestEntry, status: str, **kw: Any) -> FetchResult:
        return FetchResult(entry.id, status, entry.folder, entry.datasets, url=entry.url, **kw)

    def _remember(
        self,
        entry: ManifestEntry,
        *,
        sha: str,
        verified: bool | None,
        origin: str,
        archive: Path,
        files: list[str],
    ) -> None:
        self.record[entry.id] = {
            "url": entry.url,
            "file": archive.name,
            "sha256": sha,
            "verified": bool(verified),
            "origin": origin,
            "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "files": {f: sha256_of(self.dest / f) for f in files},
        }

    def _unchanged(self, entry: ManifestEntry, sha: str | None = None) -> FetchResult | None:
        """The entry was fetched before (from a file with SHA-256 ``sha``, when given) and its
        files are still there, unaltered."""
        prev = self.record.get(entry.id)
        if not isinstance(prev, dict) or prev.get("url") != entry.url:
            return None
        if sha is not None and prev.get("sha256") != sha:
            return None
        files = prev.get("files")
        if not isinstance(files, dict) or not files:
            return None
        if entry.sha256 is not None and prev.get("sha256") != entry.sha256:
            return None
        for rel, sha in files.items():
            p = self.dest / rel
            if not p.is_file() or sha256_of(p) != sha:
                return None
        return self._result(
            entry,
            "unchanged",
            files=tuple(files),
            where=str(self.dest),
            sha256=prev.get("sha256"),
            verified=entry.sha256 is not None or None,
            origin="cache",
            message="already fetched (same SHA-256)",
        )

    def _from_archive(self, entry: ManifestEntry, archive: Path, origin: str, status: str) -> FetchResult:
        sha = sha256_of(archive)
        verified = _check(entry.sha256, sha, str(archive), None)
        same = self._unchanged(entry, sha)
        if same is not None:
            return same
        files = unpack(entry, archive, self.dest)
        self._remember(entry, sha=sha, verified=verified, origin=origin, archive=archive, files=files)
        return self._result(
            entry,
            status,
            files=tuple(files),
            where=str(self.dest),
            sha256=sha,
            verified=verified,
            origin=origin,
            message=f"from {archive}",
        )

    def _from_unpacked(self, entry: ManifestEntry, paths: list[Path]) -> FetchResult:
        files: list[str] = []
        for p in paths:
            got = _copy_atomic(p, self.dest / entry.folder / p.name)
            rule = next((m for m in entry.members if m.matches(p.name)), None)
            _check(rule.sha256 if rule else None, got, str(p), self.dest / entry.folder / p.name)
            files.append(f"{entry.folder}/{p.name}")
        self.record[entry.id] = {
            "url": entry.url,
            "file": None,
            "sha256": None,
            "verified": False,
            "origin": "local",
            "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "files": {f: sha256_of(self.dest / f) for f in files},
        }
        return self._result(
            entry,
            "copied",
            files=tuple(files),
            where=str(self.dest),
            origin="local",
            message=f"unpacked files from {paths[0].parent}",
        )

    def _download(self, entry: ManifestEntry) -> FetchResult:
        assert entry.url is not None
        archive = self.dest / DOWNLOADS / entry.file
        prev = self.record.get(entry.id)
        known = entry.sha256 or (
            prev.get("sha256") if isinstance(prev, dict) and prev.get("url") == entry.url else None
        )
        if archive.is_file() and known is not None and sha256_of(archive) == known:
            return self._from_archive(entry, archive, "cache", "fetched")
        log.info("downloading entry=%s", entry.id)
        chunks = iter(self.fetch_url(entry.url))
        first = b""
        for chunk in chunks:  # the first non-empty chunk tells a zip from an HTML page
            if chunk:
                first = chunk
                break
        if entry.is_zip and not first.startswith(b"PK"):
            kind = "an HTML page" if first.lstrip()[:1] == b"<" else f"{len(first)} bytes that are not a zip"
            raise FetchError(
                f"{entry.url} returned {kind}, not the zip (CMS may have shown its licence page or moved the file)",
                hint=f"download it in a browser from {entry.page} and run `medbill data fetch --from DIR`",
            )

        def stream() -> Iterator[bytes]:
            yield first
            yield from chunks

        sha = _write_stream_atomic(archive, stream())
        verified = _check(entry.sha256, sha, entry.url, archive)
        message = ""
        if verified is None:
            message = "unverified: the manifest has no SHA-256 for this file (recorded this one)"
            earlier = prev.get("sha256") if isinstance(prev, dict) and prev.get("url") == entry.url else None
            if earlier not in (None, sha):
                message = f"unverified, and its SHA-256 differs from the first download's ({earlier})"
        files = unpack(entry, archive, self.dest)
        self._remember(entry, sha=sha, verified=verified, origin="download", archive=archive, files=files)
        return self._result(
            entry,
            "fetched",
            files=tuple(files),
            where=str(self.dest),
            sha256=sha,
            verified=verified,
            origin="download",
            message=message,
        )

    def one(self, entry: ManifestEntry) -> FetchResult:
        if self.from_dir is not None:
            archive = _find_archive(entry, self.from_dir)
            if archive is not None:
                return self._from_archive(entry, archive, "local", "copied")
            unpacked = _unpacked_in(entry, self.from_dir, flat=True)
            if unpacked is not None:
                return self._from_unpacked(entry, unpacked)
            want = entry.file + (
                f" or {entry.folder}/{', '.join(_expected_files(entry) or [])}" if _expected_files(entry) else ""
            )
            return self._result(entry, "unavailable", message=f"not in {self.from_dir}: expected {want}")
        same = self._unchanged(entry)
        if same is not None:
            return same
        src = self.settings.source_dir
        if src is not None and src.resolve() != self.dest.resolve():
            unpacked = _unpacked_in(entry, src, flat=False)
            if unpacked is not None:
                return self._result(
                    entry,
                    "present",
                    files=tuple(str(p.relative_to(src)) for p in unpacked),
                    where=str(src),
                    origin="source-dir",
                    message="MEDBILL_SOURCE_DIR already holds these files",
                )
            archive = _find_archive(entry, src)
            if archive is not None:
                return self._from_archive(entry, archive, "source-dir", "copied")
        if entry.url is None:
            return self._result(
                entry,
                "unavailable",
                message=f"no direct download: get {entry.file} from {entry.page}, then use --from DIR",
            )
        return self._download(entry)


def _next_steps(settings: Settings, results: list[FetchResult]) -> list[str]:
    if not any(r.status in ("fetched", "copied", "unchanged") for r in results):
        if any(r.status == "present" for r in results):
            return ["medbill data build"]
        return []
    dl = settings.download_dir
    if settings.source_dir is not None and settings.source_dir.resolve() == dl.resolve():
        return ["medbill data build"]
    steps = [f"MEDBILL_SOURCE_DIR={dl} medbill data build"]
    if settings.source_dir is not None:
        steps.append(
            f"(medbill data build reads MEDBILL_SOURCE_DIR={settings.source_dir} only; the build above adds "
            "the fetched releases to the same store, and what is already loaded stays)"
        )
    return steps


def fetch_sources(
    *,
    settings: Settings,
    datasets: Sequence[str] = (),
    from_dir: Path | None = None,
    accept_cpt_license: bool = False,
    confirm_cpt: Callable[[list[ManifestEntry]], bool] | None = None,
    fetch_url: FetchUrl | None = None,
    manifest: Manifest | None = None,
    progress: Callable[[FetchResult], None] | None = None,
) -> FetchReport:
    """Fetch the official files for ``datasets`` (dataset or manifest ids; none = all the build reads).

    ``confirm_cpt`` is asked (once, with the CPT-carrying entries) when ``accept_cpt_license`` is
    false; without it, or on a no, those entries are ``refused``. When every entry asked for is
    refused, ``CptLicenseRequired`` is raised. A failure of one file does not stop the others: it
    is a ``failed`` result naming the file (see ``FetchReport.failed``).
    """
    man = manifest or load_manifest()
    entries = man.select(datasets)
    if from_dir is not None and not from_dir.is_dir():
        raise FetchError(f"--from {from_dir}: no such folder")
    cpt_entries = [e for e in entries if e.cpt_license]
    accepted: bool | None = None
    if cpt_entries:
        how = "--accept-cpt-license"
        accepted = accept_cpt_license
        if not accepted and confirm_cpt is not None:
            accepted = bool(confirm_cpt(cpt_entries))
            how = "interactive"
        if accepted:
            record_cpt_acceptance(
                settings.home,
                command="medbill data fetch",
                how=how,
                files=[e.url or e.file for e in cpt_entries],
            )
        elif len(cpt_entries) == len(entries):
            raise CptLicenseRequired(
                f"{len(cpt_entries)} of the files asked for carry CPT content (AMA licence)",
                hint=f"accept the licence ({AMA_LICENSE_URL}) with --accept-cpt-license",
            )
    dest = settings.download_dir
    dest.mkdir(parents=True, exist_ok=True)
    record_path = dest / RECORD
    record = _read_json(record_path, {})
    if not isinstance(record, dict):
        record = {}
    fetcher = _Fetcher(settings, from_dir=from_dir, fetch_url=fetch_url or urllib_fetch, record=record)
    results: list[FetchResult] = []
    for entry in entries:
        if entry.cpt_license and not accepted:
            res = FetchResult(
                entry.id,
                "refused",
                entry.folder,
                entry.datasets,
                url=entry.url,
                message="carries CPT content: rerun with --accept-cpt-license to take it",
            )
        else:
            try:
                res = fetcher.one(entry)
            except (CodeSetError, OSError) as exc:
                msg = exc.message if isinstance(exc, CodeSetError) else f"{entry.file}: {exc}"
                res = FetchResult(entry.id, "failed", entry.folder, entry.datasets, url=entry.url, message=msg)
            _write_json_atomic(record_path, record)
        results.append(res)
        if progress is not None:
            progress(res)
    return FetchReport(dest, results, accepted, _next_steps(settings, results))


# ------------------------------------------------------------------------------ import-cpt


@dataclass(frozen=True, slots=True)
class CptImportResult:
    file: str
    sha256: str
    status: str  # loaded | unchanged
    rows: int
    refdata: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def import_cpt(
    *,
    settings: Settings,
    path: Path,
    accept_cpt_license: bool = False,
    confirm: Callable[[], bool] | None = None,
) -> CptImportResult:
    """Load a user's licensed CPT descriptor file into the reference store (same file twice: no-op)."""
    from medbill.codesets.cpt_import import load_cpt_file

    if not path.is_file():
        raise FetchError(f"{path}: no such file")
    how = "--accept-cpt-license"
    accepted = accept_cpt_license
    if not accepted and confirm is not None:
        accepted = bool(confirm())
        how = "interactive"
    if not accepted:
        raise CptLicenseRequired(
            "CPT descriptors are licensed by the AMA: importing them needs your acceptance of the licence",
            hint="rerun with --accept-cpt-license if you hold a CPT licence",
        )
    digest = sha256_of(path)
    record_cpt_acceptance(
        settings.home, command="medbill data import-cpt", how=how, files=[f"{path.name} sha256 {digest}"]
    )
    result = load_cpt_file(settings.refdata_path, path, accepted=True)
    if result.status == "loaded":
        from medbill.services import reference

        reference.invalidate()  # a changed store must be reopened
    return CptImportResult(path.name, digest, result.status, result.rows, str(settings.refdata_path))
