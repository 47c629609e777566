"""A booking's printable slip for the resident (代理予約): an HTML page, with a QR
code of the resident's manage link, for the staff member who booked on the
resident's behalf. It keeps the staff API's address (``slip_url`` in
``POST /api/v1/staff/bookings`` answers) and its place in the API schema.
"""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.auth.deps import CurrentStaff
from app.auth.scope import StaffScope
from app.booking.access import staff_booking
from app.booking.deps import ReadSchedulingDep
from app.booking.notify import japanese_when
from app.core.deps import CtxDep
from scheduler.models import City
from scheduler.types import Channel
from web.templating import templates

router = APIRouter(prefix="/api/v1", tags=["staff"])


def qr_svg(data: str) -> str:
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    buf = io.BytesIO()
    image.save(buf)
    text = buf.getvalue().decode()
    # Drop the XML declaration: the SVG is embedded in HTML.
    return text[text.index("<svg") :]


@router.get("/staff/bookings/{code}/slip", response_class=HTMLResponse)
def booking_slip(
    code: str, request: Request, staff: CurrentStaff, svc: ReadSchedulingDep, ctx: CtxDep
) -> HTMLResponse:
    booking = staff_booking(svc, StaffScope.of(staff), code)
    city = svc.session.get(City, 1)
    return templates.TemplateResponse(
        request,
        "slip.html",
        {
            "city": city.name_ja if city else "",
            "code": booking.code,
            "when": japanese_when(booking, ctx),
            "department": booking.service.department.name_ja,
            "service": booking.service.name_ja,
            "channel": "オンライン相談" if booking.channel == Channel.ONLINE else "リモート窓口",
            "name": booking.resident_name,
            "qr_svg": qr_svg(ctx.links.manage_url(booking)),
        },
    )
