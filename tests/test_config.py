"""Settings from the environment: defaults, conversion, validation, masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from certsvc.config import Settings, mask_url_password
from certsvc.errors import ConfigError


def test_defaults_give_an_sqlite_file_in_the_data_folder() -> None:
    settings = Settings.from_env({})
    assert settings.sqlalchemy_url.startswith("sqlite:///")
    assert settings.sqlalchemy_url.endswith("/data/certsvc.sqlite3")
    assert settings.publicity_working_days == 5


def test_environment_values_are_converted() -> None:
    settings = Settings.from_env(
        {
            "CERTSVC_DATA_DIR": "/srv/certsvc",
            "CERTSVC_PUBLICITY_WORKING_DAYS": "7",
            "CERTSVC_SQL_ECHO": "yes",
            "CERTSVC_CALENDAR_OVERRIDES": "/etc/certsvc/cal.toml",
        }
    )
    assert settings.data_dir == Path("/srv/certsvc")
    assert settings.publicity_working_days == 7
    assert settings.sql_echo is True
    assert settings.calendar_overrides == Path("/etc/certsvc/cal.toml")


@pytest.mark.parametrize(
    ("env", "phrase"),
    [
        ({"CERTSVC_PUBLICITY_WORKING_DAYS": "five"}, "CERTSVC_PUBLICITY_WORKING_DAYS='five'"),
        ({"CERTSVC_PUBLICITY_WORKING_DAYS": "4"}, "at least 5"),
        ({"CERTSVC_TIMEZONE": "Mars/Base"}, "IANA time zone"),
        ({"CERTSVC_SQL_ECHO": "maybe"}, "true or false"),
        ({"CERTSVC_PUBLIC_BASE_URL": "zc.example.gov.cn"}, "http(s) URL"),
        ({"CERTSVC_AGENCY_REGION_CODE": "11"}, "6-digit"),
        ({"CERTSVC_BROKER_URL": "kafka://u:pw@h:9092"}, "u:***@h"),
        ({"CERTSVC_BROKER_QUEUE": "sign queue"}, "CERTSVC_BROKER_QUEUE"),
        ({"CERTSVC_BROKER_TIMEOUT": "0"}, "at least 1 second"),
    ],
    ids=[
        "not-a-number",
        "four-days",
        "unknown-time-zone",
        "not-a-bool",
        "url-without-scheme",
        "region-code",
        "broker-scheme",
        "queue-name",
        "broker-timeout",
    ],
)
def test_bad_values_are_refused_by_name(env: dict[str, str], phrase: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert phrase in str(caught.value)


def test_unknown_override_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown setting"):
        Settings.from_env({}, colour="red")


def test_display_masks_secrets_and_database_passwords() -> None:
    settings = Settings.from_env(
        {
            "CERTSVC_SECRET_KEY": "s3cret-value",
            "CERTSVC_DATABASE_URL": "postgresql://certsvc:hunter2@db.internal/certsvc",
            "CERTSVC_BROKER_URL": "amqp://certsvc:rabbit-pw@mq.internal:5672/certsvc",
        }
    )
    shown = settings.display()
    assert "s3cret-value" not in str(shown) and "hunter2" not in str(shown)
    assert "rabbit-pw" not in str(shown)
    assert shown["broker_url"] == "amqp://certsvc:***@mq.internal:5672/certsvc"
    assert shown["secret_key"] == "(set, hidden)"
    assert shown["database_url"] == "postgresql://certsvc:***@db.internal/certsvc"


def test_mask_leaves_urls_without_password_alone() -> None:
    assert mask_url_password("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
