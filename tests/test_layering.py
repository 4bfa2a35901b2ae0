"""Architecture contract: the domain packages stay free of storage, web and CLI frameworks."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "medbill"
DOMAIN = ["core", "codesets", "coding", "scrub", "x12", "ledger", "interop"]
FORBIDDEN = (
    "sqlalchemy",
    "fastapi",
    "click",
    "starlette",
    "medbill.store",
    "medbill.api",
    "medbill.web",
    "medbill.cli",
    "medbill.services",
)
CORE_ALLOWED_MEDBILL = ("medbill.core",)


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
    return out


def test_domain_packages_do_not_import_frameworks() -> None:
    checked = 0
    for pkg in DOMAIN:
        for path in (SRC / pkg).rglob("*.py") if (SRC / pkg).is_dir() else []:
            checked += 1
            for name in _imports(path):
                assert not name.startswith(FORBIDDEN), f"{path.relative_to(SRC)} imports {name}"
    assert checked >= 10


def test_core_imports_only_stdlib_and_core() -> None:
    import sys

    for path in (SRC / "core").rglob("*.py"):
        for name in _imports(path):
            top = name.split(".")[0]
            if top == "medbill":
                assert name.startswith(CORE_ALLOWED_MEDBILL), f"{path.name} imports {name}"
            else:
                assert top in sys.stdlib_module_names or top == "__future__", f"{path.name} imports {name}"
