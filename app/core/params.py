"""Input shapes every layer validates alike: row ids, e-mail addresses, phone numbers."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import Path
from pydantic import BeforeValidator

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


PHONE_PATTERN = r"^\+?[0-9][0-9\- ]{6,18}[0-9]$"


# Row ids are 32-bit integers on PostgreSQL; a larger number can name no row
# and must be refused as input, not overflow the database driver.
MAX_ID = 2**31 - 1


# The same bound for ids in paths and query strings.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]


# Text that PostgreSQL can store (no NUL), as a JSON Schema pattern for the schema.
NO_NUL_PATTERN = r"^[^\u0000]*$"

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date_only(value: Any) -> Any:
    # pydantic also reads numbers as Unix times ("0" is 1970-01-01); the schema
    # promises a date like 2026-12-03, so only that form is taken from text.
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        raise ValueError("a date like 2026-12-03 is expected")
    if isinstance(value, int | float):
        raise ValueError("a date like 2026-12-03 is expected")
    return value


# A date in a query string or body, as ISO 8601 (YYYY-MM-DD) only.
IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]
