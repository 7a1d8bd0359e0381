"""Configuration: a TOML file plus `DISCORD_TOKEN` / `LEGNEXT_API_KEY` from the environment.

Secrets are `SecretStr` so they never show up in a repr, a log line or a validation error.
`load_config()` raises `ConfigError`, whose `problems` are one line per bad key.
"""

from __future__ import annotations

import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

_TOML_DATA: ContextVar[dict[str, Any] | None] = ContextVar("_TOML_DATA", default=None)

ENV_SECRETS = {"DISCORD_TOKEN": ("discord", "token"), "LEGNEXT_API_KEY": ("legnext", "api_key")}


def _require_secret(value: SecretStr, env: str) -> SecretStr:
    if not value.get_secret_value().strip():
        raise ValueError(f"missing: set it in the file or in the {env} environment variable")
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DiscordConfig(_Section):
    token: SecretStr = Field(default=SecretStr(""), validate_default=True)
    guild_ids: list[int] = Field(default_factory=list)
    # Leave empty to talk to Discord itself; set to use a REST proxy or a local test server.
    api_base_url: str = ""
    gateway_url: str = ""
    guild_ready_timeout_s: float = Field(default=2.0, ge=0, le=60)

    @field_validator("api_base_url")
    @classmethod
    def _api_url(cls, v: str) -> str:
        if v and not v.startswith(("http://", "https://")):
            raise ValueError("must be empty or start with http:// or https://")
        return v

    @field_validator("gateway_url")
    @classmethod
    def _gateway_url(cls, v: str) -> str:
        if v and not v.startswith(("ws://", "wss://")):
            raise ValueError("must be empty or start with ws:// or wss://")
        return v

    _token_present = field_validator("token")(lambda v: _require_secret(v, "DISCORD_TOKEN"))


class LegnextConfig(_Section):
    api_key: SecretStr = Field(default=SecretStr(""), validate_default=True)
    base_url: str = "https://api.legnext.ai/api"
    timeout_s: float = Field(default=30.0, gt=0, le=600)
    read_retries: int = Field(default=4, ge=0, le=20)
    # jobs the bot keeps running at the API at once; more wait in the bot's own fair queue
    concurrency: int = Field(default=6, ge=1, le=100)

    _key_present = field_validator("api_key")(lambda v: _require_secret(v, "LEGNEXT_API_KEY"))

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/")


class StorageConfig(_Section):
    database: str = "mjbot.sqlite3"

    @field_validator("database")
    @classmethod
    def _database(cls, v: str) -> str:
        # SQLite opens "" as a private temporary database: every job would be lost at the next start.
        if not v.strip():
            raise ValueError("must be the path of the SQLite file")
        return v


ButtonAccess = Literal["anyone", "requester", "requester_and_moderators"]


class JobsConfig(_Section):
    # Polling: nothing to see in the first seconds of a job, then poll faster near its expected end.
    poll_min_s: float = Field(default=2.0, gt=0, le=60)
    poll_max_s: float = Field(default=15.0, gt=0, le=600)
    # Time-outs per kind of task, in seconds, counted from when the API started processing the job.
    timeout_image_s: float = Field(default=900.0, gt=0)
    timeout_text_s: float = Field(default=300.0, gt=0)
    timeout_video_s: float = Field(default=2700.0, gt=0)
    # Waiting in the API's own queue (behind the account's concurrent jobs) has its own, much longer limit.
    timeout_queue_s: float = Field(default=21600.0, gt=0)
    # A job the API accepted but then answers 404 for is read again for this long before it is failed.
    not_found_grace_s: float = Field(default=300.0, ge=0)
    # Status reads failing without a break for this long end the job with "could not reach Legnext".
    read_failure_limit_s: float = Field(default=1800.0, gt=0)
    # Showing a finished job is retried with backoff up to this interval, and given up after delivery_give_up_s.
    delivery_retry_max_s: float = Field(default=300.0, gt=0)
    delivery_give_up_s: float = Field(default=86400.0, gt=0)
    # On SIGTERM, results being delivered get this long to finish before they are handed back to the next start.
    shutdown_grace_s: float = Field(default=5.0, ge=0, le=60)
    # At most one status edit per message every this many seconds (the final result is never held back).
    status_edit_interval_s: float = Field(default=5.0, ge=0)
    button_access: ButtonAccess = "anyone"
    # Download results and upload them as attachments, since the API's URLs expire.
    rehost_images: bool = True
    max_download_mb: float = Field(default=10.0, gt=0, le=500)
    # Images members give /describe and /blend: larger uploads are refused before any call.
    max_image_mb: float = Field(default=10.0, gt=0, le=100)

    @field_validator("poll_max_s")
    @classmethod
    def _poll_range(cls, v: float, info: ValidationInfo) -> float:
        low = info.data.get("poll_min_s")
        if low is not None and v < low:
            raise ValueError(f"must be at least poll_min_s ({low})")
        return v


