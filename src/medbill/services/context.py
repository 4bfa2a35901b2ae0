"""Who is acting: the :class:`Actor` every service function takes (keyword-only ``actor=``).

An actor is built by the API/web from a session, by the CLI from the local operator, by tests
directly. It carries surrogate ids only (no names), the role, where the request came from and the
request id that ties one request to its one audit record.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from medbill.services.permissions import Role

__all__ = ["Actor", "system_actor"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Actor:
    user_id: int | None
    role: Role
    practice_id: int | None  # None: a system administrator not acting inside a practice
    source: str | None = None  # client address
    session_id: int | None = None
    break_glass: bool = False  # emergency access granted for this session (reason in the session row)
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))


def system_actor(practice_id: int | None = None, *, source: str = "cli") -> Actor:
    """The local operator of the command line (a system administrator; audited like anyone else)."""
    return Actor(user_id=None, role=Role.SYSTEM_ADMIN, practice_id=practice_id, source=source)
