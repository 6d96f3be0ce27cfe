"""Installed beside the pytest plugins infrastructure teams already have, we change nothing of
theirs: one virtualenv (built once per session, from the package index) holds pytest-ansible,
pytest-testinfra, pytest-timeout, pytest-cov, pytest-django (with Django) and pytest-mh
beside this package; each of their options reaches its owner exactly as with
``-p no:fabricplus``, and our canonical ``--fabricplus-*`` spellings still reach us.

pytest-ansible and pytest-testinfra cannot be loaded together, with or without us: both
register ``--ansible-inventory`` (argparse's "conflicting option string"). So the runs that
check one of them turn the other off (``-p no:pytest11.testinfra`` / ``-p no:pytest-ansible``),
with and without us alike.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = [
    "pytest-ansible",
    "pytest-testinfra",
    "pytest-timeout",
    "pytest-cov",
    "pytest-django",
    "django",
    "pytest-mh",
]
#: writes what every option's owner got (``config.getoption(dest)``) to $DUMP, first thing
#: in configure
DUMP_CONFTEST = """
import json, os
import pytest

@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    dests = os.environ["DESTS"].split(",")
    values = {d: repr(config.getoption(d, "<no such option>")) for d in dests}
    with open(os.environ["DUMP"], "w") as handle:
        json.dump(values, handle)