class LimitsConfig(_Section):
    """Defaults for every server; moderators change them per server with /limits (kept in the database)."""

    running_per_member: int = Field(default=3, ge=1, le=50)
    queued_per_member: int = Field(default=10, ge=0, le=1000)
    member_daily_points: int = Field(default=0, ge=0)
    server_daily_points: int = Field(default=0, ge=0)
    allowed_role_ids: list[int] = Field(default_factory=list)
    allowed_channel_ids: list[int] = Field(default_factory=list)
    banned_words: list[str] = Field(default_factory=list)
    paused: bool = False

    @field_validator("banned_words")
    @classmethod
    def _words(cls, v: list[str]) -> list[str]:
        words = [" ".join(w.split()) for w in v]
        if any(not w for w in words):
            raise ValueError("must not contain empty words")
        if any(len(w) > 100 for w in words):
            raise ValueError("each word must be at most 100 characters")
        return words


class ModerationConfig(_Section):
    moderator_role_ids: list[int] = Field(default_factory=list)
    alert_channel_id: int = 0
    # one alert when the points the account can still spend (credits + bonus points) fall below this (0 = off);
    # checked every interval
    balance_alert_points: int = Field(default=0, ge=0)
    balance_check_interval_s: float = Field(default=900.0, gt=0)


class WebConfig(_Section):
    # "host:port" to serve /healthz, /metrics and Legnext's callbacks on (empty = no web server)
    listen: str = ""
    # the https URL at which Legnext reaches that server (behind a reverse proxy); enables callbacks
    public_url: str = ""

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        if not v:
            return v
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError('must be empty or "host:port", like "127.0.0.1:8080"')
        return v

    @field_validator("public_url")
    @classmethod
    def _public(cls, v: str) -> str:
        if v and not v.startswith(("http://", "https://")):
            raise ValueError("must be empty or start with https:// (or http://)")
        return v.rstrip("/")


class _TomlSource(PydanticBaseSettingsSource):
    """Feeds the parsed TOML file (held in a context variable) to pydantic-settings."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return (_TOML_DATA.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_TOML_DATA.get() or {})


class _EnvSecretsSource(PydanticBaseSettingsSource):
    """`DISCORD_TOKEN` and `LEGNEXT_API_KEY` win over the file."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for env, (section, key) in ENV_SECRETS.items():
            value = (os.environ.get(env) or "").strip()  # a trailing newline would break every call
            if value:
                out.setdefault(section, {})[key] = value
        return out


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="forbid", frozen=True)

    discord: DiscordConfig = Field(default_factory=dict, validate_default=True)
    legnext: LegnextConfig = Field(default_factory=dict, validate_default=True)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    jobs: JobsConfig = Field(default_factory=JobsConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    moderation: ModerationConfig = Field(default_factory=ModerationConfig)
    web: WebConfig = Field(default_factory=WebConfig)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, _EnvSecretsSource(settings_cls), _TomlSource(settings_cls))


class ConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


# Bounds for an operator's file (checked by `load_config` only): values outside make no sense on a real server and
# are refused with the allowed range. The models themselves refuse only what cannot work at all, so that tests (and
# the benchmark) can build `Settings` with jobs that time out in a second.
OPERATOR_RANGES: dict[tuple[str, str], tuple[float, float, str]] = {
    ("legnext", "timeout_s"): (1, 600, "seconds"),
    ("jobs", "timeout_image_s"): (60, 86400, "seconds"),
    ("jobs", "timeout_text_s"): (30, 86400, "seconds"),
    ("jobs", "timeout_video_s"): (60, 86400, "seconds"),
    ("jobs", "timeout_queue_s"): (60, 259200, "seconds"),  # up to the API's 3-day follow-up window
    ("jobs", "not_found_grace_s"): (0, 3600, "seconds"),
    ("jobs", "read_failure_limit_s"): (60, 86400, "seconds"),
    ("jobs", "delivery_retry_max_s"): (1, 3600, "seconds"),
    ("jobs", "delivery_give_up_s"): (60, 604800, "seconds"),
    # Discord takes uploads up to 10 MiB in a server without boosts, 50 MiB at boost level 2, 100 MiB at level 3;
    # a larger result is linked instead of attached anyway.
    ("jobs", "max_download_mb"): (1, 100, "MB"),
    ("moderation", "balance_check_interval_s"): (60, 86400, "seconds"),
}

