"""OpenAPI links: which answer's fields feed which operation's parameters.

A client (or a fuzzer following links) learns from them that the ``code`` and
``token`` of a new booking open the booking's own operations, that a kiosk
ticket's ``id`` is what the counter operations take, and so on.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

# (method, path, status) of the answer -> [(name, method, path, {parameter: expression})]
Source = tuple[str, str, str]
Target = tuple[str, str, str, dict[str, str]]

_BOOKING_TOKEN = {"token": "$response.body#/token"}
_BOOKING_CODE = {"code": "$response.body#/code"}
_STAFF_BOOKING_OPS = ["slip", "join", "photos", "documents", "invite", "handover", "interpreter"]


def _booking_targets() -> list[Target]:
    targets: list[Target] = [
        ("GetBooking", "get", "/api/v1/bookings/{token}", _BOOKING_TOKEN),
        ("CancelBooking", "post", "/api/v1/bookings/{token}/cancel", _BOOKING_TOKEN),
        ("RescheduleBooking", "post", "/api/v1/bookings/{token}/reschedule", _BOOKING_TOKEN),
        ("BookingCalendar", "get", "/api/v1/bookings/{token}/booking.ics", _BOOKING_TOKEN),
    ]
    for op in _STAFF_BOOKING_OPS:
        method = "get" if op == "slip" else "post"
        name = "Staff" + op.capitalize()
        targets.append((name, method, f"/api/v1/staff/bookings/{{code}}/{op}", _BOOKING_CODE))
    return targets


def _ticket_targets() -> list[Target]:
    ticket = {"token": "$request.path.token", "ticket_id": "$response.body#/id"}
    staff_ticket = {"ticket_id": "$response.body#/id"}
    targets: list[Target] = [
        ("TicketStatus", "get", "/api/v1/kiosk/{token}/tickets/{ticket_id}", ticket),
        ("LeaveQueue", "delete", "/api/v1/kiosk/{token}/tickets/{ticket_id}", ticket),
    ]
    for op in ("handover", "join", "finish", "interpreter", "invite"):
        path = f"/api/v1/staff/counter/tickets/{{ticket_id}}/{op}"
        targets.append(("Ticket" + op.capitalize(), "post", path, staff_ticket))
    return targets


def _application_targets() -> list[Target]:
    ident = {"application_id": "$response.body#/id"}
    base = "/api/v1/staff/applications/{application_id}"
    return [
        ("ReadApplication", "get", base, ident),
        ("ChangeStatus", "post", base + "/status", ident),
        ("Assign", "post", base + "/assign", ident),
        ("AttachSession", "post", base + "/sessions", ident),
    ]


LINKS: dict[Source, list[Target]] = {
    ("post", "/api/v1/bookings", "201"): _booking_targets(),
    ("post", "/api/v1/staff/bookings", "201"): _booking_targets(),
    ("post", "/api/v1/waitlist/offers/{token}/claim", "201"): _booking_targets(),
    ("post", "/api/v1/kiosk/{token}/tickets", "201"): _ticket_targets(),
    ("post", "/api/v1/staff/applications", "201"): _application_targets(),
    ("post", "/api/v1/staff/bookings/{code}/interpreter", "201"): [
        (
            "CancelInterpreterCall",
            "delete",
            "/api/v1/staff/interpreter-calls/{call_id}",
            {"call_id": "$response.body#/id"},
        )
    ],
    ("get", "/api/v1/departments", "200"): [
        (
            "Availability",
            "get",
            "/api/v1/services/{service_id}/availability",
            {"service_id": "$response.body#/0/services/0/id"},
        )
    ],
}


def add_links(schema: dict[str, Any]) -> None:
    paths: dict[str, Any] = schema.get("paths", {})
    for (method, path, status), targets in LINKS.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is None:
            raise LookupError(f"no {status} answer of {method.upper()} {path} to link from")
        links = response.setdefault("links", {})
        for name, target_method, target_path, parameters in targets:
            operation = paths.get(target_path, {}).get(target_method)
            if operation is None:
                raise LookupError(f"link {name}: no {target_method.upper()} {target_path}")
            links[name] = {"operationId": operation["operationId"], "parameters": parameters}


def document(app: FastAPI) -> None:
    """Add the links to the app's OpenAPI schema (after any other documenting wrapper)."""
    previous = app.openapi

    def openapi() -> dict[str, Any]:
        schema = previous()
        add_links(schema)  # idempotent, so the cached schema may pass through again
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