"""
TEST = "def test_a():\n    pass\n"


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "PYTHON", "VIRTUAL_ENV", "FABRICPLUS_"))
    }
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def plugins_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv: the six plugins from the package index and this checkout."""
    home = tmp_path_factory.mktemp("coexist-venv")
    subprocess.run([sys.executable, "-m", "venv", str(home)], check=True, timeout=300)
    started = time.monotonic()
    install = subprocess.run(
        [str(home / "bin" / "python"), "-m", "pip", "install", "-q", *PLUGINS, "-e", str(ROOT)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=900,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    print(f"pip install {' '.join(PLUGINS)} + this checkout: {time.monotonic() - started:.0f}s")
    return home


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "conftest.py").write_text(DUMP_CONFTEST)
    (tmp_path / "test_a.py").write_text(TEST)
    (tmp_path / "inv.ini").write_text("[web]\nweb1 ansible_connection=local\n")
    (tmp_path / "ssh_config").write_text("Host *\n  User bob\n")
    (tmp_path / "key").write_text("not a key\n")
    (tmp_path / "ds_settings.py").write_text("SECRET_KEY = 'x'\nINSTALLED_APPS = []\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    return tmp_path


def run(
    venv: Path, project: Path, args: list[str], dests: list[str]
) -> tuple[int, dict[str, str], str]:
    dump = project / "dump.json"
    dump.unlink(missing_ok=True)
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=project,
        capture_output=True,
        text=True,
        env=_env(DUMP=str(dump), DESTS=",".join(dests), PYTHONPATH=str(project)),
        timeout=300,
    )
    values = json.loads(dump.read_text()) if dump.exists() else {}
    return result.returncode, values, result.stdout + result.stderr


def same_with_and_without_us(
    venv: Path, project: Path, theirs: list[str], dests: list[str], ours: list[str]
) -> tuple[dict[str, str], str]:
    """Their options give their owners the same values (and the run the same exit status)
    with us as with ``-p no:fabricplus``; ``ours`` (canonical flags) ride along in our run."""
    ret_without, without, out_without = run(
        venv, project, ["--collect-only", *theirs, "-p", "no:fabricplus"], dests
    )
    ret_with, with_us, out_with = run(
        venv, project, ["--collect-only", *theirs, *ours], dests + OUR_DESTS
    )
    assert without, out_without
    assert {d: with_us[d] for d in dests} == without, out_with
    assert ret_with == ret_without, out_with
    assert "conflicting option" not in out_with
    return with_us, out_with


OUR_DESTS = ["fabricplus_hosts", "fabricplus_connect_timeout", "fabricplus_ansible_inventory"]
OURS = [
    "--fabricplus-hosts=web1",
    "--fabricplus-connect-timeout=3",
    "--fabricplus-ansible-inventory=inv.ini",
]


def _ours_reached(values: dict[str, str]) -> None:
    assert values["fabricplus_hosts"] == "'web1'"
    assert values["fabricplus_connect_timeout"] == "3.0"
    assert values["fabricplus_ansible_inventory"] == "'inv.ini'"


def test_pytest_ansible_options(plugins_venv: Path, project: Path) -> None:
    theirs = [
        "-p",
        "no:pytest11.testinfra",
        "--ansible-inventory=inv.ini",
        "--ansible-connection=local",
        "--ansible-user=bob",
        "--limit=web",
        "--ansible-host-pattern=web",
        "--become",
    ]
    dests = [
        "ansible_inventory",
        "ansible_connection",
        "ansible_user",
        "ansible_subset",
        "ansible_host_pattern",
        "ansible_become",
    ]
    values, out = same_with_and_without_us(plugins_venv, project, theirs, dests, OURS)
    assert values["ansible_inventory"] == "'inv.ini'"
    assert values["ansible_connection"] == "'local'"
    _ours_reached(values)
    # our alias --ansible-inventory is pytest-ansible's here; said once, naming it
    warning = "--ansible-inventory is pytest-ansible"
    assert out.count(warning) == 1, out
    assert "ours is --fabricplus-ansible-inventory" in out


def test_pytest_testinfra_options(plugins_venv: Path, project: Path) -> None:
    theirs = [
        "-p",
        "no:pytest-ansible",
        "--hosts=local://,ssh://web1",
        "--connection=ssh",
        "--ssh-config=ssh_config",
        "--ssh-identity-file=key",
        "--ssh-extra-args=-4",
        "--sudo",
        "--sudo-user=bob",
        "--ansible-inventory=inv.ini",
        "--force-ansible",
    ]
    dests = [
        "hosts",
        "connection",
        "ssh_config",
        "ssh_identity_file",
        "ssh_extra_args",
        "sudo",
        "sudo_user",
        "ansible_inventory",
        "force_ansible",
    ]
    values, _ = same_with_and_without_us(plugins_venv, project, theirs, dests, OURS)
    assert values["hosts"] == "'local://,ssh://web1'"
    assert values["sudo"] == "True"
    _ours_reached(values)


def test_timeout_cov_django_options(plugins_venv: Path, project: Path) -> None:
    theirs = ["-p", "no:pytest-ansible", "--timeout=7", "--cov=ds_settings", "--ds=ds_settings"]
    dests = ["timeout", "cov_source", "ds"]
    values, _ = same_with_and_without_us(plugins_venv, project, theirs, dests, OURS)
    assert (values["timeout"], values["cov_source"], values["ds"]) == (
        "7.0",
        "['ds_settings']",
        "'ds_settings'",
    )
    _ours_reached(values)


def test_pytest_mh_options(plugins_venv: Path, project: Path) -> None:
    """pytest-mh is opt-in (``pytest_plugins`` in a conftest): it registers after us."""
    conftest = project / "conftest.py"
    conftest.write_text('pytest_plugins = ["pytest_mh"]\n' + conftest.read_text())
    theirs = [
        "-p",
        "no:pytest-ansible",
        "--mh-config=mh.yaml",
        "--mh-lazy-ssh",
        "--mh-log-path=mh.log",
        "--mh-topology=ldap",
    ]
    dests = ["mh_config", "mh_lazy_ssh", "mh_log_path", "mh_topology"]
    values, _ = same_with_and_without_us(plugins_venv, project, theirs, dests, OURS)
    assert values["mh_config"] == "'mh.yaml'"
    _ours_reached(values)


def test_testinfras_plugin_is_loaded_unless_the_dropin_is_asked_for(
    plugins_venv: Path, project: Path
) -> None:
    def plugin_line(out: str) -> str:
        lines = {" ".join(x.split()) for x in out.splitlines() if "pytest11.testinfra " in x}
        assert len(lines) == 1, out
        return lines.pop()

    args = ["-p", "no:pytest-ansible", "--trace-config", "--collect-only"]
    _, _, out = run(plugins_venv, project, args, [])
    assert plugin_line(out).endswith("testinfra/plugin.py"), out
    assert "drop-in" not in out
    dropin = ["-p", "pytest_fabricplus.testinfra_dropin"]
    _, _, out = run(plugins_venv, project, [*args, *dropin], [])
    assert plugin_line(out) == "pytest11.testinfra : None", out
    assert "fabricplus: testinfra drop-in (-p pytest_fabricplus.testinfra_dropin)" in out
