"""The form validator against the shared cases (the browser's validator runs the same file)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from app.forms.validation import validate
from app.forms.wareki import format_wareki, parse_date

CASES = json.loads(
    (Path(__file__).parents[2] / "forms" / "validation_cases.json").read_text(encoding="utf-8")
)


@pytest.mark.parametrize("case", CASES["dates"], ids=lambda c: c["input"] or "(empty)")
def test_dates(case: dict[str, Any]) -> None:
    parsed = parse_date(case["input"])
    if "iso" in case:
        assert parsed is not None and parsed.isoformat() == case["iso"]
    else:
        assert parsed is None


@pytest.mark.parametrize("case", CASES["cases"], ids=lambda c: c["name"])
def test_cases(case: dict[str, Any]) -> None:
    result = validate(case["definition"], case["values"])
    assert [{"path": e.path, "code": e.code} for e in result.errors] == case["errors"]
    assert result.values == case["normalised"]


def test_the_shared_file_covers_the_era_boundaries() -> None:
    inputs = {c["input"]: c.get("iso") for c in CASES["dates"]}
    assert inputs["平成31年4月30日"] == "2019-04-30"
    assert inputs["令和元年5月1日"] == "2019-05-01"
    assert inputs["平成31年5月1日"] is None
    assert inputs["令和元年4月30日"] is None
    assert inputs["令和0年5月1日"] is None


@pytest.mark.parametrize(
    ("day", "text"),
    [
        (date(2019, 4, 30), "平成31年4月30日"),
        (date(2019, 5, 1), "令和元年5月1日"),
        (date(2025, 4, 1), "令和7年4月1日"),
        (date(1989, 1, 7), "昭和64年1月7日"),
        (date(1989, 1, 8), "平成元年1月8日"),
        (date(1926, 12, 25), "昭和元年12月25日"),
        (date(1912, 7, 30), "大正元年7月30日"),
        (date(1872, 12, 31), "1872年12月31日"),
    ],
)
def test_format_wareki_round_trips(day: date, text: str) -> None:
    assert format_wareki(day) == text
    if day.year > 1872:
        assert parse_date(text) == day


def test_incomplete_and_invalid_are_told_apart() -> None:
    definition = CASES["cases"][0]["definition"]
    result = validate(definition, {"name": "", "born": "令和0年1月1日"})
    assert [e.code for e in result.missing] == ["required"]
    assert [e.code for e in result.invalid] == ["invalid-date"]


def test_values_that_are_not_an_object() -> None:
    result = validate(CASES["cases"][0]["definition"], ["name"])
    assert [(e.path, e.code) for e in result.errors] == [("", "wrong-type")]
