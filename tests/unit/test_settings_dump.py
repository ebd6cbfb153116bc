"""dump_settings / read_settings: a server hands its settings to a child process as one JSON
line, and the child gets exactly those back, whatever its own environment says."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pytest

from wayfare.config import Settings, dump_settings, load_settings, read_settings
from wayfare.errors import InvalidRequestError

NON_DEFAULT = Settings(
    host="0.0.0.0",
    port=9123,
    data_dir=Path("/var/lib/wayfare data"),
    public_url=None,
    admin_token="s3cret\nwith a newline",
    insecure_no_admin_token=True,
    demo=True,
    max_request_bytes=2048,
    inlet_rate_limit=12.5,
    inlet_rate_burst=3.0,
    max_pending_messages=7,
    fsync=False,
    smtp_host="mail.example.com",
    smtp_port=2525,
    smtp_from="journeys@example.com",
    action_rate_per_host=0.25,
    action_allow=("127.0.0.1:8080", "hooks.internal"),
    actions_per_host=4,
    engine_process=False,
    action_worker=False,
    test_wait_seconds=0.5,
    journey_failure_limit=3,
    cache_ttl_seconds=0.0,
)


def test_the_defaults_come_back_equal() -> None:
    assert read_settings(dump_settings(Settings())) == Settings()


def test_non_default_values_come_back_equal_with_their_types() -> None:
    back = read_settings(dump_settings(NON_DEFAULT))

    assert back == NON_DEFAULT
    assert isinstance(back.data_dir, Path)
    assert back.data_dir == Path("/var/lib/wayfare data")
    assert back.public_url is None
    assert back.base_url == "http://0.0.0.0:9123"
    assert back.fsync is False
    assert isinstance(back.inlet_rate_limit, float)
    assert isinstance(back.port, int)


def test_every_setting_is_in_the_dump() -> None:
    assert set(json.loads(dump_settings(NON_DEFAULT))) == {f.name for f in fields(Settings)}


def test_a_public_url_and_a_relative_data_dir_come_back_equal() -> None:
    settings = Settings(public_url="https://ingest.example.com/", data_dir=Path("rel/dir"))

    back = read_settings(dump_settings(settings))

    assert back == settings
    assert back.base_url == "https://ingest.example.com"


def test_settings_from_load_settings_come_back_equal(tmp_path: Path) -> None:
    settings = load_settings({"data_dir": tmp_path, "port": 8181}, environ={})

    assert read_settings(dump_settings(settings)) == settings


def test_the_dump_is_one_line_even_when_a_value_holds_a_newline() -> None:
    # the child reads its settings as the first line of its stdin
    dumped = dump_settings(NON_DEFAULT)

    assert "\n" not in dumped
    assert read_settings(dumped).admin_token == "s3cret\nwith a newline"


def test_read_settings_ignores_wayfare_environment_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "wayfare.toml"
    config.write_text('smtp_host = "from-the-file"\n')
    monkeypatch.setenv("WAYFARE_PORT", "9999")
    monkeypatch.setenv("WAYFARE_ADMIN_TOKEN", "from-the-environment")
    monkeypatch.setenv("WAYFARE_CONFIG", str(config))
    # the variables are in effect for load_settings...
    from_environment = load_settings()
    assert from_environment.port == 9999
    assert from_environment.admin_token == "from-the-environment"
    assert from_environment.smtp_host == "from-the-file"

    # ...but not for read_settings
    assert read_settings(dump_settings(Settings())) == Settings()
    assert read_settings(dump_settings(NON_DEFAULT)) == NON_DEFAULT


def test_read_settings_refuses_a_setting_it_does_not_know() -> None:
    with pytest.raises(InvalidRequestError, match="unknown setting"):
        read_settings('{"port": 8080, "colour": "blue"}')
