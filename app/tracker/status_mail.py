"""Mail to the resident about their application, written to the outbox."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.core.links import Links
from app.core.outbox import OutboxMail
from app.tracker.models import Application
from app.tracker.workflow import ApplicationStatus

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

    def _queue(self, kind: str, application: Application, subject: str, body: str) -> None:
        if not application.resident_email:
            return
        self.session.add(
            OutboxMail(
                kind=kind,
                to_addr=application.resident_email,
                subject=subject,
                body=body,
                ics=None,
                created_at=application.updated_at,
                attempts=0,
                locale=application.locale,
                application_id=application.id,
            )
        )

    def opened(self, application: Application) -> None:
        url = self.links.application_url(application.id, application.reference)
        if application.locale == "en":
            subject = f"Your application {application.reference} was received"
            body = (
                f"{application.resident_name},\n\n"
                f"We received your application: {application.procedure}.\n"
                f"Reference: {application.reference}\n\n"
                f"Follow its status at any time (keep this link private): {url}\n"
            )
        else:
            subject = f"【申請受付】{application.procedure}（{application.reference}）"
            body = (
                f"{application.resident_name} 様\n\n"
                f"次の申請を受け付けました：{application.procedure}\n"
                f"受付番号：{application.reference}\n\n"
                f"進み具合はいつでも次のリンクで確認できます（他の人に教えないでください）：{url}\n"
            )
        self._queue("application-opened", application, subject, body)

    def status_changed(self, application: Application, message: str) -> None:
        url = self.links.application_url(application.id, application.reference)
        status = application.status_enum
        if application.locale == "en":
            subject = f"Application {application.reference}: {STATUS_EN[status]}"
            body = (
                f"{application.resident_name},\n\n"
                f"Your application ({application.procedure}) is now {STATUS_EN[status]}.\n"
            )
            if message:
                body += f"\nMessage from the city office:\n{message}\n"
            body += f"\nDetails: {url}\n"
        else:
            subject = (
                f"【申請状況】{application.procedure}：{STATUS_JA[status]}"
                f"（{application.reference}）"
            )
            body = (
                f"{application.resident_name} 様\n\n"
                f"申請（{application.procedure}）の状況が「{STATUS_JA[status]}」になりました。\n"
            )
            if message:
                body += f"\n担当からのメッセージ：\n{message}\n"
            body += f"\n詳しくはこちら：{url}\n"
        self._queue("application-status", application, subject, body)

    def document_requested(self, application: Application, label: str, message: str) -> None:
        url = self.links.application_url(application.id, application.reference)
        if application.locale == "en":
            subject = f"Application {application.reference}: please send a document"
            body = (
                f"{application.resident_name},\n\n"
                f"For your application ({application.procedure}) we need: {label}\n"
            )
            if message:
                body += f"\nMessage from the city office:\n{message}\n"
            body += f"\nUpload it here: {url}\n"
        else:
            subject = f"【書類のお願い】{application.procedure}（{application.reference}）"
            body = (
                f"{application.resident_name} 様\n\n"
                f"申請（{application.procedure}）について、次の書類をお送りください：{label}\n"
            )
            if message:
                body += f"\n担当からのメッセージ：\n{message}\n"
            body += f"\nこちらから提出できます：{url}\n"
        self._queue("application-document", application, subject, body)
