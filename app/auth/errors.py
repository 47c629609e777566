"""Errors of staff authentication, mapped to 401/403 (JSON) or the login page (HTML)."""

from __future__ import annotations


class NotLoggedIn(Exception):
    pass


class Forbidden(Exception):
    pass
