"""Runtime settings, read from ``MADOGUCHI_*`` environment variables."""

from __future__ import annotations

import logging
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)

# Only ever used in demo mode, and announced loudly at start-up.
INSECURE_DEMO_SECRET = "insecure-demo-secret-do-not-use-in-production"  # noqa: S105


class ConfigurationError(RuntimeError):
    """The settings cannot run the app; the message says what to set."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MADOGUCHI_", extra="ignore")

    mode: str = Field(default="demo", pattern="^(demo|production)$")
    database_url: str = "sqlite:///./var/madoguchi.db"
    redis_url: str | None = None
    secret_key: str | None = None
    timezone: str = "Asia/Tokyo"
    public_base_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    signaling_host: str = "127.0.0.1"
    signaling_port: int = 8765
    # Where browsers reach signaling; empty means ws://signaling_host:signaling_port.
    signaling_public_url: str = ""
    # Japanese public holidays and the 12/29-1/3 closure are closed by default.
    close_on_holidays: bool = True
    close_year_end: bool = True
    # Join links open this long before the slot and stay valid this long after it.
    join_opens_before_minutes: int = 15
    join_grace_after_minutes: int = 30
    demo_data: bool = True
    # STUN/TURN URLs for browsers and server-side peers, e.g.
    # MADOGUCHI_ICE_SERVERS='["stun:stun.city.example:3478"]'. Empty: host candidates only.
    ice_servers: list[str] = Field(default_factory=list)
    # TURN with per-call credentials (TURN REST API; coturn `use-auth-secret`), e.g.
    # MADOGUCHI_TURN_URLS='["turn:turn.city.example:3478?transport=udp",
    # "turns:turn.city.example:5349?transport=tcp"]' and MADOGUCHI_TURN_SECRET equal to
    # coturn's static-auth-secret. Credentials expire after turn_ttl_minutes.
    turn_urls: list[str] = Field(default_factory=list)
    turn_secret: str | None = None
    turn_ttl_minutes: int = 180
    # Outgoing mail; with no host, mail waits in the outbox (visible to admins).
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    mail_from: str = "madoguchi@localhost"
    # Reminders before each booking, in minutes (default: the day before and 30 minutes before).
    reminder_offsets_minutes: list[int] = Field(default_factory=lambda: [24 * 60, 30])
    # How long a worker owns the outbox rows it claimed before another may take them.
    mail_lease_seconds: int = 300
    # Optional second channel (e.g. a LINE or SMS gateway): HMAC-signed JSON POSTs.
    webhook_url: str | None = None
    webhook_secret: str | None = None
    # Photos and pushed documents of a call are deleted this long after its end.
    document_retention_days: int = Field(default=30, ge=0)
    # Staff console login sessions.
    session_max_age_minutes: int = 8 * 60
    # ...and logged out after this long without a request (docs/security.md).
    session_idle_minutes: int = 60
    # Abuse limits, counted in Redis when redis_url is set (docs/security.md).
    rate_limit_bookings_per_ip: int = 120  # per 10 minutes; many residents share a NAT
    rate_limit_bookings_per_email: int = 10  # per hour
    rate_limit_token_requests_per_ip: int = 300  # per minute, signed-link endpoints
    login_max_failures: int = 5  # per account, then locked for login_lockout_minutes
    login_max_failures_per_ip: int = 50  # per login_lockout_minutes
    login_lockout_minutes: int = 15
    kiosk_max_wrong_codes: int = 10  # per kiosk per 10 minutes
    # Per-IP limits skip these (local jobs, health checks, a same-host proxy whose
    # forwarded addresses are not trusted); per-email and per-account limits still apply.
    rate_limit_exempt_ips: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    # Application status changes are POSTed here, signed with the secret
    # (X-Madoguchi-Signature: sha256=HMAC-SHA256 of the body).
    tracker_webhook_url: str | None = None
    tracker_webhook_secret: str | None = None
    # Personal data in session records and applications older than this is
    # erased or pseudonymised by the jobs loop; 0 keeps it forever.
    retention_days: int = Field(default=0, ge=0)
    # API keys of other municipal systems, as "login:sha256-hex-digest" (app/auth/api_keys.py).
    api_keys: list[str] = Field(default_factory=list)
    # LINE Messaging API (docs/line.md): the official account's channel. Without a
    # secret, POST /line/webhook answers 404; without a token nothing is pushed.
    line_channel_secret: str | None = None
    line_channel_access_token: str | None = None
    # LINE's own hosts by default; tests point both at a stand-in platform.
    line_api_base_url: str = "https://api.line.me"
    line_api_data_base_url: str = "https://api-data.line.me"
    # Signed webhook events older than this are refused as replays.
    line_event_max_age_minutes: int = Field(default=24 * 60, ge=1)
    # Wrong booking codes or check answers per LINE user, per hour.
    line_link_max_failures: int = Field(default=5, ge=1)
    # LINE Login (OpenID Connect) channel of the LIFF app opening the booking pages.
    line_login_channel_id: str | None = None
    line_login_channel_secret: str | None = None
    line_login_issuer: str = "https://access.line.me"
    # Discovery document; empty means ``{issuer}/.well-known/openid-configuration``.
    line_login_discovery_url: str = ""
    line_liff_id: str | None = None
    # Staff sign-in through the city's directory (Entra ID, Keycloak …), docs/security.md.
    staff_oidc_discovery_url: str | None = None
    staff_oidc_client_id: str | None = None
    staff_oidc_client_secret: str | None = None
    # The ID-token claim whose value is the staff login (e.g. preferred_username, email).
    staff_oidc_login_claim: str = "preferred_username"
    staff_password_login: bool = True

    @model_validator(mode="after")
    def _require_secret_in_production(self) -> Settings:
        if self.mode == "production" and not self.secret_key:
            raise ConfigurationError(
                "MADOGUCHI_SECRET_KEY must be set in production mode "
                "(a long random string, e.g. `python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))'`)."
            )
        if self.mode == "production" and self.secret_key == INSECURE_DEMO_SECRET:
            raise ConfigurationError("MADOGUCHI_SECRET_KEY must not be the demo secret.")
        ZoneInfo(self.timezone)  # fail early on an unknown zone
        return self

    @property
    def effective_secret(self) -> str:
        if self.secret_key:
            return self.secret_key
        log.warning(
            "INSECURE: no MADOGUCHI_SECRET_KEY set; using the public demo secret. "
            "Anyone can forge links. Never run like this with real residents."
        )
        return INSECURE_DEMO_SECRET

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def signaling_url(self) -> str:
        if self.signaling_public_url:
            return self.signaling_public_url
        return f"ws://{self.signaling_host}:{self.signaling_port}/ws"

    def line_login_discovery(self) -> str:
        if self.line_login_discovery_url:
            return self.line_login_discovery_url
        return self.line_login_issuer.rstrip("/") + "/.well-known/openid-configuration"

    def sqlite_path(self) -> Path | None:
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix):
            return Path(self.database_url[len(prefix) :])
        return None
