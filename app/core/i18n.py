"""Message catalogs (gettext ``.po`` files read with Babel) and locale choice.

Catalogs are read from the ``.po`` sources at start-up, so no compile step is
needed to run from a checkout. Message ids are English.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

LOCALES = ("ja", "en")
DEFAULT_LOCALE = "ja"
LOCALE_DIR = Path(__file__).parent / "locale"


@cache
def catalog(locale: str) -> Catalog:
    path = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        return read_po(fh, locale=locale)


def gettext(locale: str, message: str, **params: object) -> str:
    text = message
    if locale in LOCALES:
        entry = catalog(locale).get(message)
        if entry is not None and entry.string and isinstance(entry.string, str):
            text = entry.string
    return text.format(**params) if params else text


def negotiate(explicit: str | None, accept_language: str | None) -> str:
    """An explicit choice (query/cookie) wins, then the browser's preference."""
    if explicit in LOCALES:
        return explicit
    if accept_language:
        for part in accept_language.split(","):
            tag = part.split(";")[0].strip().lower()
            base = tag.split("-")[0]
            if base in LOCALES:
                return base
    return DEFAULT_LOCALE
