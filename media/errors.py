"""Exceptions of the media package.

MediaError                 base; ``code`` is stable and shown to clients
├── InvalidOffer           the SDP offer is missing, too large or unusable
├── TooManyChecks          the pre-call check is at its concurrent-session limit
├── UnknownCheck           no such check id (never existed, or forgotten)
└── ClientError            the Python client library could not join or resume
    └── SignalingRefused   the signaling server answered with an ``error`` frame
"""

from __future__ import annotations


class MediaError(Exception):
    code = "media-error"


class InvalidOffer(MediaError):
    code = "precheck-invalid-offer"


class TooManyChecks(MediaError):
    code = "precheck-busy"


class UnknownCheck(MediaError):
    code = "precheck-unknown"


class ClientError(MediaError):
    code = "client-error"


class SignalingRefused(ClientError):
    """The server sent ``error``; ``code`` is the server's code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
