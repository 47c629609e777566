"""Runtime settings, read from ``MADOGUCHI_*`` environment variables."""

from __future__ import annotations

import logging
from functools import cached_property
from ipaddress import ip_network
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
    # How long a request waits for the database's write lock (SQLite) or a pooled
    # connection before it is answered 503 with Retry-After (docs/deploy.md).
    db_lock_timeout_seconds: float = Field(default=3.0, gt=0, le=30)
    redis_url: str | None = None
    secret_key: str | None = None
    timezone: str = "Asia/Tokyo"
    public_base_url: str = "http://127.0.0.1:8000"
    # Links for staff and kiosks (kiosk links and pairing, printed booking slips),
    # e.g. https://madoguchi.city.lan on the city network; empty means
    # public_base_url (docs/deploy.md, 三層の対策).
    internal_base_url: str = ""
    # CIDR allow-list for staff and admin pages and the staff JSON API, e.g.
    # MADOGUCHI_STAFF_NETWORKS='["10.20.0.0/16"]'; any other source address gets
    # 404. Empty: reachable from everywhere. Behind a proxy, set uvicorn's
    # FORWARDED_ALLOW_IPS to the proxy's address so the client's address is checked.
    staff_networks: list[str] = Field(default_factory=list)
    # "relay": staff consoles and kiosks send media only through TURN
    # (iceTransportPolicy "relay"), so no internal address leaves the city network.
    staff_ice_policy: str = Field(default="all", pattern="^(all|relay)$")
    host: str = "127.0.0.1"
    port: int = 8000
    signaling_host: str = "127.0.0.1"
    signaling_port: int = 8765
    # Where browsers reach signaling; empty means ws://signaling_host:signaling_port.
    signaling_public_url: str = ""
    # Signaling sockets per client address (docs/security.md, "Signaling connections"):
    # at most this many not joined yet at once, and new ones at this rate and burst.
    # One address may be a city hall's NAT in front of hundreds of staff consoles,
    # all reconnecting within seconds after a node restart; rate_limit_exempt_ips
    # below are not counted.
    signaling_unjoined_per_address: int = Field(default=200, ge=1)
    signaling_connections_per_second_per_address: float = Field(default=50.0, gt=0)
    signaling_connection_burst_per_address: int = Field(default=500, ge=1)
    # Proxies (addresses or networks, "*" for any) whose X-Forwarded-For names the
    # client on the signaling port; without it, every socket through a proxy
    # counts against the proxy's address.
    signaling_forwarded_allow_ips: list[str] = Field(default_factory=list)
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

    # -- the remote counter's queue and routing (app.counter) -------------------
    # An offer rings this long; unanswered, it goes to the next staff member.
    counter_offer_timeout_seconds: int = Field(default=20, ge=5, le=300)
    # Who declined a call (or let it ring out) is asked again, when nobody else
    # qualified is free, only this long after.
    counter_reoffer_after_seconds: int = Field(default=60, ge=0, le=3600)
    # A call waiting longer than this shows as escalated on the supervisor view.
    counter_escalate_after_minutes: int = Field(default=10, ge=1, le=240)
    # The wait estimate uses the median talk time of this many recent calls.
    counter_recent_calls: int = Field(default=20, ge=1, le=500)
    # ... or this, before any call was finished.
    counter_default_talk_minutes: int = Field(default=8, ge=1, le=120)
    # A console (or call page) that has not polled for this long counts as
    # offline: nothing rings at a closed browser.
    counter_presence_timeout_seconds: int = Field(default=60, ge=10, le=3600)

    # -- kiosk screens (app.kiosk, web.pages.kiosk) -----------------------------
    # Back to the start screen after this much inactivity (a warning shows first).
    kiosk_idle_seconds: int = Field(default=90, ge=20, le=3600)
    kiosk_warn_seconds: int = Field(default=20, ge=5, le=300)
    # After a call, the screen goes back to the start by itself after this long.
    kiosk_return_seconds: int = Field(default=30, ge=3, le=600)
    # How long an admin-issued kiosk link stays valid.
    kiosk_link_days: int = Field(default=365, ge=1, le=3650)
    # Shown to residents without a booking: where else they can get help.
    kiosk_phone: str = Field(default="", max_length=40)
    # Where residents book a time; empty means the site's own top page.
    kiosk_booking_url: str = Field(default="", max_length=300)
    # Device pairing (app.kiosk.devices): how long a pairing code is valid, and
    # how many wrong codes one client address may try per window.
    kiosk_pairing_minutes: int = Field(default=10, ge=1, le=1440)
    kiosk_pair_attempts: int = Field(default=5, ge=1, le=100)
    kiosk_pair_window_minutes: int = Field(default=15, ge=1, le=1440)
    # The kiosk page reports its device checks this often; the status board
    # raises the alert when a paired kiosk has been silent for longer.
    kiosk_heartbeat_seconds: int = Field(default=30, ge=5, le=600)
    kiosk_silent_alert_seconds: int = Field(default=120, ge=10, le=86400)

    # -- the opening-day rush queue (app.rush, docs/rush.md) -----------------------
    # Residents let through to booking per second, per rush service: set it to
    # what the deployment sustains (about a third of bench/booking_storm.py's
    # bookings per second, since each resident loads several pages to book).
    rush_admissions_per_second: float = Field(default=5.0, gt=0, le=1000)
    # An admitted resident has this long to book.
    rush_admission_minutes: int = Field(default=10, ge=1, le=120)
    # Admission pauses while this many admitted residents have neither booked
    # nor run out of time: slow bookings slow the queue down by themselves.
    rush_max_active: int = Field(default=200, ge=1, le=100_000)
    # How often (at most) one process looks for a free slot left in the horizon.
    rush_check_seconds: float = Field(default=5.0, ge=0.5, le=600)

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
        if self.staff_ice_policy == "relay" and not (self.turn_urls and self.turn_secret):
            raise ConfigurationError(
                "MADOGUCHI_STAFF_ICE_POLICY=relay needs a TURN server: set "
                "MADOGUCHI_TURN_URLS and MADOGUCHI_TURN_SECRET."
            )
        for network in self.staff_networks:
            try:
                ip_network(network, strict=False)
            except ValueError as exc:
                raise ConfigurationError(
                    f"MADOGUCHI_STAFF_NETWORKS: {network!r} is not a CIDR network ({exc})"
                ) from exc
        return self

    @model_validator(mode="after")
    def _kiosk_warns_before_reset(self) -> Settings:
        if self.kiosk_warn_seconds >= self.kiosk_idle_seconds:
            raise ValueError("MADOGUCHI_KIOSK_WARN_SECONDS must be below IDLE_SECONDS")
        if self.kiosk_silent_alert_seconds <= self.kiosk_heartbeat_seconds:
            raise ValueError("MADOGUCHI_KIOSK_SILENT_ALERT_SECONDS must be above HEARTBEAT_SECONDS")
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

    def internal_url(self) -> str:
        """The base URL of links for staff and kiosks."""
        return self.internal_base_url or self.public_base_url

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
