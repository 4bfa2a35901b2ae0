"""The permission matrix, in one place: which role may do what.

Every service operation and every API route names one :class:`Permission`; :func:`allowed` is the only
place that decides. Practice isolation is separate and absolute: whatever the role, objects of another
practice are not found (404), never "forbidden" (which would confirm they exist). A system
administrator manages practices, users and reference data and sees no PHI, except through
break-glass access (a stated reason, always audited), which grants read-only PHI permissions.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["MFA_REQUIRED", "PHI_PERMISSIONS", "Permission", "Role", "allowed", "matrix"]


class Role(StrEnum):
    FRONT_DESK = "front_desk"
    CODER = "coder"
    BILLER = "biller"
    AUDITOR = "auditor"
    PRACTICE_ADMIN = "practice_admin"
    SYSTEM_ADMIN = "system_admin"


class Permission(StrEnum):
    CODES_READ = "codes.read"  # code sets, search, lookup (no PHI)
    PATIENT_READ = "patient.read"  # patients and coverage
    PATIENT_WRITE = "patient.write"
    ENCOUNTER_READ = "encounter.read"  # encounters, notes, coded diagnoses/procedures
    ENCOUNTER_WRITE = "encounter.write"  # create/edit encounters (scheduling, notes)
    CODING_WRITE = "coding.write"  # assign codes, accept/reject suggestions
    CLAIM_READ = "claim.read"
    CLAIM_WRITE = "claim.write"  # build, edit, scrub claims
    CLAIM_SUBMIT = "claim.submit"  # produce 837 batches, record 999/277CA
    REMIT_READ = "remit.read"  # remittances, denials, worklists
    REMIT_POST = "remit.post"  # upload and post 835s
    LEDGER_READ = "ledger.read"  # ledgers, statements, A/R
    PAYMENT_COLLECT = "payment.collect"  # time-of-service copays, patient payments
    LEDGER_ADJUST = "ledger.adjust"  # write-offs, refunds, transfers, corrections
    REPORT_READ = "report.read"  # A/R aging, measures (aggregates)
    EXPORT_DEIDENTIFIED = "export.deidentified"
    IMPORT_RECORDS = "import.records"  # CSV / FHIR imports
    PAYER_READ = "payer.read"  # payers, providers, fee schedules, payer rules, trading partners
    PAYER_WRITE = "payer.write"
    PROVIDER_WRITE = "provider.write"
    FEE_SCHEDULE_WRITE = "fee_schedule.write"
    USER_READ = "user.read"
    USER_WRITE = "user.write"  # users and roles of one's own practice
    AUDIT_READ = "audit.read"  # audit report and verification
    PRACTICE_ADMIN = "practice.admin"  # create practices (system level)
    REFERENCE_LOAD = "reference.load"  # load official code set files
    BREAK_GLASS = "break_glass"  # request emergency access


P = Permission
R = Role

PHI_PERMISSIONS = frozenset({P.PATIENT_READ, P.ENCOUNTER_READ, P.CLAIM_READ, P.REMIT_READ, P.LEDGER_READ})
"""Read permissions break-glass grants for the emergency session (never writes)."""

_READ_ALL_PHI = {P.PATIENT_READ, P.ENCOUNTER_READ, P.CLAIM_READ, P.REMIT_READ, P.LEDGER_READ}

_MATRIX: dict[Role, frozenset[Permission]] = {
    R.FRONT_DESK: frozenset(
        {
            P.CODES_READ,
            P.PATIENT_READ,
            P.PATIENT_WRITE,
            P.ENCOUNTER_READ,
            P.ENCOUNTER_WRITE,
            P.CLAIM_READ,
            P.LEDGER_READ,
            P.PAYMENT_COLLECT,
            P.PAYER_READ,
            P.IMPORT_RECORDS,
            P.BREAK_GLASS,
        }
    ),
    R.CODER: frozenset(
        {
            P.CODES_READ,
            P.PATIENT_READ,
            P.ENCOUNTER_READ,
            P.ENCOUNTER_WRITE,
            P.CODING_WRITE,
            P.CLAIM_READ,
            P.CLAIM_WRITE,
            P.PAYER_READ,
            P.BREAK_GLASS,
        }
    ),
    R.BILLER: frozenset(
        {
            P.CODES_READ,
            P.PATIENT_READ,
            P.PATIENT_WRITE,
            P.ENCOUNTER_READ,
            P.CLAIM_READ,
            P.CLAIM_WRITE,
            P.CLAIM_SUBMIT,
            P.REMIT_READ,
            P.REMIT_POST,
            P.LEDGER_READ,
            P.PAYMENT_COLLECT,
            P.LEDGER_ADJUST,
            P.REPORT_READ,
            P.PAYER_READ,
            P.PAYER_WRITE,
            P.FEE_SCHEDULE_WRITE,
            P.BREAK_GLASS,
        }
    ),
    R.AUDITOR: frozenset({P.CODES_READ, *_READ_ALL_PHI, P.REPORT_READ, P.PAYER_READ, P.USER_READ, P.AUDIT_READ}),
    R.PRACTICE_ADMIN: frozenset(
        {
            P.CODES_READ,
            *_READ_ALL_PHI,
            P.PATIENT_WRITE,
            P.ENCOUNTER_WRITE,
            P.REPORT_READ,
            P.EXPORT_DEIDENTIFIED,
            P.IMPORT_RECORDS,
            P.PAYER_READ,
            P.PAYER_WRITE,
            P.PROVIDER_WRITE,
            P.FEE_SCHEDULE_WRITE,
            P.USER_READ,
            P.USER_WRITE,
            P.AUDIT_READ,
            P.BREAK_GLASS,
        }
    ),
    R.SYSTEM_ADMIN: frozenset(
        {
            P.CODES_READ,
            P.USER_READ,
            P.USER_WRITE,
            P.AUDIT_READ,
            P.PRACTICE_ADMIN,
            P.REFERENCE_LOAD,
            P.BREAK_GLASS,
        }
    ),
}

MFA_REQUIRED = frozenset(Role)
"""Every role must pass TOTP before its session is usable: all of them see PHI or can grant access to it."""


def allowed(role: Role, permission: Permission, *, break_glass: bool = False) -> bool:
    """The one decision: may ``role`` do ``permission`` (with break-glass read access when granted)."""
    if permission in _MATRIX[role]:
        return True
    return break_glass and permission in PHI_PERMISSIONS


def matrix() -> dict[Role, frozenset[Permission]]:
    """A copy of the matrix (for documentation and the admin screen)."""
    return dict(_MATRIX)
