"""Every HTML page router, in the order the app matches them.

The one table of the web side: a URL's handler is found by looking its path
up here, then in the module named. Order matters where paths overlap
(``/kiosk/pair`` before ``/kiosk/{token}``).
"""

from __future__ import annotations

from fastapi import APIRouter

from web.pages.admin import audit as admin_audit
from web.pages.admin import editor as admin_editor
from web.pages.admin import hours as admin_hours
from web.pages.admin import importer as admin_importer
from web.pages.admin import outbox as admin_outbox
from web.pages.call import pages as call_pages
from web.pages.kiosk import call as kiosk_call
from web.pages.kiosk import device as kiosk_device
from web.pages.kiosk import queue as kiosk_queue
from web.pages.kiosk import screen as kiosk_screen
from web.pages.resident import booking as resident_booking
from web.pages.resident import line_login as resident_line_login
from web.pages.resident import manage as resident_manage
from web.pages.resident import rating as resident_rating
from web.pages.resident import rush as resident_rush
from web.pages.resident import status as resident_status
from web.pages.staff import applications as staff_applications
from web.pages.staff import auth as staff_auth
from web.pages.staff import console as staff_console
from web.pages.staff import counter as staff_counter
from web.pages.staff import dashboard as staff_dashboard
from web.pages.staff import oidc as staff_oidc
from web.pages.staff import records as staff_records
from web.pages.staff import slip as staff_slip

ROUTERS: tuple[APIRouter, ...] = (
    # /staff/login/oidc… (sign-in through the city's directory)
    staff_oidc.router,
    # /staff/login, /staff/logout
    staff_auth.router,
    # /staff, /staff/queue/events, /staff/bookings/{code}…, /staff/schedule, /staff/feed…
    staff_console.router,
    # /staff/counter, /staff/counter/events, /staff/counter/call/{ticket_id}[/wrapup]
    staff_counter.router,
    # /staff/records, /staff/records/{record_id}[/wrapup]: session records, the wrap-up
    staff_records.router,
    # /staff/applications…
    staff_applications.router,
    # /staff/dashboard, /staff/dashboard/records.csv
    staff_dashboard.router,
    # /api/v1/staff/bookings/{code}/slip (printable; in the API schema for its address)
    staff_slip.router,
    # /admin/city…, /admin/{kind}/{owner_id}/hours|overrides…, /admin/staff/{id}/leave…
    admin_hours.router,
    # /admin/import
    admin_importer.router,
    # /admin/outbox…
    admin_outbox.router,
    # /admin, /admin/departments…, /admin/branches… (every table the admin edits)
    admin_editor.router,
    # /admin/audit…
    admin_audit.router,
    # /kiosk/pair
    kiosk_device.router,
    # /admin/kiosk-status…, /admin/kiosks/{id}/pairing|revoke
    kiosk_device.admin_router,
    # /kiosk/device/heartbeat
    kiosk_device.device_api,
    # /kiosk/{token}, …/menu, …/code, …/walk-in
    kiosk_screen.router,
    # /kiosk/{token}/call/{join_token}
    kiosk_call.router,
    # /kiosk/{token}/walk-in/ticket, /kiosk/{token}/ticket/{ticket_id}…
    kiosk_queue.router,
    # /admin/kiosks/{id}/open
    kiosk_screen.admin_router,
    # /join/{token}
    call_pages.router,
    # /staff/call/{code}…
    call_pages.staff_router,
    # /line/login, /line/login/callback (LINE Login for bookings made inside LINE)
    resident_line_login.router,
    # /rate/{token}: the resident's rating after a call
    resident_rating.router,
    # /manage/{token}…, /waitlist/offers/{token}
    resident_manage.router,
    # /, /departments/{slug}, /services/{id}…, /waitlist, /kiosk-booking/{id}
    resident_booking.router,
    # /status/{token}
    resident_status.router,
    # /rush/{service_id}, /rush/wait/{ticket} (a rush service's admission queue)
    resident_rush.router,
)
