"""Exceptions raised by the scheduler.

Each class has a stable ``code`` that ``app/`` maps to an HTTP status and a
translated message; codes never change once released.

.. code-block:: text

    SchedulerError                  scheduler-error
     ├── CalendarParseError         calendar-parse-error
     ├── InvalidBookingRequest      invalid-booking-request
     ├── SlotUnavailable            slot-unavailable
     ├── BookingNotFound            booking-not-found
     ├── BookingCancelled           booking-cancelled
     ├── ChangeWindowClosed         change-window-closed
     └── ImportFileError            import-file-error
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import ClassVar

__all__ = [
    "BookingCancelled",
    "BookingNotFound",
    "CalendarParseError",
    "ChangeWindowClosed",
    "ImportFileError",
    "InvalidBookingRequest",
    "SchedulerError",
    "SlotUnavailable",
]


class SchedulerError(Exception):
    """Base class of every scheduler error."""

    code: ClassVar[str] = "scheduler-error"


class CalendarParseError(SchedulerError):
    """An imported iCalendar document could not be read."""

    code: ClassVar[str] = "calendar-parse-error"


class InvalidBookingRequest(SchedulerError):
    """A booking request is malformed or contradicts the service's rules."""

    code: ClassVar[str] = "invalid-booking-request"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        # The offending request field, so a form can point at it.
        self.field = field


class SlotUnavailable(SchedulerError):
    """The requested slot is no longer free (taken, closed or out of range)."""

    code: ClassVar[str] = "slot-unavailable"


class BookingNotFound(SchedulerError):
    """No booking matches the given id or link."""

    code: ClassVar[str] = "booking-not-found"


class BookingCancelled(SchedulerError):
    """The booking was cancelled, so it can no longer be changed or joined."""

    code: ClassVar[str] = "booking-cancelled"


class ChangeWindowClosed(SchedulerError):
    """It is too late to cancel or reschedule (past the service's change cutoff)."""

    code: ClassVar[str] = "change-window-closed"

    def __init__(self, cutoff: datetime) -> None:
        super().__init__(cutoff)
        # When changes closed, for the message shown to the resident.
        self.cutoff = cutoff


class ImportFileError(SchedulerError):
    """A city configuration file is malformed or refers to unknown entries.

    ``problems`` holds every problem found, as ``(line, field, message)``
    (``line`` is None when unknown, ``field`` is a path like
    ``staff[3].skills[1]``); the message has one
    ``file:line: field: message`` line per problem.
    """

    code: ClassVar[str] = "import-file-error"

    def __init__(self, filename: str, problems: Iterable[tuple[int | None, str, str]]) -> None:
        self.filename = filename
        self.problems = list(problems)
        super().__init__("\n".join(self._render(p) for p in self.problems))

    def _render(self, problem: tuple[int | None, str, str]) -> str:
        line, field, message = problem
        where = self.filename if line is None else f"{self.filename}:{line}"
        return f"{where}: {field}: {message}" if field else f"{where}: {message}"
