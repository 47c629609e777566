"""Input shapes every layer validates alike: row ids, e-mail addresses, phone numbers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


PHONE_PATTERN = r"^\+?[0-9][0-9\- ]{6,18}[0-9]$"


# Row ids are 32-bit integers on PostgreSQL; a larger number can name no row
# and must be refused as input, not overflow the database driver.
MAX_ID = 2**31 - 1


# The same bound for ids in paths and query strings.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
