"""The application workflow as a pure table, checked exhaustively."""

from __future__ import annotations

import pytest

from app.tracker.workflow import (
    FINAL,
    ApplicationStatus,
    IllegalTransition,
    allowed,
    transition,
)

S = ApplicationStatus
LEGAL = {
    (S.RECEIVED, S.IN_PROGRESS),
    (S.RECEIVED, S.REJECTED),
    (S.RECEIVED, S.WITHDRAWN),
    (S.IN_PROGRESS, S.AWAITING_DOCUMENTS),
    (S.IN_PROGRESS, S.COMPLETED),
    (S.IN_PROGRESS, S.REJECTED),
    (S.IN_PROGRESS, S.WITHDRAWN),
    (S.AWAITING_DOCUMENTS, S.IN_PROGRESS),
    (S.AWAITING_DOCUMENTS, S.COMPLETED),
    (S.AWAITING_DOCUMENTS, S.REJECTED),
    (S.AWAITING_DOCUMENTS, S.WITHDRAWN),
}


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("target", list(S))
def test_only_the_listed_moves_are_allowed(current: S, target: S) -> None:
    if (current, target) in LEGAL:
        assert transition(current, target.value) is target
        assert target in allowed(current)
    else:
        with pytest.raises(IllegalTransition) as info:
            transition(current, target.value)
        assert str(current) in str(info.value)


def test_final_statuses_and_unknown_targets() -> None:
    assert {S.COMPLETED, S.REJECTED, S.WITHDRAWN} == FINAL
    with pytest.raises(IllegalTransition):
        transition(S.RECEIVED, "approved")
    assert S.AWAITING_DOCUMENTS.value == "awaiting_documents"
