"""The resident's status page behind a signed link: view, reply, upload."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tracker_helpers import NOW, MiniCity

from app.core.context import AppContext
from app.core.outbox import OutboxMail
from app.core.tokens import Purpose
from app.tracker.audit import Actor
from app.tracker.models import Application, ApplicationDocument
from app.tracker.service import ApplicationService, NewApplication
from app.tracker.status_mail import StatusMail
from app.tracker.uploads import MAX_BYTES

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
PDF = b"%PDF-1.7\n" + bytes(64)


def open_two(ctx: AppContext, city: MiniCity) -> tuple[str, str, int, int]:
    """Two applications with one requested document each; their status paths."""
    actor = Actor(city.staff_ids[0])
    with ctx.sessions() as session:
        svc = ApplicationService(session, StatusMail(session, ctx.links), NOW)
        a = svc.open(NewApplication("転入届", "山田 太郎", city.dept_id, "taro@example.jp"), actor)
        b = svc.open(
            NewApplication("児童手当", "佐藤 花子", city.dept_id, "hana@example.jp"), actor
        )
        svc.change_status(a, "in_progress", actor)
        svc.change_status(a, "awaiting_documents", actor, "住民票の写しをお送りください")
        doc_a = svc.request_document(a, "住民票の写し", actor)
        doc_b = svc.request_document(b, "保険証の写し", actor)
        session.commit()
        mails = list(session.scalars(select(OutboxMail).order_by(OutboxMail.id)))
    link_a = re.search(r"http://127\.0\.0\.1:8000(/status/\S+)", mails[0].body)
    link_b = re.search(r"http://127\.0\.0\.1:8000(/status/\S+)", mails[1].body)
    assert link_a and link_b
    return link_a.group(1), link_b.group(1), doc_a.id, doc_b.id


def test_the_page_shows_status_timeline_and_documents_in_both_languages(
    client: TestClient, ctx: AppContext, city: MiniCity
) -> None:
    path_a, path_b, _, _ = open_two(ctx, city)
    ja = client.get(path_a, headers={"accept-language": "ja"})
    assert ja.status_code == 200
    assert "書類待ち" in ja.text and "住民票の写しをお送りください" in ja.text
    assert "住民票の写し" in ja.text and "転入届" in ja.text
    assert "佐藤" not in ja.text and "児童手当" not in ja.text
    en = client.get(path_a + "?lang=en")
    assert "Awaiting documents" in en.text and "Requested documents" in en.text
    other = client.get(path_b, headers={"accept-language": "ja"})
    assert "児童手当" in other.text and "転入届" not in other.text


def test_tampered_links_are_refused(client: TestClient, ctx: AppContext, city: MiniCity) -> None:
    path_a, _, _, _ = open_two(ctx, city)
    assert client.get(path_a[:-3] + "abc").status_code == 403
    booking_like = ctx.tokens.issue(Purpose.MANAGE, {"a": 1})
    assert client.get(f"/status/{booking_like}").status_code == 403
    with ctx.sessions() as session:
        app_id = session.scalars(select(Application.id)).first()
    forged = ctx.links.tokens.issue(Purpose.APPLICATION, {"a": app_id, "r": "A00-0000000"})
    assert client.get(f"/status/{forged}").status_code == 403


def test_reply_and_upload_with_content_checks(
    client: TestClient, ctx: AppContext, city: MiniCity
) -> None:
    path_a, _, doc_a, doc_b = open_two(ctx, city)
    token = CSRF.search(client.get(path_a).text)
    assert token
    csrf = {"csrf_token": token.group(1)}
    r = client.post(
        path_a + "/reply", data={**csrf, "message": "明日送ります"}, follow_redirects=False
    )
    assert r.status_code == 303
    assert "明日送ります" in client.get(path_a).text

    def send(doc: int, name: str, body: bytes, ctype: str) -> int:
        r = client.post(
            f"{path_a}/documents/{doc}",
            data=csrf,
            files={"file": (name, body, ctype)},
            follow_redirects=False,
        )
        return r.status_code

    # A text file named .pdf is refused by its content, whatever its name says.
    assert send(doc_a, "juminhyo.pdf", b"not a pdf at all", "application/pdf") == 415
    assert send(doc_a, "big.png", PNG + bytes(MAX_BYTES), "image/png") == 413
    # This link cannot deliver a document another application asked for.
    assert send(doc_b, "x.pdf", PDF, "application/pdf") == 403
    assert send(doc_a, "juminhyo.png", PNG, "application/octet-stream") == 303
    with ctx.sessions() as session:
        a = session.get(ApplicationDocument, doc_a)
        b = session.get(ApplicationDocument, doc_b)
        assert a is not None and b is not None
        assert a.content_type == "image/png" and a.data == PNG and a.size == len(PNG)
        assert b.uploaded_at is None and b.data is None


@pytest.mark.parametrize("body", [b"", b"GIF89a" + bytes(20)])
def test_empty_and_other_types_are_refused(
    client: TestClient, ctx: AppContext, city: MiniCity, body: bytes
) -> None:
    path_a, _, doc_a, _ = open_two(ctx, city)
    token = CSRF.search(client.get(path_a).text)
    assert token
    r = client.post(
        f"{path_a}/documents/{doc_a}",
        data={"csrf_token": token.group(1)},
        files={"file": ("x.gif", body, "image/gif")},
    )
    assert r.status_code == 415
