"""The Messaging API clients of ``line-bot-sdk``, pointed at the configured hosts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.core.settings import Settings

if TYPE_CHECKING:
    from linebot.v3.messaging import ApiClient, MessagingApi, MessagingApiBlob

# line-bot-sdk takes seconds to import: it is loaded when a client is made,
# which only a city with a LINE channel access token does.


class LineNotConfigured(RuntimeError):
    """MADOGUCHI_LINE_CHANNEL_ACCESS_TOKEN is not set."""


def _client(settings: Settings, host: str) -> ApiClient:
    from linebot.v3.messaging import ApiClient, Configuration

    token = settings.line_channel_access_token
    if not token:
        raise LineNotConfigured("MADOGUCHI_LINE_CHANNEL_ACCESS_TOKEN is not set")
    return ApiClient(Configuration(host=host.rstrip("/"), access_token=token))


def messaging_api(settings: Settings) -> MessagingApi:
    from linebot.v3.messaging import MessagingApi

    return MessagingApi(_client(settings, settings.line_api_base_url))


def blob_api(settings: Settings) -> MessagingApiBlob:
    """Rich menu images go to the data host (api-data.line.me)."""
    from linebot.v3.messaging import MessagingApiBlob

    return MessagingApiBlob(_client(settings, settings.line_api_data_base_url))
