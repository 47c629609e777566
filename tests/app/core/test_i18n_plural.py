"""Counted texts (``app.core.i18n.ngettext``): the catalogs' plural rules."""

from __future__ import annotations

from app.core.i18n import ngettext

ONE, MANY = "Estimated wait: about {n} minute", "Estimated wait: about {n} minutes"


def test_english_has_a_singular_and_a_plural() -> None:
    assert ngettext("en", ONE, MANY, 1, n=1) == "Estimated wait: about 1 minute"
    assert ngettext("en", ONE, MANY, 2, n=2) == "Estimated wait: about 2 minutes"
    assert ngettext("en", ONE, MANY, 0, n=0) == "Estimated wait: about 0 minutes"


def test_japanese_has_one_form() -> None:
    assert ngettext("ja", ONE, MANY, 1, n=1) == "待ち時間の目安：約1分"
    assert ngettext("ja", ONE, MANY, 12, n=12) == "待ち時間の目安：約12分"


def test_a_message_not_in_the_catalog_falls_back_to_the_english_forms() -> None:
    assert ngettext("ja", "{n} apple", "{n} apples", 1, n=1) == "1 apple"
    assert ngettext("xx", "{n} apple", "{n} apples", 3, n=3) == "3 apples"
    # Without parameters the form itself, for the browser to fill in.
    assert ngettext("en", ONE, MANY, 1) == ONE
