"""The counter's refusals; ``code`` is stable (app.api.counter maps it to HTTP)."""

from __future__ import annotations


class CounterError(Exception):
    """Base of the queue's errors; ``code`` is stable."""

    code = "counter-error"


class ServiceNotAtKiosk(CounterError):
    code = "service-not-at-kiosk"


class TicketGone(CounterError):
    """The ticket is not waiting (any more), or not this kiosk's."""

    code = "ticket-gone"


class TicketNotFound(CounterError):
    """No walk-in ticket with this id (a staff action on an unknown ticket)."""

    code = "ticket-not-found"


class OutsideStaffedHours(CounterError):
    """No department with kiosk services is staffed now (holidays and closures included)."""

    code = "outside-staffed-hours"


class UnknownInterpreterLanguage(CounterError):
    code = "unknown-interpreter-language"


class OfferGone(CounterError):
    """The offer stopped ringing (answered elsewhere, lapsed, or the resident left)."""

    code = "offer-gone"


class InvalidHandover(CounterError):
    """No such department, a service of another department, or an unknown colleague."""

    code = "handover-invalid"
