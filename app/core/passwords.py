"""Password hashing (argon2) for staff logins: one hasher with the library's defaults."""

from __future__ import annotations

from argon2 import PasswordHasher

hasher = PasswordHasher()
