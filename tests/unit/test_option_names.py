"""Option names: one canonical ``--fabricplus-*`` spelling each, aliases only where free,
metavars that name the value, typed ini keys (pure logic of plugin/options.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_fabricplus.plugin.options import ini_text, plan_flags
from pytest_fabricplus.settings import OPTIONS, TESTINFRA_FLAGS

BY_NAME = {spec.name: spec for spec in OPTIONS}


def test_every_option_has_a_unique_canonical_flag() -> None:
    flags = [spec.flag for spec in OPTIONS]
    assert all(f.startswith("--fabricplus-") for f in flags)
    every = [f for spec in OPTIONS for f in spec.flags]
    assert len(every) == len(set(every))
    assert BY_NAME["connect_timeout"].flags == ("--fabricplus-connect-timeout", "--connect-timeout")
    assert BY_NAME["report"].flags == ("--fabricplus-report",)  # no alias of itself


def test_testinfras_spellings_are_aliases() -> None:
    aliases = {spec.alias for spec in OPTIONS}
    assert set(TESTINFRA_FLAGS) <= aliases


def test_every_value_option_names_its_value() -> None:
    missing = [s.flag for s in OPTIONS if not s.switch and not s.metavar]
    assert missing == []
    assert BY_NAME["ssh_user"].metavar == "USER"


def test_ini_types() -> None:
    types = {spec.name: spec.ini_type for spec in OPTIONS}
    assert {n for n, t in types.items() if t == "bool"} == {s.name for s in OPTIONS if s.switch}
    assert types["ssh_extra_args"] == "args"
    for name in ("known_hosts", "ssh_config", "waivers", "report", "ansible_inventory"):
        assert types[name] == "paths"
    assert types["hosts"] == "string"  # a file or a host list: resolved by hand


def test_free_aliases_are_ours() -> None:
    plan, lost = plan_flags(OPTIONS, {"--verbose": "general"})
    assert plan["connect_timeout"] == ("--fabricplus-connect-timeout", "--connect-timeout")
    assert lost == {}


def test_an_alias_another_plugin_holds_stays_theirs() -> None:
    taken = {"--connect-timeout": "fake", "--hosts": "testinfra"}
    plan, lost = plan_flags(OPTIONS, taken)
    assert plan["connect_timeout"] == ("--fabricplus-connect-timeout",)
    assert plan["hosts"] == ("--fabricplus-hosts",)
    assert lost == taken


def test_registered_already_is_left_alone() -> None:
    plan, lost = plan_flags(OPTIONS, {"--fabricplus-hosts": "fabricplus", "--hosts": "fabricplus"})
    assert "hosts" not in plan
    assert lost == {}


def test_ini_values_as_text(tmp_path: Path) -> None:
    ini = tmp_path / "pytest.ini"
    assert ini_text(BY_NAME["sudo"], True, ini) == "true"
    assert ini_text(BY_NAME["sudo"], False, ini) == "false"
    assert ini_text(BY_NAME["sudo"], [], ini) is None  # unset (pytest < 9 gives [])
    args = ini_text(BY_NAME["ssh_extra_args"], ["-o", "ProxyJump=a b"], ini)
    assert args == "-o 'ProxyJump=a b'"
    known = tmp_path / "known"
    assert ini_text(BY_NAME["known_hosts"], [known], ini) == str(known)
    with pytest.raises(pytest.UsageError, match="fabricplus_known_hosts: one path expected, got 2"):
        ini_text(BY_NAME["known_hosts"], [known, known], ini)


def test_ini_path_starting_with_a_tilde_is_in_the_home_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pytest joins a ``paths`` value to the ini file's folder as written (``<dir>/~/x``);
    ``~/x`` is the home folder's x, as on the command line and in ssh."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    ini = tmp_path / "proj" / "pytest.ini"
    joined = ini.parent / "~" / ".ssh" / "known_hosts"  # what pytest hands us
    shown = ini_text(BY_NAME["known_hosts"], [joined], ini)
    assert shown is not None
    assert Path(shown).resolve() == (tmp_path / "home" / ".ssh" / "known_hosts").resolve()
    plain = ini.parent / "keys" / "known_hosts"  # relative to the ini file: as before
    assert Path(str(ini_text(BY_NAME["known_hosts"], [plain], ini))).resolve() == plain.resolve()


def test_ini_hosts_file_is_found_next_to_the_ini_file(tmp_path: Path) -> None:
    ini = tmp_path / "pytest.ini"
    (tmp_path / "inv.ini").write_text("h1\n")
    assert ini_text(BY_NAME["hosts"], "inv.ini", ini) == str(tmp_path / "inv.ini")
    assert ini_text(BY_NAME["hosts"], "web1,web2", ini) == "web1,web2"
