"""Forms during a call over the JSON API: the whole flow, and every refusal storing nothing."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from forms_helpers import TENNYU, add_demo_templates, signature_png
from pypdf import PdfReader
from scope_helpers import add_other_department
from sqlalchemy import func, select
from tracker_helpers import NOW, MiniCity, make_booking

from app.core.context import AppContext
from app.counter.models import QueueTicket
from app.forms.models import Form, FormSignature, FormVersion
from app.forms.view import canonical_json, view_hash
from app.tracker.models import Application, ApplicationDocument, AuditEntry
from scheduler.models import Booking

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def login(client: TestClient, who: str = "staff0") -> None:
    token = CSRF.search(client.get("/staff/login").text)
    assert token
    r = client.post(
        "/staff/login",
        data={"login": who, "password": "pw", "csrf_token": token.group(1), "next": "/staff"},
        follow_redirects=False,
    )
    assert r.status_code == 303


@pytest.fixture
def call(ctx: AppContext, city: MiniCity) -> Booking:
    """A call under way now, with the demo forms filed under its service."""
    with ctx.sessions() as session:
        add_demo_templates(session, city.consult_id)
        booking = make_booking(
            session, city.consult_id, city.staff_ids[0], NOW - timedelta(minutes=5)
        )
        booking.resident_phone = "090-1234-5678"
        session.commit()
        session.refresh(booking)
        session.expunge(booking)
        return booking


def resident(ctx: AppContext, booking: Booking, role: str = "resident") -> dict[str, str]:
    token = ctx.links.join_token(booking, role=role, pid=f"{role}:{booking.code}")
    return {"X-Join-Token": token}


def start(client: TestClient, booking: Booking, template: str = "tennyu-todoke") -> dict[str, Any]:
    r = client.post(
        "/api/v1/staff/forms", json={"template": template, "booking_code": booking.code}
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def count(ctx: AppContext, model: Any) -> int:
    with ctx.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_fill_push_confirm_sign_and_the_pdf(
    client: TestClient, ctx: AppContext, call: Booking
) -> None:
    login(client)
    templates = client.get("/api/v1/staff/forms/templates").json()
    assert {t["slug"] for t in templates} == {"tennyu-todoke", "jido-teate-nintei", "juminhyo-kofu"}
    definition = client.get("/api/v1/staff/forms/templates/tennyu-todoke").json()["definition"]
    assert definition["fields"][0]["name"] == "moved_on"

    form = start(client, call)
    # Pre-filled from the booking: name and phone.
    assert form["values"]["applicant_name"] == "山田 太郎"
    assert form["values"]["phone"] == "090-1234-5678"
    assert form["version"] == 1 and form["state"] == "draft"
    assert {"field": "moved_on", "code": "required"} in [
        {k: m[k] for k in ("field", "code")} for m in form["missing"]
    ]
    url = f"/api/v1/staff/forms/{form['id']}"

    r = client.put(url, json={"version": 1, "values": TENNYU})
    assert r.status_code == 200, r.text
    saved = r.json()
    assert saved["version"] == 2 and saved["missing"] == []
    assert saved["values"]["applicant_kana"] == "ヤマダ　タロウ"
    assert saved["values"]["postal_code"] == "123-4567"
    assert saved["values"]["members"][0]["birth_date"] == "1980-01-02"
    assert "agent_reason" not in saved["values"]  # hidden: relation is self

    # A stale save (someone else saved version 2 first) changes nothing.
    r = client.put(url, json={"version": 1, "values": {**TENNYU, "householder": "別人"}})
    assert r.status_code == 409 and r.json()["error"]["code"] == "version-conflict"
    # A field outside the template is refused, and nothing is stored.
    r = client.put(url, json={"version": 2, "values": {**TENNYU, "salary": "100"}})
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "form-invalid"
    assert error["fields"][0]["field"] == "salary" and error["fields"][0]["code"] == "unknown-field"
    assert client.get(url).json()["version"] == 2
    assert count(ctx, FormVersion) == 2

    r = client.post(f"{url}/push", json={"version": 2})
    assert r.status_code == 200, r.text
    push = r.json()
    assert push["view_hash"] == view_hash(canonical_json(push["view"]))
    assert push["page_count"] == 2 and push["confirmed_pages"] == []
    # The link the staff page sends in the signaling ``document`` message.
    shown = client.get(push["document_url"])
    assert shown.status_code == 200 and shown.headers["content-type"] == "application/json"
    assert shown.json()["kind"] == "form-view" and shown.json()["view_hash"] == push["view_hash"]
    rows = shown.json()["view"]["pages"][0]["sections"][1]["rows"]
    assert {"name": "moved_on", "text": "令和8年11月20日（2026年11月20日）"}.items() <= rows[
        0
    ].items()

    me = resident(ctx, call)
    base = f"/api/v1/call/forms/{form['id']}"
    digest = push["view_hash"]
    assert client.get(base, headers=me).json()["view_hash"] == digest
    png = signature_png()
    r = client.post(f"{base}/signature?view_hash={digest}", content=png, headers=me)
    assert r.status_code == 409 and r.json()["error"]["code"] == "pages-not-confirmed"
    for page in (0, 1):
        r = client.post(f"{base}/pages/{page}/confirm", json={"view_hash": digest}, headers=me)
        assert r.status_code == 200, r.text
    assert r.json()["confirmed_pages"] == [0, 1]
    r = client.post(f"{base}/pages/2/confirm", json={"view_hash": digest}, headers=me)
    assert r.status_code == 404 and r.json()["error"]["code"] == "page-not-found"

    # Bad signatures: refused with their own code, nothing half-stored.
    for data, code in [
        (b"", "signature-empty"),
        (signature_png(ink=False), "signature-empty"),
        (b"GIF89a" + b"\0" * 100, "signature-type"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * (600 * 1024), "signature-too-large"),
        (signature_png(4100, 300), "signature-too-large"),
    ]:
        r = client.post(f"{base}/signature?view_hash={digest}", content=data, headers=me)
        assert r.status_code == 422 and r.json()["error"]["code"] == code, (code, r.text)
    r = client.post(f"{base}/signature?view_hash={'0' * 64}", content=png, headers=me)
    assert r.status_code == 409 and r.json()["error"]["code"] == "view-changed"
    assert count(ctx, FormSignature) == 0 and count(ctx, Application) == 0

    r = client.post(f"{base}/signature?view_hash={digest}", content=png, headers=me)
    assert r.status_code == 201, r.text
    assert r.json()["state"] == "signed"
    signed = client.get(url).json()
    assert signed["state"] == "signed" and signed["application_reference"]
    assert signed["signatures"][0]["view_hash"] == digest
    assert signed["signatures"][0]["booking_code"] == call.code
    with ctx.sessions() as session:
        application = session.scalars(select(Application)).one()
        assert application.status == "received"  # 受付
        assert application.procedure == "転入届" and application.resident_name == "山田 太郎"
        doc = session.scalars(select(ApplicationDocument)).one()
        assert doc.content_type == "application/pdf" and doc.label == "転入届（署名済み）"
        assert doc.data is not None
        text = pdf_text(doc.data)
        signature = session.scalars(select(FormSignature)).one()
        assert signature.image == png and signature.room == call.room_id
        assert signature.signed_at == NOW
    assert "山田 太郎" in text and "みどり市本町1丁目2番3号" in text
    assert "令和8年11月20日" in text and digest in text.replace("\n", "")

    r = client.get(f"{url}/pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF")
    detail = client.get(f"/api/v1/staff/applications/{signed['application_id']}").json()
    assert detail["forms"][0]["values"]["address"] == "みどり市本町1丁目2番3号"
    assert detail["forms"][0]["signed_at"] is not None
    rows_csv = list(
        csv.reader(
            io.StringIO(
                client.get("/api/v1/staff/applications/export.csv").content.decode("utf-8-sig"),
                newline="",
            )
        )
    )
    assert rows_csv[0][9] == "様式 forms" and '"postal_code":"123-4567"' in rows_csv[1][9]

    # The resident's status page shows what they signed, read-only.
    token = ctx.links.application_token(signed["application_id"], signed["application_reference"])
    views = client.get(f"/api/v1/status/{token}/forms").json()
    assert [v["view_hash"] for v in views] == [digest]
    page = client.get(f"/status/{token}")
    assert page.status_code == 200
    assert "みどり市本町1丁目2番3号" in page.text and "令和8年11月20日" in page.text

    with ctx.sessions() as session:
        trail = [
            (e.action, e.detail)
            for e in session.scalars(
                select(AuditEntry).where(AuditEntry.object_type == "form").order_by(AuditEntry.id)
            )
        ]
    actions = {a for a, _ in trail}
    assert {"read", "change", "export"} <= actions
    assert ("change", f"resident signed {digest}") in trail
    assert ("change", "resident confirmed page 2") in trail

    # Editing the signed form voids the signature (kept in history) and needs a new one.
    r = client.put(url, json={"version": 2, "values": {**TENNYU, "householder": "山田 花子"}})
    assert r.status_code == 200
    edited = r.json()
    assert edited["state"] == "draft" and edited["version"] == 3
    assert edited["signatures"][0]["voided_at"] is not None
    assert client.get(f"{url}/pdf").json()["error"]["code"] == "form-not-signed"
    r = client.post(f"{base}/signature?view_hash={digest}", content=png, headers=me)
    assert r.status_code == 409 and r.json()["error"]["code"] == "view-changed"
    assert client.get(f"/api/v1/status/{token}/forms").json() == []
    with ctx.sessions() as session:
        assert session.scalars(select(ApplicationDocument.label)).one().endswith("（署名無効）")
        assert len(session.scalars(select(FormSignature)).all()) == 1


def test_an_edit_after_the_push_refuses_the_old_view(
    client: TestClient, ctx: AppContext, call: Booking
) -> None:
    login(client)
    form = start(client, call)
    url = f"/api/v1/staff/forms/{form['id']}"
    assert client.put(url, json={"version": 1, "values": TENNYU}).status_code == 200
    digest = client.post(f"{url}/push", json={"version": 2}).json()["view_hash"]
    me = resident(ctx, call)
    base = f"/api/v1/call/forms/{form['id']}"
    for page in (0, 1):
        client.post(f"{base}/pages/{page}/confirm", json={"view_hash": digest}, headers=me)
    # Staff change an answer while the resident reads.
    r = client.put(url, json={"version": 2, "values": {**TENNYU, "address": "みどり市北町9"}})
    assert r.status_code == 200 and r.json()["state"] == "draft" and r.json()["push"] is None
    r = client.post(f"{base}/signature?view_hash={digest}", content=signature_png(), headers=me)
    assert r.status_code == 409 and r.json()["error"]["code"] == "view-changed"
    r = client.post(f"{base}/decline", json={"view_hash": digest}, headers=me)
    assert r.status_code == 409 and r.json()["error"]["code"] == "view-changed"
    assert client.get(base, headers=me).json()["error"]["code"] == "form-not-pushed"
    assert count(ctx, FormSignature) == 0 and count(ctx, Application) == 0
    # A push of an incomplete form is refused.
    r = client.put(url, json={"version": 3, "values": {**TENNYU, "moved_on": ""}})
    assert r.status_code == 200 and r.json()["missing"][0]["field"] == "moved_on"
    r = client.post(f"{url}/push", json={"version": 4})
    assert r.status_code == 422 and r.json()["error"]["code"] == "form-incomplete"
    # The resident may decline a pushed form.
    client.put(url, json={"version": 4, "values": TENNYU})
    digest = client.post(f"{url}/push", json={"version": 5}).json()["view_hash"]
    r = client.post(f"{base}/decline", json={"view_hash": digest}, headers=me)
    assert r.status_code == 200 and r.json()["state"] == "declined"
    assert client.get(url).json()["state"] == "declined"


def test_who_may_act_on_a_form(
    client: TestClient, ctx: AppContext, city: MiniCity, call: Booking
) -> None:
    add_other_department(ctx.engine)
    login(client)
    form = start(client, call)
    url = f"/api/v1/staff/forms/{form['id']}"
    client.put(url, json={"version": 1, "values": TENNYU})
    digest = client.post(f"{url}/push", json={"version": 2}).json()["view_hash"]
    base = f"/api/v1/call/forms/{form['id']}"
    with ctx.sessions() as session:
        other = make_booking(
            session, city.consult_id, city.staff_ids[1], NOW - timedelta(minutes=5)
        )
        session.commit()
        session.expunge(other)
    # Another call's resident, the interpreter of this call, no token at all: refused.
    for headers in (resident(ctx, other), resident(ctx, call, role="interpreter"), {}):
        r = client.post(f"{base}/pages/0/confirm", json={"view_hash": digest}, headers=headers)
        assert r.status_code == 403, headers
    r = client.get(base, headers={"X-Join-Token": "forged"})
    assert r.status_code == 403
    # The kiosk's seat in the same room is the resident's.
    r = client.get(base, headers=resident(ctx, call, role="kiosk"))
    assert r.status_code == 200
    # Staff of another department, not in the call: refused.
    other_client = TestClient(client.app)
    login(other_client, "kankyo0")
    assert other_client.get(url).status_code == 403
    r = other_client.post(
        "/api/v1/staff/forms", json={"template": "tennyu-todoke", "booking_code": call.code}
    )
    assert r.status_code == 403
    assert count(ctx, Form) == 1


def test_prefill_from_the_residents_earlier_form(
    client: TestClient, ctx: AppContext, city: MiniCity, call: Booking
) -> None:
    login(client)
    first = start(client, call)
    client.put(f"/api/v1/staff/forms/{first['id']}", json={"version": 1, "values": TENNYU})
    with ctx.sessions() as session:
        later = make_booking(
            session, city.consult_id, city.staff_ids[0], NOW + timedelta(minutes=40), email=None
        )
        later.resident_phone = "09012345678"  # the same number, typed differently
        session.commit()
        session.expunge(later)
    form = start(client, later, "jido-teate-nintei")
    values = form["values"]
    assert values["claimant_name"] == "山田 太郎"
    assert values["claimant_kana"] == "ヤマダ　タロウ"
    assert values["postal_code"] == "123-4567"
    assert values["address"] == "みどり市本町1丁目2番3号"
    assert values["phone"] == "090-1234-5678"


def test_a_walk_in_call_at_a_kiosk(client: TestClient, ctx: AppContext, city: MiniCity) -> None:
    """No booking: staff holding the ticket fill in the form, the kiosk's seat signs."""
    with ctx.sessions() as session:
        add_demo_templates(session, city.consult_id)
        ticket = QueueTicket(
            day=NOW.date(),
            number=12,
            kiosk_id=city.kiosk_id,
            service_id=city.consult_id,
            priority=0,
            room_id="wi-forms-1",
            status="in-call",
            queued_at=NOW - timedelta(minutes=10),
            staff_id=city.staff_ids[0],
            accepted_at=NOW - timedelta(minutes=5),
            refused_by=[],
        )
        session.add(ticket)
        session.commit()
        ticket_id = ticket.id
    login(client)
    r = client.post(
        "/api/v1/staff/forms", json={"template": "juminhyo-kofu", "ticket_id": ticket_id}
    )
    assert r.status_code == 201, r.text
    form = r.json()
    assert form["ticket_id"] == ticket_id and form["values"]["requester_name"] == ""
    values = {
        "requester_name": "佐藤 花子",
        "requester_address": "みどり市南町4-5-6",
        "phone": "0312345678",
        "relation": "agent",
        "proxy_letter": True,
        "subject_address": "みどり市南町4-5-6",
        "kind": "household",
        "copies": "1",
        "purpose": "年金の手続き",
    }
    url = f"/api/v1/staff/forms/{form['id']}"
    assert client.put(url, json={"version": 1, "values": values}).status_code == 200
    push = client.post(f"{url}/push", json={"version": 2}).json()
    kiosk = {
        "X-Join-Token": ctx.links.room_join_token(
            "wi-forms-1",
            role="kiosk",
            pid=f"kiosk:{city.kiosk_id}",
            name="北支所",
            expires=NOW + timedelta(hours=1),
        )
    }
    base = f"/api/v1/call/forms/{form['id']}"
    r = client.post(f"{base}/pages/0/confirm", json={"view_hash": push["view_hash"]}, headers=kiosk)
    assert r.status_code == 200
    r = client.post(
        f"{base}/signature?view_hash={push['view_hash']}", content=signature_png(), headers=kiosk
    )
    assert r.status_code == 201, r.text
    with ctx.sessions() as session:
        application = session.scalars(select(Application)).one()
        assert application.resident_name == "佐藤 花子" and application.status == "received"
        assert application.procedure == "住民票の写し等交付請求書"
        signature = session.scalars(select(FormSignature)).one()
        assert signature.ticket_id == ticket_id and signature.booking_id is None
        doc = session.get(ApplicationDocument, signature.document_id)
        assert doc is not None and doc.data is not None
        text = pdf_text(doc.data)
    assert "佐藤 花子" in text and "みどり市南町4-5-6" in text and "受付番号 12" in text