# keys an older config.toml may still have, and where they live now
MOVED = {"jobs.max_running_per_member": "[limits] running_per_member"}

_TYPE_NAMES: tuple[tuple[type, str], ...] = (
    (bool, "true/false"), (int, "a number"), (float, "a number"), (str, "a string"), (list, "a list"),
)


def _kind_of(value: Any) -> str:
    for cls, name in _TYPE_NAMES:
        if isinstance(value, cls):
            return name
    return "a date or time" if value is not None else "empty"


def _number(v: float) -> str:
    return f"{v:g}"


def _out_of_range(data: dict[str, Any]) -> dict[str, str]:
    """`section.key` -> problem, for numbers in the file outside `OPERATOR_RANGES`."""
    out: dict[str, str] = {}
    for (section, key), (low, high, unit) in OPERATOR_RANGES.items():
        table = data.get(section)
        value = table.get(key) if isinstance(table, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not low <= value <= high:
            out[f"{section}.{key}"] = (f"{section}.{key}: must be between {_number(low)} and {_number(high)} {unit} "
                                       f"(not {_number(value)})")
    return out


def _describe(err: dict[str, Any], data: dict[str, Any] | None = None) -> str:
    loc = ".".join(str(p) for p in err.get("loc", ()))
    kind = err.get("type", "")
    if kind == "extra_forbidden" and loc in MOVED:
        return f"{loc}: moved to {MOVED[loc]} (rename it there)"
    if kind == "extra_forbidden":
        return f"{loc}: unknown key"
    if kind == "model_type" and len(err.get("loc", ())) == 1 and data is not None:  # `jobs = 5`: not a section
        return f"{loc}: must be a table (section), not {_kind_of(data.get(loc))}"
    msg = str(err.get("msg", "invalid value"))
    msg = msg.removeprefix("Value error, ")
    return f"{loc}: {msg}"


def _read_toml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError([f"{p}: config file not found (copy config.example.toml to start)"]) from None
    except OSError as e:
        raise ConfigError([f"{p}: cannot read the config file ({e.strerror})"]) from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError([f"{p}: not valid TOML ({e})"]) from None


# With `--simulator` the bot talks to the embedded simulator, which takes any key: none is needed in the file.
SIMULATOR_API_KEY = "embedded-simulator"


def load_config(path: str | Path, *, simulator: bool = False) -> Settings:
    """Read and check the config. Never puts a secret's value in an error. With `simulator`, `legnext.api_key` is
    not required (the caller points `legnext` at the embedded simulator)."""
    data = _read_toml(path)
    if simulator:
        legnext = data.get("legnext", {})
        if isinstance(legnext, dict) and not str(legnext.get("api_key") or "").strip():
            data = {**data, "legnext": {**legnext, "api_key": SIMULATOR_API_KEY}}
    ranges = _out_of_range(data)
    token = _TOML_DATA.set(data)
    try:
        settings = Settings()
    except ValidationError as e:
        problems: list[str] = []
        for err in e.errors(include_input=False):
            where = ".".join(str(p) for p in err.get("loc", ()))
            problems.append(ranges.pop(where, "") or _describe(dict(err), data))
        raise ConfigError(problems + list(ranges.values())) from None
    finally:
        _TOML_DATA.reset(token)
    if ranges:
        raise ConfigError(list(ranges.values()))
    return settings


def load_storage(path: str | Path) -> StorageConfig:
    """Only the `[storage]` section, for the operator's tools (`mjbot health`, `mjbot backup`): they need no
    secrets."""
    section = _read_toml(path).get("storage", {})
    if not isinstance(section, dict):
        raise ConfigError([f"storage: must be a table (section), not {_kind_of(section)}"])
    try:
        return StorageConfig(**section)
    except ValidationError as e:
        raise ConfigError([_describe({**dict(err), "loc": ("storage", *err.get("loc", ()))})
                           for err in e.errors(include_input=False)]) from None
