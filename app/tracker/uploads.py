"""Checks on a resident's upload: size limit and type by content, not by name."""

from __future__ import annotations

import filetype

MAX_BYTES = 10 * 1024 * 1024
# What a municipal counter accepts: scans and photos of documents.
ALLOWED = {
    "application/pdf": ".pdf",
    "image/jpeg": ".jpg",
    "image/png": ".png",
}


class UploadRefused(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_upload(data: bytes, *, max_bytes: int = MAX_BYTES) -> str:
    """The detected MIME type of ``data``, or ``UploadRefused``."""
    if not data:
        raise UploadRefused("empty", "The file is empty.")
    if len(data) > max_bytes:
        raise UploadRefused("too-large", "The file is too large.")
    kind = filetype.guess(data)
    mime = kind.mime if kind is not None else None
    if mime not in ALLOWED:
        raise UploadRefused("type", "Only PDF, JPEG and PNG files can be sent.")
    return str(mime)
