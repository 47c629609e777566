"""Message catalogs (gettext ``.po`` files read with Babel) and locale choice.

Catalogs are read from the ``.po`` sources at start-up, so no compile step is
needed to run from a checkout. Message ids are English.
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Callable
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


@cache
def _plural_index(locale: str) -> Callable[[int], int]:
    """The catalog's ``Plural-Forms`` rule: a count → the index of its form."""
    return _gettext.c2py(catalog(locale).plural_expr)


def ngettext(locale: str, singular: str, plural: str, count: int, **params: object) -> str:
    """The form of a message for ``count`` ("about 1 minute", "about 8 minutes"),
    by the catalog's gettext plural rule (Japanese has one form, English two).
    ``params`` fill the text, the count among them under its own name."""
    text = singular if count == 1 else plural
    if locale in LOCALES:
        entry = catalog(locale).get(singular)
        forms = entry.string if entry is not None else None
        if isinstance(forms, tuple | list) and forms:
            index = min(_plural_index(locale)(count), len(forms) - 1)
            if forms[index]:
                text = forms[index]
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
