"""Forms during a call: start (pre-filled), save versions, push, confirm, sign, decline.

Every method works in the caller's transaction and never commits: a refusal
raises ``FormError`` before anything is flushed that the caller would keep
(the request's session rolls back when it closes), so nothing is half-stored.
Who may call what is decided by ``app.forms.access``; this module decides
what the form may do next. The contract is docs/forms.md.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.counter.models import QueueTicket
from app.forms.models import (
    Form,
    FormPush,
    FormSignature,
    FormState,
    FormVersion,
    PushState,
)
from app.forms.pdf import SignedBy, render_pdf
from app.forms.signature import SignatureRefused, check_signature
from app.forms.validation import FieldError, validate
from app.forms.view import build_view, canonical_json, view_hash
from app.tracker.audit import Actor, audit
from app.tracker.models import Application, ApplicationDocument
from app.tracker.service import ApplicationService, NewApplication
from app.tracker.workflow import FINAL
from scheduler.models import Booking, City, FormTemplate

log = logging.getLogger(__name__)

VOIDED_LABEL = "（署名無効）"


class FormError(Exception):
    """A refusal with a stable ``code`` and its HTTP ``status`` (docs/forms.md)."""

    def __init__(
        self, code: str, status: int, message: str, errors: list[FieldError] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.errors = errors or []


@dataclass(frozen=True, slots=True)
class Call:
    """The call a form is filled in for: a booked consultation or a walk-in ticket."""

    room: str
    booking: Booking | None = None
    ticket: QueueTicket | None = None

    @property
    def label(self) -> str:
        if self.ticket is not None:
            return f"受付番号 {self.ticket.number}（{self.ticket.day.isoformat()}）"
        assert self.booking is not None
        return f"予約 {self.booking.code}"


def _digits(phone: str | None) -> str | None:
    found = re.sub(r"\D", "", phone or "")
    return found or None


def _email(email: str | None) -> str | None:
    return (email or "").strip().lower() or None


def _prefill_fields(definition: Mapping[str, Any]) -> dict[str, str]:
    """prefill key -> top-level field name."""
    return {f["prefill"]: f["name"] for f in definition["fields"] if f.get("prefill")}


class Forms:
    """``applications`` files signed forms and notes their events (no department scope:
    who may act on a form was decided before, by ``app.forms.access``)."""

    def __init__(
        self, session: Session, now: datetime, tz: ZoneInfo, applications: ApplicationService
    ) -> None:
        self.session = session
        self.now = now
        self.tz = tz
        self.applications = applications

    # -- templates -------------------------------------------------------------------

    def templates(self, service_id: int | None = None) -> list[FormTemplate]:
        query = select(FormTemplate).where(FormTemplate.active.is_(True)).order_by(FormTemplate.id)
        if service_id is not None:
            query = query.where(FormTemplate.service_id == service_id)
        return list(self.session.scalars(query))

    def template(self, slug: str) -> FormTemplate:
        template = self.session.scalar(select(FormTemplate).where(FormTemplate.slug == slug))
        if template is None:
            raise FormError("template-not-found", 404, "No such form.")
        return template

    # -- starting a form ---------------------------------------------------------------

    def start(
        self,
        template: FormTemplate,
        call: Call,
        actor: Actor,
        application: Application | None = None,
    ) -> Form:
        if not template.active:
            raise FormError("template-not-found", 404, "No such form.")
        if application is not None and application.status_enum in FINAL:
            raise FormError("application-final", 409, "This application is closed; open a new one.")
        booking = call.booking
        phone = booking.resident_phone if booking else None
        email = booking.resident_email if booking else None
        definition = template.definition
        values = self._prefill(definition, booking, phone, email)
        form = Form(
            template_id=template.id,
            template_version=template.version,
            definition=definition,
            department_id=template.service.department_id,
            booking_id=booking.id if booking and call.ticket is None else None,
            ticket_id=call.ticket.id if call.ticket else None,
            room=call.room,
            application_id=application.id if application else None,
            version=1,
            state=FormState.DRAFT.value,
            values=values,
            match_phone=_digits(phone),
            match_email=_email(email),
            created_by=actor.staff_id,
            created_at=self.now,
            updated_at=self.now,
        )
        self.session.add(form)
        self.session.flush()
        self.session.add(
            FormVersion(
                form_id=form.id, version=1, values=values, staff_id=actor.staff_id, at=self.now
            )
        )
        audit(self.session, actor, "change", "form", form.id, self.now, f"started {template.slug}")
        self.session.flush()
        log.info("form %s (%s) started by %s", form.id, template.slug, actor.label)
        return form

    def _prefill(
        self,
        definition: Mapping[str, Any],
        booking: Booking | None,
        phone: str | None,
        email: str | None,
    ) -> dict[str, Any]:
        known: dict[str, Any] = {}
        if booking is not None:
            known = {"name": booking.resident_name, "phone": phone or "", "email": email or ""}
        wanted = _prefill_fields(definition)
        digits, mail = _digits(phone), _email(email)
        matches = []
        if digits:
            matches.append(Form.match_phone == digits)
        if mail:
            matches.append(Form.match_email == mail)
        if matches:
            earlier = self.session.scalars(
                select(Form)
                .where(or_(*matches), Form.erased_at.is_(None))
                .order_by(Form.updated_at.desc(), Form.id.desc())
                .limit(20)
            )
            for form in earlier:
                for key, name in _prefill_fields(form.definition).items():
                    value = form.values.get(name)
                    if value and not known.get(key):
                        known[key] = value
        if mail and not known.get("name"):
            earlier_name = self.session.scalar(
                select(Application.resident_name)
                .where(Application.resident_email == mail, Application.pseudonymised.is_(False))
                .order_by(Application.created_at.desc())
                .limit(1)
            )
            if earlier_name:
                known["name"] = earlier_name
        raw = {name: known[key] for key, name in wanted.items() if known.get(key)}
        # Whatever does not fit this form's rules is left for staff to type.
        return validate(definition, raw).values

    # -- staff edits -----------------------------------------------------------------------

    def _writable(self, form: Form) -> None:
        if form.erased_at is not None:
            raise FormError("form-erased", 409, "This form's data has been erased.")

    def _check_version(self, form: Form, version: int) -> None:
        if version != form.version:
            raise FormError(
                "version-conflict",
                409,
                "The form was changed meanwhile.",
            )

    def save(self, form: Form, version: int, values: Any, actor: Actor) -> list[FieldError]:
        """Store new values as the next version; returns what is still missing.

        Invalid values refuse the save (422 ``form-invalid``); an edit of a
        pushed form withdraws the push, of a signed form voids the signature.
        """
        self._writable(form)
        self._check_version(form, version)
        result = validate(form.definition, values)
        if result.invalid:
            raise FormError("form-invalid", 422, "Some answers are not valid.", result.invalid)
        if result.values == form.values:
            return result.missing  # an autosave with nothing new: no version
        self._withdraw(form, actor, reason=f"edited by {actor.label}")
        form.values = result.values
        form.version = version + 1
        form.state = FormState.DRAFT.value
        form.updated_at = self.now
        by_key = {
            key: result.values.get(name) for key, name in _prefill_fields(form.definition).items()
        }
        form.match_phone = _digits(by_key.get("phone")) or form.match_phone
        form.match_email = _email(by_key.get("email")) or form.match_email
        self.session.add(
            FormVersion(
                form_id=form.id,
                version=form.version,
                values=result.values,
                staff_id=actor.staff_id,
                at=self.now,
            )
        )
        audit(self.session, actor, "change", "form", form.id, self.now, f"version {form.version}")
        self._flush()
        return result.missing

    def _flush(self) -> None:
        try:
            self.session.flush()
        except StaleDataError:
            # Another request saved this form between our read and our write.
            raise FormError("version-conflict", 409, "The form was changed meanwhile.") from None

    def _withdraw(self, form: Form, actor: Actor, reason: str) -> None:
        """Close the live push and void a valid signature: the form changes under them."""
        push = self.latest_push(form)
        if push is not None and push.state == PushState.LIVE:
            push.state = PushState.SUPERSEDED.value
            push.decided_at = self.now
        signature = self.valid_signature(form)
        if signature is None:
            return
        signature.voided_at = self.now
        signature.void_reason = reason[:200]
        if signature.document_id is not None:
            doc = self.session.get(ApplicationDocument, signature.document_id)
            if doc is not None and not doc.label.endswith(VOIDED_LABEL):
                doc.label = (doc.label + VOIDED_LABEL)[-200:]
        application = self._application(form)
        if application is not None:
            self.applications.note(
                application, actor, "form-signature-voided", form=form.id, signature=signature.id
            )
        audit(
            self.session,
            actor,
            "change",
            "form",
            form.id,
            self.now,
            f"signature {signature.id} voided",
        )

    def _application(self, form: Form) -> Application | None:
        if form.application_id is None:
            return None
        return self.session.get(Application, form.application_id)

    # -- pushes -------------------------------------------------------------------------------

    def latest_push(self, form: Form) -> FormPush | None:
        return self.session.scalar(
            select(FormPush)
            .where(FormPush.form_id == form.id)
            .order_by(FormPush.id.desc())
            .limit(1)
        )

    def valid_signature(self, form: Form) -> FormSignature | None:
        return self.session.scalar(
            select(FormSignature)
            .where(FormSignature.form_id == form.id, FormSignature.voided_at.is_(None))
            .order_by(FormSignature.id.desc())
            .limit(1)
        )

    def signed_document(self, signature: FormSignature) -> ApplicationDocument | None:
        """The signed PDF as filed with the application (None once erased)."""
        if signature.document_id is None:
            return None
        return self.session.get(ApplicationDocument, signature.document_id)

    def signatures(self, form: Form) -> list[FormSignature]:
        return list(
            self.session.scalars(
                select(FormSignature)
                .where(FormSignature.form_id == form.id)
                .order_by(FormSignature.id)
            )
        )

    def render(self, form: Form) -> tuple[dict[str, Any], str, str]:
        """The form's view as it is now: (view, canonical JSON, hash)."""
        view = build_view(
            form.definition,
            form.values,
            form_id=form.id,
            version=form.version,
            template_version=form.template_version,
        )
        text = canonical_json(view)
        return view, text, view_hash(text)

    def push(self, form: Form, version: int, actor: Actor) -> FormPush:
        self._writable(form)
        self._check_version(form, version)
        if form.state == FormState.SIGNED:
            raise FormError("form-signed", 409, "The form is already signed; edit it first.")
        result = validate(form.definition, form.values)
        if result.errors:
            raise FormError(
                "form-incomplete", 422, "Fill in every required answer first.", result.errors
            )
        previous = self.latest_push(form)
        if previous is not None and previous.state == PushState.LIVE:
            previous.state = PushState.SUPERSEDED.value
            previous.decided_at = self.now
        view, text, digest = self.render(form)
        push = FormPush(
            form_id=form.id,
            form_version=form.version,
            view=text,
            view_hash=digest,
            page_count=len(view["pages"]),
            confirmed_pages=[],
            state=PushState.LIVE.value,
            staff_id=actor.staff_id,
            pushed_at=self.now,
        )
        self.session.add(push)
        form.state = FormState.PUSHED.value
        form.updated_at = self.now
        self._flush()
        audit(self.session, actor, "change", "form", form.id, self.now, f"pushed {digest}")
        self.session.flush()
        log.info("form %s: version %s pushed to the resident", form.id, form.version)
        return push

    # -- the resident ------------------------------------------------------------------------

    def _live(self, form: Form, given_hash: str) -> FormPush:
        """The push the resident acts on, checked against what they saw."""
        self._writable(form)
        push = self.latest_push(form)
        if push is None:
            raise FormError("form-not-pushed", 409, "This form has not been shown to you yet.")
        # The view must still be the form as it is now: what is signed is what is kept.
        current = self.render(form)[2]
        if (
            push.state == PushState.SUPERSEDED
            or push.view_hash != given_hash
            or current != given_hash
            or push.form_version != form.version
        ):
            raise FormError(
                "view-changed", 409, "The form was changed. Please check the new version."
            )
        if push.state != PushState.LIVE:
            raise FormError("push-closed", 409, "This form was already signed or declined.")
        return push

    def confirm_page(self, form: Form, given_hash: str, page: int) -> FormPush:
        push = self._live(form, given_hash)
        if not 0 <= page < push.page_count:
            raise FormError("page-not-found", 404, "No such page.")
        if page not in push.confirmed_pages:
            push.confirmed_pages = sorted([*push.confirmed_pages, page])
        audit(
            self.session,
            Actor(None),
            "change",
            "form",
            form.id,
            self.now,
            f"resident confirmed page {page + 1}",
        )
        self._flush()
        return push

    def decline(self, form: Form, given_hash: str) -> FormPush:
        push = self._live(form, given_hash)
        push.state = PushState.DECLINED.value
        push.decided_at = self.now
        form.state = FormState.DECLINED.value
        form.updated_at = self.now
        application = self._application(form)
        if application is not None:
            self.applications.note(application, None, "form-declined", form=form.id)
        audit(self.session, Actor(None), "change", "form", form.id, self.now, "resident declined")
        self._flush()
        return push

    def sign(
        self,
        form: Form,
        given_hash: str,
        png: bytes,
        city: str,
    ) -> FormSignature:
        """Signature, PDF, application and its document, in the caller's transaction."""
        push = self._live(form, given_hash)
        missing = set(range(push.page_count)) - set(push.confirmed_pages)
        if missing:
            pages = ", ".join(str(p + 1) for p in sorted(missing))
            raise FormError(
                "pages-not-confirmed", 409, f"Please confirm every page first (page {pages})."
            )
        try:
            check_signature(png)
        except SignatureRefused as exc:
            raise FormError(exc.code, 422, str(exc)) from None
        call = self.call_of(form)
        signature = FormSignature(
            form_id=form.id,
            push_id=push.id,
            view_hash=push.view_hash,
            image=png,
            image_size=len(png),
            signed_at=self.now,
            booking_id=form.booking_id,
            ticket_id=form.ticket_id,
            room=form.room,
        )
        self.session.add(signature)
        push.state = PushState.SIGNED.value
        push.decided_at = self.now
        form.state = FormState.SIGNED.value
        form.updated_at = self.now
        self._flush()
        view = json.loads(push.view)
        pdf = render_pdf(
            view,
            SignedBy(png, self.now, push.view_hash, call.label, city),
            self.tz,
        )
        application = self._application(form) or self._open_application(form, call)
        title = str(form.definition["title_ja"])
        doc = self.applications.file_document(
            application,
            f"{title}（署名済み）",
            f"{form.definition['slug']}-{form.id}-v{form.version}.pdf",
            "application/pdf",
            pdf,
            None,
            "form-signed",
            form=form.id,
            signature=signature.id,
        )
        signature.document_id = doc.id
        audit(
            self.session,
            Actor(None),
            "change",
            "form",
            form.id,
            self.now,
            f"resident signed {push.view_hash}",
        )
        self._flush()
        log.info("form %s signed; application %s", form.id, application.id)
        return signature

    def _open_application(self, form: Form, call: Call) -> Application:
        keys = {k: form.values.get(n) for k, n in _prefill_fields(form.definition).items()}
        booking = call.booking
        name = keys.get("name") or (booking.resident_name if booking else "") or "（氏名未記入）"
        email = keys.get("email") or (booking.resident_email if booking else None)
        application = self.applications.open(
            NewApplication(
                procedure=str(form.definition["title_ja"])[:120],
                resident_name=str(name)[:100],
                department_id=form.department_id,
                resident_email=str(email) if email else None,
                locale=booking.locale if booking else "ja",
            ),
            Actor(None),
        )
        form.application_id = application.id
        return application

    def call_of(self, form: Form) -> Call:
        ticket = self.session.get(QueueTicket, form.ticket_id) if form.ticket_id else None
        booking_id = form.booking_id or (ticket.booking_id if ticket else None)
        booking = self.session.get(Booking, booking_id) if booking_id else None
        return Call(room=form.room, booking=booking, ticket=ticket)

    def city_name(self) -> str:
        city = self.session.get(City, 1)
        return city.name_ja if city is not None else ""
