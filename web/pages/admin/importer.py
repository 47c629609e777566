"""Admin page: upload a city YAML file (``madoguchi import`` from the browser).

The file goes through the same validation and importer as the CLI. It is all
or nothing: any problem lists every error with its line and nothing is
written; otherwise the one commit makes the whole file visible at once.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
from fastapi import APIRouter, Request, Response
from starlette.datastructures import UploadFile

from app.admin.service import IMPORT_MAX_BYTES
from app.auth.deps import CurrentAdmin
from app.core.passwords import hasher
from scheduler.errors import ImportFileError
from scheduler.models import Staff
from web.pages.admin.support import FormDep, admin_page, checked_form, service_of
from web.pages.staff.auth import StaffPageRoute

log = logging.getLogger(__name__)
router = APIRouter(route_class=StaffPageRoute, include_in_schema=False)


def _page(
    request: Request, admin: Staff, context: dict[str, Any], *, status_code: int = 200
) -> Response:
    values: dict[str, Any] = {"problems": [], "error": None, "report": None, "filename": ""}
    values.update(context)
    return admin_page(request, admin, "admin/import.html", values, status_code=status_code)


@router.get("/admin/import")
def import_page(request: Request, admin: CurrentAdmin) -> Response:
    return _page(request, admin, {})


@router.post("/admin/import")
async def import_upload(request: Request, admin: CurrentAdmin, form: FormDep) -> Response:
    checked_form(request, admin, form)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _page(request, admin, {"error": "Choose a YAML file."}, status_code=422)
    data = await upload.read(IMPORT_MAX_BYTES + 1)
    filename = upload.filename.rsplit("/", 1)[-1]
    if len(data) > IMPORT_MAX_BYTES:
        context = {"error": "The file is too large.", "filename": filename}
        return _page(request, admin, context, status_code=422)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _page(
            request,
            admin,
            {"error": "The file is not UTF-8 text.", "filename": filename},
            status_code=422,
        )
    return await _run_import(request, admin, text, filename)


async def _run_import(request: Request, admin: Staff, text: str, filename: str) -> Response:
    # The import (and its argon2 hashing) runs in a worker thread with its own
    # writer session, not on the event loop.
    ctx = request.app.state.ctx

    def work() -> tuple[dict[str, Any], int]:
        with ctx.writer_sessions() as session:
            svc = service_of(session, ctx)
            try:
                report = svc.import_yaml(admin, text, filename, hasher)
            except ImportFileError as exc:
                session.rollback()
                log.info(
                    "admin %s: city file refused with %d problems", admin.id, len(exc.problems)
                )
                problems = [
                    {"line": line or "", "field": field, "message": message}
                    for line, field, message in exc.problems
                ]
                return {"problems": problems, "filename": filename}, 422
            session.commit()
            return {"report": report.kinds(), "filename": filename}, 200

    context, status = await anyio.to_thread.run_sync(work)
    return _page(request, admin, context, status_code=status)
