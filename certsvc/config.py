"""Settings: one frozen object, read from ``CERTSVC_*`` environment variables.

Every setting has an embedded default so that ``certsvc demo`` works on a fresh machine: an SQLite
file under the data folder, keys under ``keys/``, the web service on localhost. Production sets the
variables (see the README). ``certsvc config`` prints what is in force, secrets masked.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from certsvc.errors import ConfigError

ENV_PREFIX = "CERTSVC_"
BROKER_SCHEMES = ("redis", "rediss", "amqp", "amqps")
_QUEUE_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
MIN_PUBLICITY_WORKING_DAYS = 5


def _secret() -> Any:
    return field(default="", metadata={"secret": True})


@dataclass(frozen=True)
class Settings:
    """Settings in force. Build with :meth:`from_env`; tests pass overrides to it."""

    data_dir: Path = Path("data")
    database_url: str = ""  # empty: sqlite file in data_dir
    key_dir: Path = Path("keys")
    public_base_url: str = "http://localhost:8000"
    timezone: str = "Asia/Shanghai"
    publicity_working_days: int = 5
    calendar_overrides: Path | None = None
    agency_code: str = "BJRS"
    agency_name: str = "北京市人力资源和社会保障局"
    agency_region_code: str = "110000"
    actor: str = ""  # who the command line acts as; default: the OS user
    font_file: Path | None = None  # main CJK TrueType font; default: WenQuanYi Zen Hei
    fallback_font_files: str = ""  # os.pathsep-separated fonts for rare characters
    template_dir: Path | None = None  # document layouts; default: the package's own
    tsa_url: str = ""  # RFC 3161 timestamp authority: PAdES B-T (+LT) instead of B-B (+LT)
    store_dir: Path | None = None  # signed PDFs by content hash; default: data_dir/store
    batch_workers: int = 0  # processes signing a batch; 0: one per CPU
    # batch signing on Celery workers of any number of machines (certsvc.issuance.distributed)
    broker_url: str = ""  # redis://… or amqp://…; empty: batches sign on a local process pool
    broker_queue: str = "certsvc.sign"  # the signing queue `certsvc worker` consumes
    broker_timeout: int = 30  # seconds: broker and workers must answer, chunks come back
    sms_gateway_url: str = ""  # HTTP SMS gateway; empty: messages go to the outbox file
    sms_gateway_token: str = _secret()
    tsa_trust_roots: Path | None = None  # PEM bundle the TSA must chain to; default: the root
    secret_key: str = _secret()
    sql_echo: bool = False
    # the public verification web service (certsvc.web)
    ratelimit_storage_uri: str = "memory://"  # per process; redis://host:6379 to share limits
    web_rate_limits: bool = True  # off only for benchmarks
    web_rate_limit: str = "60 per minute"  # per client address, each verify page and API route
    web_lookup_rate_limit: str = "10 per minute"  # per client address, number + name look-ups
    web_max_upload_bytes: int = 5 * 1024 * 1024
    web_max_pages: int = 10  # an uploaded PDF with more pages is refused
    web_proxy_hops: int = 0  # reverse proxies in front whose X-Forwarded-For is trusted
    web_trust_cache_seconds: int = 60  # how long a process reuses the trust anchors it loaded
    web_count_flush_seconds: int = 10  # how often a process adds its verification counts
    # the holder pages (certsvc.web.holder): on only when secret_key is set
    holder_code_minutes: int = 5  # how long a sign-in code may be used
    holder_code_attempts: int = 5  # wrong codes before a code is dead
    holder_send_limit: str = "5 per hour;10 per day"  # codes per identity number and name
    holder_client_send_limit: str = "20 per hour"  # code requests per client address
    holder_verify_limit: str = "20 per 10 minutes"  # code attempts per client address
    holder_idle_minutes: int = 15  # a holder session ends after this long unused
    holder_session_minutes: int = 120  # and this long after sign-in, whatever happens
    # operations (deploy/README.md): logs and Prometheus metrics
    log_format: str = "text"  # json: one object per line
    log_level: str = ""  # empty: INFO for the web, WARNING for the command line
    log_requests: bool = True  # the web's one line per request (its access log)
    metrics_enabled: bool = False  # serve /metrics (only to metrics_allow)
    metrics_allow: str = "127.0.0.1/32,::1/128"  # networks /metrics answers
    metrics_textfile_dir: Path | None = None  # node_exporter textfile folder for batch runs

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read ``CERTSVC_<FIELD>`` variables; ``overrides`` win over the environment."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = ENV_PREFIX + f.name.upper()
            if f.name in overrides:
                values[f.name] = overrides.pop(f.name)
            elif env.get(name, "") != "":
                values[f.name] = _convert(name, env[name], f.type)
        if overrides:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(overrides))}")
        settings = cls(**values)
        settings._check()
        return settings

    def _check(self) -> None:
        if self.publicity_working_days < MIN_PUBLICITY_WORKING_DAYS:
            raise ConfigError(
                f"CERTSVC_PUBLICITY_WORKING_DAYS must be at least {MIN_PUBLICITY_WORKING_DAYS} "
                f"(the minimum publicity), not {self.publicity_working_days}"
            )
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"CERTSVC_TIMEZONE={self.timezone!r} is not an IANA time zone such as Asia/Shanghai"
            ) from None
        parts = urlsplit(self.public_base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                "CERTSVC_PUBLIC_BASE_URL must be an http(s) URL such as "
                f"https://zc.example.gov.cn, not {self.public_base_url!r}"
            )
        if self.batch_workers < 0:
            raise ConfigError(
                f"CERTSVC_BATCH_WORKERS must be 0 (one per CPU) or more, not {self.batch_workers}"
            )
        self._check_broker()
        if self.sms_gateway_url and urlsplit(self.sms_gateway_url).scheme not in ("http", "https"):
            raise ConfigError(
                f"CERTSVC_SMS_GATEWAY_URL must be an http(s) URL, not {self.sms_gateway_url!r}"
            )
        if self.tsa_url and urlsplit(self.tsa_url).scheme not in ("http", "https"):
            raise ConfigError(
                f"CERTSVC_TSA_URL must be an http(s) URL of an RFC 3161 timestamp authority, "
                f"not {self.tsa_url!r}"
            )
        if self.tsa_trust_roots is not None and not self.tsa_url:
            raise ConfigError(
                "CERTSVC_TSA_TRUST_ROOTS is set but CERTSVC_TSA_URL is not: the roots are "
                "used to check the timestamp authority, so set both or neither"
            )
        if self.web_max_upload_bytes < 1024:
            raise ConfigError(
                "CERTSVC_WEB_MAX_UPLOAD_BYTES must be at least 1024, "
                f"not {self.web_max_upload_bytes}"
            )
        for name in (
            "holder_code_minutes",
            "holder_code_attempts",
            "holder_idle_minutes",
            "holder_session_minutes",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(
                    f"{ENV_PREFIX}{name.upper()} must be 1 or more, not {getattr(self, name)}"
                )
        for name in (
            "web_max_pages",
            "web_proxy_hops",
            "web_trust_cache_seconds",
            "web_count_flush_seconds",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(
                    f"{ENV_PREFIX}{name.upper()} must be 0 or more, not {getattr(self, name)}"
                )
        _check_operations(self)
        if not self.agency_region_code.isdigit() or len(self.agency_region_code) != 6:
            raise ConfigError(
                "CERTSVC_AGENCY_REGION_CODE must be a 6-digit administrative division code "
                f"(GB/T 2260), not {self.agency_region_code!r}"
            )

    def _check_broker(self) -> None:
        if self.broker_url and urlsplit(self.broker_url).scheme not in BROKER_SCHEMES:
            raise ConfigError(
                "CERTSVC_BROKER_URL must be a Redis or RabbitMQ URL (redis://host:6379/0, "
                f"amqp://user:password@host:5672/vhost), not {mask_url_password(self.broker_url)!r}"
            )
        if not _QUEUE_NAME.fullmatch(self.broker_queue):
            raise ConfigError(
                "CERTSVC_BROKER_QUEUE must be 1-100 letters, digits, '.', '_' or '-', "
                f"not {self.broker_queue!r}"
            )
        if self.broker_timeout < 1:
            raise ConfigError(
                f"CERTSVC_BROKER_TIMEOUT must be at least 1 second, not {self.broker_timeout}"
            )

    @property
    def document_store_dir(self) -> Path:
        return self.store_dir if self.store_dir is not None else self.data_dir / "store"

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL in force: the configured one, or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'certsvc.sqlite3').resolve()}"

    def display(self) -> dict[str, str]:
        """Every setting as text, secrets masked, for ``certsvc config``."""
        shown: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("secret"):
                shown[f.name] = "(set, hidden)" if value else "(not set)"
            elif f.name == "database_url":
                shown[f.name] = mask_url_password(self.sqlalchemy_url)
            elif f.name in ("ratelimit_storage_uri", "broker_url"):
                shown[f.name] = mask_url_password(value)
            else:
                shown[f.name] = "" if value is None else str(value)
        return shown


LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _check_operations(settings: Settings) -> None:
    if settings.log_format not in LOG_FORMATS:
        raise ConfigError(f"CERTSVC_LOG_FORMAT must be json or text, not {settings.log_format!r}")
    if settings.log_level and settings.log_level.upper() not in LOG_LEVELS:
        raise ConfigError(
            f"CERTSVC_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {settings.log_level!r}"
        )
    metrics_networks(settings.metrics_allow)


def metrics_networks(text: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """``CERTSVC_METRICS_ALLOW`` as networks: comma-separated, e.g. ``127.0.0.1/32,10.0.0.0/8``."""
    networks = []
    for part in text.split(","):
        if not part.strip():
            continue
        try:
            networks.append(ip_network(part.strip()))
        except ValueError as exc:
            raise ConfigError(
                f"CERTSVC_METRICS_ALLOW: {part.strip()!r} is not a network such as 10.0.0.0/8 "
                f"({exc})"
            ) from None
    return tuple(networks)


def mask_url_password(url: str) -> str:
    """``postgresql://u:secret@h/db`` -> ``postgresql://u:***@h/db``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _convert(name: str, raw: str, annotation: Any) -> Any:
    kind = str(annotation)
    try:
        if kind == "int":
            return int(raw)
        if kind == "bool":
            lowered = raw.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError("expected true or false")
        if kind.startswith("Path"):
            return Path(raw).expanduser()
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not valid: {exc}") from exc
    return raw
