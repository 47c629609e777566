"""The Jinja2 environment shared by every page, with per-request translations.

Templates write ``{{ _("English text") }}``; ``render`` binds ``_`` to the
request's locale, so the same template serves Japanese and English and Babel
can extract every message (``babel.cfg``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from app.core.i18n import LOCALES, gettext, negotiate, ngettext

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.autoescape = True


def page_locale(request: Request) -> str:
    return negotiate(
        request.query_params.get("lang") or request.cookies.get("lang"),
        request.headers.get("accept-language"),
    )


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    locale = page_locale(request)

    def _(message: str, **params: object) -> str:
        return gettext(locale, message, **params)

    def ngettext_(singular: str, plural: str, count: int, **params: object) -> str:
        return ngettext(locale, singular, plural, count, **params)

    other = "en" if locale == "ja" else "ja"
    # Keep the page's own parameters (e.g. the chosen time) when switching language.
    switched = request.url.include_query_params(lang=other)
    switch_url = f"{switched.path}?{switched.query}"
    ctx: dict[str, Any] = {
        "_": _,
        "ngettext": ngettext_,
        "locale": locale,
        "locales": LOCALES,
        "lang_switch_url": switch_url,
    }
    if context:
        ctx.update(context)
    response = templates.TemplateResponse(request, template, ctx, status_code=status_code)
    explicit = request.query_params.get("lang")
    if explicit in LOCALES:
        # Remember an explicit language choice for the next visits.
        response.set_cookie("lang", explicit, max_age=365 * 24 * 3600, samesite="lax")
    return response
