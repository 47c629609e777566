"""The status workflow of an application (pure): which moves are allowed.

受付 received → 対応中 in progress → 書類待ち awaiting documents → 完了
completed, or 却下 rejected / 取下げ withdrawn from any open status. Waiting
for documents goes back to in progress when they arrive. Completed, rejected
and withdrawn are final.
"""

from __future__ import annotations

from enum import StrEnum


class ApplicationStatus(StrEnum):
    RECEIVED = "received"
    IN_PROGRESS = "in_progress"
    AWAITING_DOCUMENTS = "awaiting_documents"
    COMPLETED = "completed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


S = ApplicationStatus

TRANSITIONS: dict[ApplicationStatus, frozenset[ApplicationStatus]] = {
    S.RECEIVED: frozenset({S.IN_PROGRESS, S.REJECTED, S.WITHDRAWN}),
    S.IN_PROGRESS: frozenset({S.AWAITING_DOCUMENTS, S.COMPLETED, S.REJECTED, S.WITHDRAWN}),
    S.AWAITING_DOCUMENTS: frozenset({S.IN_PROGRESS, S.COMPLETED, S.REJECTED, S.WITHDRAWN}),
    S.COMPLETED: frozenset(),
    S.REJECTED: frozenset(),
    S.WITHDRAWN: frozenset(),
}

FINAL = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)

# Shown to staff and residents (msgids of the gettext catalogs).
STATUS_LABELS: dict[ApplicationStatus, str] = {
    S.RECEIVED: "Received",
    S.IN_PROGRESS: "In progress",
    S.AWAITING_DOCUMENTS: "Awaiting documents",
    S.COMPLETED: "Completed",
    S.REJECTED: "Rejected",
    S.WITHDRAWN: "Withdrawn",
}


class IllegalTransition(ValueError):
    """The move is not in the workflow; the message names the current status."""

    code = "illegal-transition"

    def __init__(self, current: ApplicationStatus, target: str) -> None:
        super().__init__(f"cannot move an application from {current} to {target}")
        self.current = current
        self.target = target


def allowed(current: ApplicationStatus) -> frozenset[ApplicationStatus]:
    return TRANSITIONS[current]


def transition(current: ApplicationStatus, target: str) -> ApplicationStatus:
    """The new status, or ``IllegalTransition`` when the workflow forbids it."""
    try:
        wanted = ApplicationStatus(target)
    except ValueError:
        raise IllegalTransition(current, target) from None
    if wanted not in TRANSITIONS[current]:
        raise IllegalTransition(current, target)
    return wanted
