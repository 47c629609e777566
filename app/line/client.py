"""The Messaging API clients of ``line-bot-sdk``, pointed at the configured hosts."""

from __future__ import annotations

from linebot.v3.messaging import ApiClient, Configuration, MessagingApi, MessagingApiBlob

from app.core.settings import Settings


class LineNotConfigured(RuntimeError):
    """MADOGUCHI_LINE_CHANNEL_ACCESS_TOKEN is not set."""


def _client(settings: Settings, host: str) -> ApiClient:
    token = settings.line_channel_access_token
    if not token:
        raise LineNotConfigured("MADOGUCHI_LINE_CHANNEL_ACCESS_TOKEN is not set")
    return ApiClient(Configuration(host=host.rstrip("/"), access_token=token))


def messaging_api(settings: Settings) -> MessagingApi:
    return MessagingApi(_client(settings, settings.line_api_base_url))


def blob_api(settings: Settings) -> MessagingApiBlob:
    """Rich menu images go to the data host (api-data.line.me)."""
    return MessagingApiBlob(_client(settings, settings.line_api_data_base_url))
