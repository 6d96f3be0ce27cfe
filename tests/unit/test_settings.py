"""Settings: CLI > environment > ini > default; bad values name their origin."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_fabricplus import Connector, HostSpec
from pytest_fabricplus.errors import ConfigError
from pytest_fabricplus.secrets import check_password_variables
from pytest_fabricplus.settings import Settings, optional_seconds, seconds


def test_precedence_cli_over_env_over_ini_over_default() -> None:
    s = Settings.resolve(
        {"connect_timeout": 3.0},
        {
            "fabricplus_connect_timeout": "4",
            "fabricplus_ssh_user": "ini-user",
            "fabricplus_ssh_port": "2222",
        },
        {
            "FABRICPLUS_CONNECT_TIMEOUT": "5",
            "FABRICPLUS_SSH_USER": "env-user",
            "FABRICPLUS_HOSTS": "h1",
        },
    )
    assert s.connect_timeout == 3.0
    assert s.ssh_user == "env-user"  # the environment wins over the ini file
    assert s.ssh_port == 2222  # the ini file where no variable is set
    assert s.hosts == "h1"
    assert s.host_key_policy == "reject"


@pytest.mark.parametrize(
    ("ini", "message"),
    [
        (
            {"fabricplus_connect_timeout": "soon"},
            "fabricplus_connect_timeout: 'soon' is not a number",
        ),
        ({"fabricplus_host_key_policy": "trust"}, "'trust' is not one of reject, warn, accept"),
        ({"fabricplus_ssh_port": "0"}, "port 0 is out of range"),
        ({"fabricplus_ssh_password_env": "A-B"}, "'A-B' is not an environment variable name"),
    ],
)
def test_bad_ini_values(ini: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match="ini option") as info:
        Settings.resolve({}, ini, {})
    assert message in str(info.value)


def test_timeouts() -> None:
    assert seconds("0.5") == 0.5
    assert optional_seconds("0") is None
    with pytest.raises(ValueError, match="greater than 0"):
        seconds("-1")
    with pytest.raises(ValueError, match="greater than 0"):
        seconds("nan")


def test_preflight_limit_default_max_connections_and_its_own_option() -> None:
    assert Settings.resolve({}, {}, {}).preflight_limit == 128
    # an explicit --max-connections (any layer) bounds pre-flight, as before the option
    assert Settings.resolve({}, {"fabricplus_max_connections": "8"}, {}).preflight_limit == 8
    assert Settings.resolve({"max_connections": 64}, {}, {}).preflight_limit == 64
    both = Settings.resolve({"max_connections": 8}, {}, {"FABRICPLUS_PREFLIGHT_CONNECTIONS": "300"})
    assert (both.max_connections, both.preflight_limit) == (8, 300)
    with pytest.raises(ConfigError, match="fabricplus_preflight_connections"):
        Settings.resolve({}, {"fabricplus_preflight_connections": "0"}, {})


def test_pool_in_flight_every_host_unless_max_connections_is_given() -> None:
    assert Settings.resolve({}, {}, {}).pool_in_flight(300) == 300
    assert Settings.resolve({}, {}, {}).pool_in_flight(0) == 1
    # an explicit --max-connections, from any layer, bounds host_pool.run too
    assert Settings.resolve({"max_connections": 4}, {}, {}).pool_in_flight(300) == 4
    ini = Settings.resolve({}, {"fabricplus_max_connections": "32"}, {})
    assert ini.pool_in_flight(300) == 32
    env = Settings.resolve({}, {}, {"FABRICPLUS_MAX_CONNECTIONS": "7"})
    assert env.pool_in_flight(300) == 7


def test_login_password_missing_variable_names_it_not_a_value() -> None:
    s = Settings(ssh_password_env="NOPE_VAR")
    spec = HostSpec("h", id="h")
    with pytest.raises(ConfigError, match="NOPE_VAR") as info:
        check_password_variables(s, {"OTHER": "secret-value"}, [spec])
    assert "secret-value" not in str(info.value)
    with pytest.raises(ConfigError, match="NOPE_VAR"):  # the connector reads it the same way
        Connector(s, {"OTHER": "secret-value"}).build(spec)
    check_password_variables(s, {"NOPE_VAR": "x"}, [spec])  # set: no error
    assert Connector(s, {"NOPE_VAR": "x"}).build(spec).connect_kwargs["password"] == "x"


def test_ansible_inventory_and_force_ansible(tmp_path: Path) -> None:
    inventory = tmp_path / "inv.yml"
    inventory.write_text("all: {}\n")
    s = Settings.resolve(
        {}, {"fabricplus_ansible_inventory": str(inventory)}, {"FABRICPLUS_FORCE_ANSIBLE": "yes"}
    )
    assert (s.ansible_inventory, s.force_ansible) == (str(inventory), True)
    with pytest.raises(ConfigError, match=r"inventory source 'nope\.yml' does not exist"):
        Settings.resolve({}, {"fabricplus_ansible_inventory": "nope.yml"}, {})


def test_output_paths_checked_before_the_run(tmp_path: Path) -> None:
    from pytest_fabricplus.settings import check_output_paths

    (tmp_path / "f").write_text("x")
    check_output_paths(Settings(report=str(tmp_path / "a/b/r.json")))
    assert (tmp_path / "a/b").is_dir()  # created as the writer would
    with pytest.raises(
        ConfigError, match=r"^--fabricplus-inspec-json .*/f/i: .*/f is not a directory"
    ):
        check_output_paths(Settings(inspec_json=str(tmp_path / "f/i")))
    with pytest.raises(
        ConfigError, match=r"^--fabricplus-compliance-json /proc/x/c.json: cannot create"
    ):
        check_output_paths(Settings(compliance_json="/proc/x/c.json"))


def test_utf8_files_bom_and_bad_bytes() -> None:
    from pytest_fabricplus.text import NotUtf8, decode_utf8

    assert decode_utf8(b"\xef\xbb\xbf[web]\n") == "[web]\n"
    with pytest.raises(NotUtf8) as info:
        decode_utf8(b"a\nb\nc\xc3(\n")
    assert (info.value.line, info.value.column, info.value.byte) == (3, 2, 0xC3)
