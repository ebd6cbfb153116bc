"""load_settings: overrides > environment > TOML file > defaults, typed, unknown names refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from wayfare.config import ONE_MB, Settings, admin_exposure, load_settings
from wayfare.errors import InvalidRequestError


def toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "wayfare.toml"
    path.write_text(text)
    return path


def test_defaults_without_any_source() -> None:
    settings = load_settings(environ={})
    assert settings == Settings()
    assert (settings.host, settings.port, settings.max_request_bytes) == ("127.0.0.1", 8080, ONE_MB)
    assert settings.base_url == "http://127.0.0.1:8080"


def test_each_source_wins_over_the_next(tmp_path: Path) -> None:
    config = toml(tmp_path, 'host = "0.0.0.0"\nport = 9000\nadmin_token = "from-file"\n')
    environ = {"WAYFARE_PORT": "9100", "WAYFARE_ADMIN_TOKEN": "from-env"}
    settings = load_settings({"port": 9200}, config_file=config, environ=environ)
    assert settings.port == 9200  # override
    assert settings.admin_token == "from-env"  # environment over file
    assert settings.host == "0.0.0.0"  # file over default
    assert settings.fsync is True  # default


def test_overrides_that_are_none_are_ignored() -> None:
    settings = load_settings({"port": None}, environ={"WAYFARE_PORT": "9100"})
    assert settings.port == 9100


def test_the_config_file_can_be_named_in_the_environment(tmp_path: Path) -> None:
    config = toml(tmp_path, "max_pending_messages = 10\n")
    settings = load_settings(environ={"WAYFARE_CONFIG": str(config)})
    assert settings.max_pending_messages == 10


def test_values_are_coerced_to_their_types(tmp_path: Path) -> None:
    environ = {
        "WAYFARE_PORT": "8181",
        "WAYFARE_INLET_RATE_LIMIT": "12.5",
        "WAYFARE_FSYNC": "off",
        "WAYFARE_DATA_DIR": "/var/lib/wayfare",
        "WAYFARE_PUBLIC_URL": "https://ingest.example.com/",
    }
    settings = load_settings(environ=environ)
    assert settings.port == 8181
    assert settings.inlet_rate_limit == 12.5
    assert settings.fsync is False
    assert settings.data_dir == Path("/var/lib/wayfare")
    assert settings.base_url == "https://ingest.example.com"


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("1", True),
        ("true", True),
        ("YES", True),
        (" on ", True),
        ("0", False),
        ("False", False),
        ("no", False),
        ("OFF", False),
    ],
)
def test_booleans_from_the_environment(raw: str, value: bool) -> None:
    assert load_settings(environ={"WAYFARE_FSYNC": raw}).fsync is value


def test_toml_values_keep_their_types(tmp_path: Path) -> None:
    config = toml(tmp_path, 'fsync = false\ncache_ttl_seconds = 0.5\ndata_dir = "data"\n')
    settings = load_settings(config_file=config, environ={})
    assert settings.fsync is False
    assert settings.cache_ttl_seconds == 0.5
    assert settings.data_dir == Path("data")


@pytest.mark.parametrize(
    ("name", "raw"),
    [("PORT", "eighty"), ("INLET_RATE_LIMIT", "fast"), ("MAX_REQUEST_BYTES", "1MB")],
)
def test_an_unreadable_value_is_refused_with_its_name(name: str, raw: str) -> None:
    with pytest.raises(InvalidRequestError, match=name.lower()):
        load_settings(environ={f"WAYFARE_{name}": raw})


def test_an_unknown_setting_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match="colour"):
        load_settings({"colour": "blue"}, environ={})
    with pytest.raises(InvalidRequestError, match="prot"):
        load_settings(config_file=toml(tmp_path, "prot = 1\n"), environ={})


def test_unrelated_environment_variables_are_ignored() -> None:
    assert load_settings(environ={"WAYFARE_COLOUR": "blue", "PORT": "1"}) == Settings()


def test_settings_are_frozen() -> None:
    settings = load_settings(environ={})
    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_a_loopback_bind_needs_no_admin_token(host: str) -> None:
    assert admin_exposure(Settings(host=host)) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "wayfare.example.com"])
def test_any_other_bind_without_an_admin_token_is_refused_unless_asked_for(host: str) -> None:
    with pytest.raises(InvalidRequestError, match="--insecure-no-admin-token") as refused:
        admin_exposure(Settings(host=host))
    assert refused.value.message.startswith(f"refusing to serve on {host} without an admin token")
    assert admin_exposure(Settings(host=host, admin_token="s3cret")) is None
    warning = admin_exposure(Settings(host=host, insecure_no_admin_token=True))
    assert warning is not None
    assert "without a token (--insecure-no-admin-token)" in warning


def test_the_choice_to_serve_without_a_token_comes_from_the_environment_or_the_file(
    tmp_path: Path,
) -> None:
    environ = {"WAYFARE_HOST": "0.0.0.0", "WAYFARE_INSECURE_NO_ADMIN_TOKEN": "true"}
    assert admin_exposure(load_settings(environ=environ)) is not None
    config = toml(tmp_path, 'host = "0.0.0.0"\ninsecure_no_admin_token = true\n')
    assert admin_exposure(load_settings(config_file=config, environ={})) is not None


def test_allowed_action_destinations_read_as_a_toml_list_or_comma_separated(
    tmp_path: Path,
) -> None:
    config = toml(tmp_path, 'action_allow = ["127.0.0.1:8080", "10.0.0.0/8"]\n')
    assert load_settings(config_file=config, environ={}).action_allow == (
        "127.0.0.1:8080",
        "10.0.0.0/8",
    )
    environ = {"WAYFARE_ACTION_ALLOW": " hooks.internal , [::1]:9000,"}
    assert load_settings(environ=environ).action_allow == ("hooks.internal", "[::1]:9000")
    assert load_settings(environ={"WAYFARE_ACTION_ALLOW": ""}).action_allow == ()
    assert load_settings(environ={}).action_allow == ()


def test_an_allowed_action_destination_that_is_no_host_is_refused_with_its_words() -> None:
    with pytest.raises(InvalidRequestError, match=r"action_allow: 'http://hooks\.internal/'"):
        load_settings(environ={"WAYFARE_ACTION_ALLOW": "http://hooks.internal/"})


def test_the_readme_states_every_limit_with_its_default() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme.split("| setting | default | bounds |\n|---|---|---|\n", 1)[1].split("\n\n")[0]
    units = {"KiB": 1024, "MiB": 1024 * 1024}
    stated = {}
    for row in table.splitlines():
        name, default = (cell.strip(" `") for cell in row.split("|")[1:3])
        number, _, unit = default.partition(" ")
        stated[name] = float(number.replace(",", "")) * units.get(unit, 1)
    defaults = Settings()
    assert len(stated) >= 10
    for name, value in stated.items():
        assert getattr(defaults, name) == value, name
