"""Mail to the resident about their application, written to the outbox."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.core.links import Links
from app.tracker.applications import Application
from app.tracker.workflow import ApplicationStatus
from scheduler.models import OutboxMail

STATUS_JA: dict[ApplicationStatus, str] = {
    ApplicationStatus.RECEIVED: "受付",
    ApplicationStatus.IN_PROGRESS: "対応中",
    ApplicationStatus.AWAITING_DOCUMENTS: "書類待ち",
    ApplicationStatus.COMPLETED: "完了",
    ApplicationStatus.REJECTED: "却下",
    ApplicationStatus.WITHDRAWN: "取下げ",
}
STATUS_EN: dict[ApplicationStatus, str] = {
    ApplicationStatus.RECEIVED: "received",
    ApplicationStatus.IN_PROGRESS: "in progress",
    ApplicationStatus.AWAITING_DOCUMENTS: "awaiting documents",
    ApplicationStatus.COMPLETED: "completed",
    ApplicationStatus.REJECTED: "rejected",
    ApplicationStatus.WITHDRAWN: "withdrawn",
}


class StatusMail:
    def __init__(self, session: Session, links: Links) -> None:
        self.session = session
        self.links = links

    def _queue(self, kind: str, app: Application, subject: str, body: str) -> None:
        if not app.resident_email:
            return
        self.session.add(
            OutboxMail(
                kind=kind,
                to_addr=app.resident_email,
                subject=subject,
                body=body,
                ics=None,
                created_at=app.updated_at,
                attempts=0,
            )
        )

    def opened(self, app: Application) -> None:
        url = self.links.application_url(app.id, app.reference)
        if app.locale == "en":
            subject = f"Your application {app.reference} was received"
            body = (
                f"{app.resident_name},\n\nWe received your application: {app.procedure}.\n"
                f"Reference: {app.reference}\n\n"
                f"Follow its status at any time (keep this link private): {url}\n"
            )
        else:
            subject = f"【申請受付】{app.procedure}（{app.reference}）"
            body = (
                f"{app.resident_name} 様\n\n次の申請を受け付けました：{app.procedure}\n"
                f"受付番号：{app.reference}\n\n"
                f"進み具合はいつでも次のリンクで確認できます（他の人に教えないでください）：{url}\n"
            )
        self._queue("application-opened", app, subject, body)

    def status_changed(self, app: Application, message: str) -> None:
        url = self.links.application_url(app.id, app.reference)
        status = app.status_enum
        if app.locale == "en":
            subject = f"Application {app.reference}: {STATUS_EN[status]}"
            body = (
                f"{app.resident_name},\n\n"
                f"Your application ({app.procedure}) is now {STATUS_EN[status]}.\n"
            )
            if message:
                body += f"\nMessage from the city office:\n{message}\n"
            body += f"\nDetails: {url}\n"
        else:
            subject = f"【申請状況】{app.procedure}：{STATUS_JA[status]}（{app.reference}）"
            body = (
                f"{app.resident_name} 様\n\n"
                f"申請（{app.procedure}）の状況が「{STATUS_JA[status]}」になりました。\n"
            )
            if message:
                body += f"\n担当からのメッセージ：\n{message}\n"
            body += f"\n詳しくはこちら：{url}\n"
        self._queue("application-status", app, subject, body)
