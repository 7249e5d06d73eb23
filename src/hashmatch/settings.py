"""Every setting in one pydantic-settings object, layered: defaults < file < environment < flags.

    settings = Settings.load({"database_url": flag_value}, config_file=path)

Each field's environment variable is ``HASHMATCH_<NAME>`` (lists as JSON:
``HASHMATCH_URL_ALLOWED_HOSTS='["images.example.com"]'``).  The config file is
TOML with the same names (``data_dir = "..."``), read from ``--config`` or
``HASHMATCH_CONFIG``.  docs/settings.md is generated from the fields
(``python -m hashmatch.settings``) and a test keeps it current.  Library code
takes a :class:`Settings` object and never reads the environment itself.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from hashmatch.errors import ConfigurationError, HubKeyError
from hashmatch.statements.fields import EU_MEMBER_STATES, LANGUAGE, TERRITORIAL_SCOPE

ENV_PREFIX = "HASHMATCH_"
CONFIG_ENV = "HASHMATCH_CONFIG"
MiB = 1024 * 1024
#: NCMEC's CyberTipline Reporting API: the test environment is the default.
TEST_CYBERTIP_URL = "https://exttest.cybertip.org/ispws"
PRODUCTION_CYBERTIP_URL = "https://report.cybertip.org/ispws"

# The config file's values while Settings.load builds an object (sources are
# chosen per class, so the file reaches them this way rather than as a field).
_config_values: ContextVar[dict[str, Any] | None] = ContextVar(
    "hashmatch_config_values", default=None
)


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/hashmatch``, else ``~/.local/share/hashmatch``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "hashmatch"


def is_loopback(host: str) -> bool:
    """Whether a listen address only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    # -- storage ---------------------------------------------------------------
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Folder for the SQLite database and index snapshots "
        "(default: ~/.local/share/hashmatch).",
    )
    database_url: str = Field(
        "",
        description="Database URL, sqlite:///... or postgresql://...; "
        "empty: SQLite in the data folder.",
    )

    # -- server ----------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address `hashmatch serve` listens on.")
    port: int = Field(5100, ge=1, le=65535, description="Port `hashmatch serve` listens on.")
    workers: int = Field(1, ge=1, le=256, description="Worker processes of `hashmatch serve`.")
    max_upload_bytes: int = Field(64 * MiB, ge=1, description="Largest upload accepted.")
    max_batch: int = Field(1000, ge=1, description="Most hashes in one batch lookup.")
    rate_limit_per_second: float = Field(
        0.0,
        ge=0,
        description="Requests per second allowed per API key in each worker (0: no limit).",
    )
    rate_limit_burst: int = Field(
        100, ge=1, description="Requests a key may make at once before the rate limit applies."
    )
    log_format: Literal["text", "json"] = Field(
        "text",
        description="How the server writes its log, the access log's one line per request "
        "included: `text` for people, `json` for one JSON object per line.",
    )
    hma_without_key: bool = Field(
        False,
        description="Serve the HMA-compatible routes (/h, /m, /c) without an API key; "
        "only allowed when listening on a loopback address.",
    )

    # -- decoding, per upload or download (`hashmatch hash` has its own flags) ----
    max_decode_bytes: int = Field(
        256 * MiB, ge=1, description="Largest file the server decodes as an image or a video."
    )
    max_image_pixels: int = Field(
        50_000_000,
        ge=1,
        description="Largest image the server decodes, in pixels (width x height), "
        "checked before decoding.",
    )
    max_video_pixels: int = Field(
        7680 * 4320,
        ge=1,
        description="Largest video frame the server decodes, in pixels; "
        "every frame is checked, not only the header.",
    )
    max_video_seconds: float = Field(
        600.0, gt=0, description="Longest video the server hashes, in seconds of video."
    )
    max_decode_seconds: float = Field(
        60.0, gt=0, description="Longest the server spends decoding one video, in seconds."
    )
    match_query_cleanup: bool = Field(
        True,
        description="When matching an uploaded image, also hash it with a uniform border "
        'or a plain caption band removed; matches found only so say `"query": "cleaned"`.',
    )

    # -- hashing by URL ----------------------------------------------------------
    url_fetch: bool = Field(False, description="Allow hashing and matching content by URL.")
    url_allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts URLs may name, optionally with a port (`cdn.example:8443`, "
        "`[2001:db8::1]:443`; without one, any port); a leading '.' allows subdomains; "
        "empty: any host.",
    )
    url_allow_private: bool = Field(
        False,
        description="Allow URLs that resolve to private, loopback or link-local addresses "
        "(or to IPv6 addresses that carry such an IPv4 address: NAT64, 6to4, ...).",
    )
    url_max_bytes: int = Field(64 * MiB, ge=1, description="Largest download accepted.")
    url_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="Longest a download may take in all: connecting, the response's "
        "headers and body, and every redirect.",
    )

    # -- submissions, rules and webhooks -----------------------------------------
    keep_media: bool = Field(
        False,
        description="Keep a submission's uploaded bytes for review and reporting, encrypted "
        "(AES-256-GCM), unless the submission says otherwise; needs `media_key_file` or "
        "`media_key_command`.",
    )
    media_key_file: Path | None = Field(
        None,
        description="File holding the media encryption key: 32 random bytes, base64 "
        "(`hashmatch media-key new` writes one).",
    )
    media_key_command: str = Field(
        "",
        description="Command that prints the media encryption key (base64), for a key kept "
        "in a secrets manager; run once at start-up.",
    )
    submission_dedupe_hours: float = Field(
        24.0,
        gt=0,
        description="A submission repeating a `content_ref` or `Idempotency-Key` within this "
        "many hours gets the first one's answer, and no action runs twice.",
    )
    submission_retention_days: float = Field(
        0.0,
        ge=0,
        description="Submissions older than this many days are deleted with their matches, "
        "review items, appeals, events and statements, unless a CyberTipline report holds "
        "them or a review, report request or appeal is still open (audited); 0: kept.",
    )
    submission_metadata_bytes: int = Field(
        16 * 1024, ge=2, description="Largest `metadata` object a submission may carry (JSON)."
    )
    deliver_in_serve: bool = Field(
        True,
        description="Deliver webhooks from `hashmatch serve`; off when a separate "
        "`hashmatch worker` does it.",
    )
    delivery_concurrency: int = Field(
        16, ge=1, le=256, description="Webhook deliveries in flight at once, per process."
    )
    webhook_timeout_seconds: float = Field(
        10.0, gt=0, description="Longest a webhook receiver may take to answer, in all."
    )
    webhook_max_attempts: int = Field(
        12, ge=1, description="Attempts per delivery before it is dead-lettered."
    )
    webhook_backoff_seconds: float = Field(
        2.0, gt=0, description="Wait before a delivery's first retry; doubled each time."
    )
    webhook_backoff_max_seconds: float = Field(
        3600.0, gt=0, description="Longest wait between retries (before jitter)."
    )
    exchange_opinion_max_attempts: int = Field(
        10,
        ge=1,
        description="Tries of an opinion sent back to an exchange before it is marked failed.",
    )
    exchange_opinion_backoff_seconds: float = Field(
        60.0, gt=0, description="Wait before an opinion's first retry; doubled each time."
    )
    exchange_opinion_backoff_max_seconds: float = Field(
        6 * 3600.0, gt=0, description="Longest wait between an opinion's retries (before jitter)."
    )
    webhook_secret_grace_hours: float = Field(
        24.0,
        ge=0,
        description="After a webhook's secret is rotated, deliveries are also signed with the "
        "old one for this long.",
    )
    delivery_log_days: float = Field(
        30.0, gt=0, description="How long the log of each delivery attempt is kept."
    )

    # -- people signing in to the web UI ---------------------------------------
    ui_session_idle_minutes: int = Field(
        30, ge=1, description="A web UI session unused for this many minutes ends."
    )
    ui_session_max_hours: int = Field(
        12, ge=1, description="A web UI session ends this many hours after sign-in, used or not."
    )
    ui_login_delay_after: int = Field(
        3,
        ge=1,
        description="From this many failed sign-ins in a row, a name waits before its next "
        "try: 1 second, then twice as long after each failure, up to 60.",
    )
    ui_login_lockout_failures: int = Field(
        10, ge=2, description="This many failed sign-ins in a row lock the name out."
    )
    ui_login_lockout_minutes: int = Field(
        15,
        ge=1,
        description="How long a lockout lasts (`hashmatch users enable` or `reset-password` "
        "ends it sooner).",
    )
    ui_password_min_length: int = Field(
        12, ge=8, description="Fewest characters in a web UI user's password."
    )
    ui_totp_required_roles: list[str] = Field(
        default_factory=list,
        description="Roles whose users must sign in with a second factor (TOTP codes from an "
        'authenticator app), e.g. `["admin", "reviewer"]`; they enrol at their next sign-in.',
    )

    # -- the review queue and moderator wellness ---------------------------------
    review_claim_minutes: int = Field(
        5,
        ge=1,
        description="A claimed review item goes back to its queue after this many idle minutes.",
    )
    review_sla_minutes: int = Field(
        1440,
        ge=1,
        description="A review item is due this many minutes after it is queued, in a queue "
        "without its own SLA.",
    )
    appeal_due_hours: int = Field(
        72,
        ge=1,
        le=366 * 24,
        description="An appeal is due this many hours after hashmatch receives it.",
    )
    review_blur_px: int = Field(
        16, ge=1, le=64, description="How strongly review media is blurred, by default (pixels)."
    )
    review_blur_min_px: int = Field(
        8,
        ge=1,
        le=64,
        description="The least blur a reviewer may choose for themselves (pixels).",
    )
    review_grayscale: bool = Field(
        True, description="Review media is shown in grayscale, by default."
    )
    review_color_allowed: bool = Field(
        False,
        description="Whether a reviewer may turn grayscale off for themselves.",
    )
    review_reveal_seconds: int = Field(
        4,
        ge=1,
        le=60,
        description="How long a revealed item stays clear before it is blurred again, by default.",
    )
    review_reveal_max_seconds: int = Field(
        10,
        ge=1,
        le=120,
        description="The longest reveal a reviewer may choose for themselves (seconds).",
    )
    review_daily_reveal_cap: int = Field(
        200,
        ge=1,
        description="Reveals per reviewer per day (UTC); more are refused with a clear message.",
    )
    review_break_minutes: int = Field(
        45,
        ge=1,
        description="After this long working the queue without a pause, the reviewer is "
        "reminded to take a break.",
    )

    # -- reporting to NCMEC's CyberTipline ---------------------------------------
    cybertip_url: str = Field(
        TEST_CYBERTIP_URL,
        description="The CyberTipline Reporting API. The default is NCMEC's test environment; "
        f"reports reach NCMEC for real only when this says `{PRODUCTION_CYBERTIP_URL}` "
        "(and `serve` says so loudly).",
    )
    cybertip_username: str = Field("", description="The Reporting API user NCMEC gave you.")
    cybertip_password: SecretStr = Field(
        SecretStr(""),
        description="Its password (set it in the environment, `HASHMATCH_CYBERTIP_PASSWORD`, "
        "or the config file; never logged).",
    )
    cybertip_enabled: bool = Field(
        False,
        description="File reports: the worker takes report requests (a rule's or a reviewer's) "
        "and files them. Off: reports wait as drafts for a person to file.",
    )
    cybertip_timeout_seconds: float = Field(
        60.0, gt=0, description="Longest one call to the Reporting API may take."
    )
    cybertip_incident_type: str = Field(
        "Child Pornography (possession, manufacture, and distribution)",
        description="`incidentType` of every report.",
    )
    cybertip_reporter_first_name: str = Field("", description="`reportingPerson` first name.")
    cybertip_reporter_last_name: str = Field("", description="`reportingPerson` last name.")
    cybertip_reporter_email: str = Field("", description="`reportingPerson` email.")
    cybertip_reporter_phone: str = Field("", description="`reportingPerson` phone (optional).")
    cybertip_contact_first_name: str = Field(
        "", description="`contactPerson` first name (optional: a contact other than the reporter)."
    )
    cybertip_contact_last_name: str = Field("", description="`contactPerson` last name.")
    cybertip_contact_email: str = Field("", description="`contactPerson` email.")
    cybertip_contact_phone: str = Field("", description="`contactPerson` phone.")
    cybertip_terms_of_service: str = Field(
        "", description="`termsOfService`: the platform's terms, as text or a link."
    )
    cybertip_legal_url: str = Field(
        "", description="`legalURL`: where law enforcement sends legal process."
    )
    cybertip_additional_info_url: str = Field(
        "",
        description='The platform\'s "additional info" webhook, asked synchronously (signed '
        "like webhooks) for the reported user's screen name, emails, IP capture events and "
        "profile URL when a report is built; empty: the submission metadata only.",
    )
    cybertip_additional_info_secret: SecretStr = Field(
        SecretStr(""),
        description="Secret the additional-info webhook's requests are signed with "
        "(`Hashmatch-Signature`, as webhook deliveries are).",
    )
    report_keep_confirmed_days: float = Field(
        30.0,
        ge=0,
        description="A confirmed item's kept media waits this long for its report (a rule's, "
        'or a person pressing "Report to NCMEC"), then is purged (audited) if it was '
        "never reported.",
    )
    cybertip_max_files_per_report: int = Field(
        50, ge=1, le=1000, description="Most files in one report (a batch of one user's items)."
    )

    # -- evidence preservation ------------------------------------------------------
    evidence_store: str = Field(
        "",
        description="Where preserved evidence goes: a folder, or an fsspec URL such as "
        "`s3://bucket/prefix` (the `s3` extra); empty: `evidence` in the data directory.",
    )
    evidence_key_file: Path | None = Field(
        None,
        description="File holding the evidence master key (32 random bytes, base64; "
        "`hashmatch media-key new` writes one). Each object gets its own data key, "
        "wrapped by this one.",
    )
    evidence_key_command: str = Field(
        "",
        description="Command that prints the evidence master key (base64); run once at start-up.",
    )
    evidence_retention_days: int = Field(
        365,
        ge=365,
        description="How long a finished report's evidence is kept (at least the one year "
        "18 U.S.C. 2258A(h) asks for); legal holds keep it longer.",
    )
    transparency_instance_name: str = Field(
        "",
        max_length=200,
        description="The platform's name on its transparency reports (empty: none).",
    )

    # -- statements of reasons (EU Digital Services Act) --------------------------
    dsa_statements_enabled: bool = Field(
        False,
        description="Write a statement of reasons for each decision that restricts content "
        "and send it to the DSA Transparency Database (docs/statements.md).",
    )
    dsa_api_url: str = Field(
        "https://transparency.dsa.ec.europa.eu",
        description="The DSA Transparency Database's base URL (`/api/v1/statements` is added).",
    )
    dsa_api_token: SecretStr = Field(
        SecretStr(""),
        description="The platform's API token (set it in the environment, "
        "`HASHMATCH_DSA_API_TOKEN`, or the config file; never logged).",
    )
    dsa_platform_puid_prefix: str = Field(
        "hashmatch",
        pattern=r"^[A-Za-z0-9_-]{1,100}$",
        description="Start of each statement's platform unique id (letters, digits, - and _).",
    )
    dsa_territorial_scope: list[str] = Field(
        default_factory=lambda: list(EU_MEMBER_STATES),
        min_length=1,
        description="Where the decisions apply: EU/EEA country codes (default: every EU state).",
    )
    dsa_content_language: str = Field(
        "", description="Two-letter ISO 639-1 code of the platform's content (empty: not said)."
    )
    dsa_timeout_seconds: float = Field(
        30.0, gt=0, description="Longest wait for the DSA Transparency Database's answer."
    )
    dsa_max_attempts: int = Field(
        10, ge=1, description="Tries of a statement (5xx, 429, no answer) before it is failed."
    )
    dsa_backoff_seconds: float = Field(
        60.0, gt=0, description="Wait before a statement's first retry; doubled each time."
    )

    # -- coalition hub (docs/hub.md) ------------------------------------------------
    hub_enabled: bool = Field(
        False,
        description="Run as the coalition hub: `hashmatch serve` adds the hub's routes "
        "(/v1/hub), pages and membership jobs.",
    )
    hub_dues_grace_days: int = Field(
        30,
        ge=0,
        description="Days after a member's dues fall due, unpaid, before its sharing "
        "access lapses.",
    )
    hub_applications_per_hour: int = Field(
        10,
        ge=1,
        description="Applications to join the hub one client address may send per hour "
        "(the one route that takes no API key).",
    )
    hub_lapse_check_minutes: float = Field(
        60.0,
        gt=0,
        description="How often `hashmatch serve` checks members for unpaid dues and "
        "overdue re-attestation (hub_enabled).",
    )
    hub_share_confirmed: bool = Field(
        False,
        description="Share the hashes of uploads a reviewer confirms with the hub, through "
        "the taxii exchange (`hashmatch hub share-confirmed`; docs/hub-member.md).",
    )
    hub_share_labels: list[str] = Field(
        default_factory=lambda: ["A1", "A2"],
        description="The classifications (A1, A2, B1, B2) whose confirmed decisions "
        "hub_share_confirmed shares.",
    )
    hub_share_confirmed_minutes: float = Field(
        5.0,
        gt=0,
        description="How often `hashmatch serve` (with deliver_in_serve) and `hashmatch "
        "worker` share newly confirmed decisions when hub_share_confirmed is on.",
    )
    hub_share_settle_seconds: float = Field(
        30.0,
        ge=0,
        description="A confirmed decision is shared once it is this old, so a review "
        "transaction still committing is never passed over (hub_share_confirmed).",
    )
    identifier_keys: list[SecretStr] = Field(
        default_factory=list,
        description="The coalition's identifier keys (base64url of 32 bytes each), newest "
        "first, for email addresses and usernames shared as keyed hashes. On a hub "
        "(hub_enabled) the first is the one handed to members (`hashmatch hub identifier-key "
        "new` makes one); on a member every key is used to match its users' emails and "
        "usernames against keyed values (`hashmatch hub identifier-key fetch` gets the hub's).",
    )

    @field_validator("url_allowed_hosts")
    @classmethod
    def _host_entries(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            host_and_port(entry)
        return entries

    @field_validator("identifier_keys")
    @classmethod
    def _identifier_keys(cls, keys: list[SecretStr]) -> list[SecretStr]:
        from hashmatch.hub.identifiers import parse_keys

        try:
            parse_keys(keys)
        except HubKeyError as error:  # says which key and why, never the key itself
            raise ValueError(str(error)) from None
        return keys

    @field_validator("dsa_territorial_scope")
    @classmethod
    def _dsa_countries(cls, codes: list[str]) -> list[str]:
        unknown = [code for code in codes if code not in TERRITORIAL_SCOPE]
        if unknown:
            raise ValueError(f"{unknown} are not EU/EEA country codes (such as DE, FR)")
        return codes

    @field_validator("dsa_content_language")
    @classmethod
    def _dsa_language(cls, code: str) -> str:
        if code and not LANGUAGE.fullmatch(code):
            raise ValueError(f"{code!r} is not an upper-case two-letter ISO 639-1 code")
        return code

    @field_validator("ui_totp_required_roles")
    @classmethod
    def _known_roles(cls, roles: list[str]) -> list[str]:
        from hashmatch.accounts.roles import ROLES

        unknown = [role for role in roles if role not in ROLES]
        if unknown:
            raise ValueError(f"unknown roles {unknown}: roles are {', '.join(ROLES)}")
        return roles

    @model_validator(mode="after")
    def _keyless_only_on_loopback(self) -> Settings:
        if self.hma_without_key and not is_loopback(self.host):
            raise ValueError(
                f"hma_without_key is only allowed on a loopback address, not {self.host}"
            )
        return self

    @model_validator(mode="after")
    def _kept_media_needs_a_key(self) -> Settings:
        if self.keep_media and self.media_key_file is None and not self.media_key_command:
            raise ValueError(
                "keep_media is on but no media key is set: set media_key_file or "
                "media_key_command (docs/submissions.md, 'Kept media')"
            )
        return self

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database_url:
            default = f"sqlite:///{self.data_dir.expanduser() / 'hashmatch.db'}"
            object.__setattr__(self, "database_url", default)
        object.__setattr__(self, "data_dir", self.data_dir.expanduser())
        return self

    @property
    def snapshot_dir(self) -> Path:
        """Index snapshots of this database (one folder per database URL)."""
        key = hashlib.sha256(self.database_url.encode()).hexdigest()[:16]
        return self.data_dir / "index" / key

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = InitSettingsSource(settings_cls, init_kwargs=_config_values.get() or {})
        return (init_settings, env_settings, config_file)

    @classmethod
    def load(
        cls, flags: Mapping[str, object | None] | None = None, *, config_file: Path | None = None
    ) -> Settings:
        """Resolve every setting from its layers (a None flag means "not given")."""
        path = config_file or (Path(os.environ[CONFIG_ENV]) if CONFIG_ENV in os.environ else None)
        given: dict[str, Any] = {
            name: value for name, value in (flags or {}).items() if value is not None
        }
        token = _config_values.set(_read_config(path) if path is not None else {})
        try:
            return cls(**given)
        except ValidationError as error:
            raise ConfigurationError(f"invalid settings: {_problems(error)}") from None
        except SettingsError as error:  # an environment variable that is not JSON where a list is
            raise ConfigurationError(f"invalid settings: {error} (a list is JSON there)") from None
        finally:
            _config_values.reset(token)

    def overridden(self, flags: Mapping[str, object | None]) -> Settings:
        """These settings with a subcommand's flags on top (a None flag: not given)."""
        given = {name: value for name, value in flags.items() if value is not None}
        try:
            return Settings.model_validate({**self.model_dump(), **given})
        except ValidationError as error:
            raise ConfigurationError(f"invalid settings: {_problems(error)}") from None


def host_and_port(entry: str) -> tuple[str, int | None]:
    """An allowlist entry as (host, port or None): ``"cdn.example:8443"``,
    ``".example.com"``, ``"[2001:db8::1]:443"`` or a bare IPv6 address."""
    host, port = entry.strip().lower(), ""
    if host.startswith("["):
        host, _, rest = host[1:].partition("]")
        if rest and (not rest.startswith(":") or rest == ":"):
            raise ValueError(f"{entry!r}: expected [address]:port")
        port = rest[1:]
    elif host.count(":") == 1:
        host, port = host.split(":")
    if not host or (port and not (port.isdigit() and 1 <= int(port) <= 65535)):
        raise ValueError(f"{entry!r}: expected a host name, or host:port with a port number")
    return host.rstrip("."), int(port) if port else None


def _problems(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors()
    )


def _read_config(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except OSError as error:
        raise ConfigurationError(f"{path}: cannot read config file: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"{path}: not valid TOML: {error}") from None
    unknown = set(data) - set(Settings.model_fields)
    if unknown:
        raise ConfigurationError(f"{path}: unknown settings: {', '.join(sorted(unknown))}")
    return data


def reference() -> str:
    """Markdown for docs/settings.md: every setting, its variable, default and meaning."""
    lines = [
        "# hashmatch settings",
        "",
        "Generated by `python -m hashmatch.settings`. Each setting comes from, in rising",
        "order: its default, the TOML config file (`--config` or `HASHMATCH_CONFIG`), the",
        "environment variable, and the command-line flag where a command has one.",
        "Lists are JSON in the environment. The decoding limits (`max_decode_bytes` to",
        "`max_decode_seconds`) are the server's, for each upload or download; `hashmatch",
        "hash` has flags of its own for them, with larger defaults.",
        "",
        "| setting | environment | default | what it is |",
        "|---|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        # A secret's default is not worth printing (nor printable).
        printable = field.default_factory is None and not isinstance(field.default, SecretStr)
        default = json.dumps(field.default) if printable else ""
        if field.default_factory is list:
            default = "[]"
        lines.append(
            f"| `{name}` | `{ENV_PREFIX}{name.upper()}` | {f'`{default}`' if default else ''} "
            f"| {field.description} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(reference(), end="")
