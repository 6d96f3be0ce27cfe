"""The package as a pip user gets it: the built wheel, installed with its dependencies into a
fresh virtualenv outside the checkout, runs ``--docker-targets ubuntu,centos7`` from an
empty folder (the build context is package data, found without the checkout).

Slow by nature (a wheel build and a ``pip install`` from the package index, ~15 s here),
so one wheel and one virtualenv serve the whole module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
DATA_PACKAGE = "pytest_fabricplus/_containers"

TEST_OS = """
def test_os(connection):
    assert connection.run("id -un", hide=True).stdout.strip() == "fpuser"
"""


def _require_docker() -> None:
    """Fail (``FABRICPLUS_NEED_DOCKER=1``, the test command) or skip without a daemon."""
    docker = pytest.importorskip("docker")
    try:
        client = docker.from_env(timeout=10)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        why = f"no Docker daemon answers ({exc}); ./scripts/run-tests.sh starts one"
        if os.environ.get("FABRICPLUS_NEED_DOCKER") == "1":
            pytest.fail(why + " (FABRICPLUS_NEED_DOCKER=1: a missing daemon is a failure)")
        pytest.skip(why)


def _source_files() -> list[str]:
    """The files a fresh clone would have (tracked, plus new files not ignored)."""
    if not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to know which files are the project's")
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return sorted({name for name in listed.split("\0") if name and (ROOT / name).is_file()})


def _clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without what would make the inner run see the checkout."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "PYTHON", "VIRTUAL_ENV", "FABRICPLUS_CONTAINERS_DIR"))
    }
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def source_files() -> list[str]:
    return _source_files()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory, source_files: list[str]) -> Path:
    # build from a copy of the project's files: what a fresh clone builds, and no build/
    # or egg-info left in the checkout
    src = tmp_path_factory.mktemp("wheel-src")
    for name in source_files:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(src)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (built,) = out.glob("pytest_fabricplus-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """A fresh virtualenv (no system site-packages) with ``WHEEL[docker]`` installed from the
    package index, as ``pip install pytest-fabricplus[docker]`` would."""
    home = tmp_path_factory.mktemp("pipuser")
    subprocess.run([sys.executable, "-m", "venv", str(home)], check=True, timeout=300)
    started = time.monotonic()
    install = subprocess.run(
        [str(home / "bin" / "python"), "-m", "pip", "install", "-q", f"{wheel}[docker]"],
        capture_output=True,
        text=True,
        env=_clean_env(),
        timeout=900,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    print(f"pip install {wheel.name}[docker] into a fresh venv: {time.monotonic() - started:.1f}s")
    return home


def test_wheel_holds_every_module_and_the_whole_build_context(
    wheel: Path, source_files: list[str]
) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {n for n in source_files if n.startswith("pytest_fabricplus/")}
    context = {
        f"{DATA_PACKAGE}/{n.removeprefix('containers/')}"
        for n in source_files
        if n.startswith("containers/")
    }
    assert {f"{DATA_PACKAGE}/{n}" for n in ("provision.sh", "entrypoint.sh")} <= context
    assert {f"{DATA_PACKAGE}/{n}/Dockerfile" for n in ("ubuntu", "centos7")} <= context
    assert f"{DATA_PACKAGE}/base/build-base-image.sh" in context
    assert modules - names == set()
    assert context - names == set()
    assert not [n for n in names if n.startswith(("tests/", "testing/", "bench/", "scripts/"))]
    # the scripts the images run keep their executable bit
    mode = zipfile.ZipFile(wheel).getinfo(f"{DATA_PACKAGE}/provision.sh").external_attr >> 16
    assert mode & 0o111


def test_wheel_metadata_licence_and_version(wheel: Path) -> None:
    """The licence file rides in the wheel; the version is ``__version__`` (its one source)."""
    import email.parser

    import pytest_fabricplus

    archive = zipfile.ZipFile(wheel)
    info = f"pytest_fabricplus-{pytest_fabricplus.__version__}.dist-info"
    assert archive.read(f"{info}/licenses/LICENSE").startswith(b"MIT License")
    meta = email.parser.Parser().parsestr(archive.read(f"{info}/METADATA").decode())
    assert meta["Version"] == pytest_fabricplus.__version__
    assert meta["License-Expression"] == "MIT"
    classifiers = meta.get_all("Classifier")
    for minor in (10, 11, 12, 13):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert "Framework :: Pytest" in classifiers
    assert "Operating System :: POSIX :: Linux" in classifiers
    assert [c for c in classifiers if c.startswith("Development Status ::")]


def test_helper_commands_run_from_the_installed_package(venv: Path, tmp_path: Path) -> None:
    python = str(venv / "bin" / "python")
    help_ = subprocess.run(
        [python, "-m", "pytest_fabricplus", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=_clean_env(),
        timeout=60,
    )
    assert help_.returncode == 0, help_.stderr
    assert "build-base" in help_.stdout
    build_help = subprocess.run(
        [python, "-m", "pytest_fabricplus", "build-base", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=_clean_env(),
        timeout=60,
    )
    assert build_help.returncode == 0, build_help.stderr
    assert "registry-free base image fabricplus-base/debian:bookworm" in build_help.stdout
    assert "--force" in build_help.stdout
    where = subprocess.run(
        [python, "-m", "pytest_fabricplus", "containers-dir"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=_clean_env(),
        timeout=60,
    )
    assert where.returncode == 0, where.stderr
    context = Path(where.stdout.strip())
    assert context.is_relative_to(venv)  # the installed copy, not the checkout
    assert (context / "provision.sh").is_file()
    assert (context / "base" / "build-base-image.sh").is_file()


def test_docker_targets_from_an_empty_folder(venv: Path, tmp_path: Path) -> None:
    _require_docker()
    project = tmp_path / "empty"
    project.mkdir()
    (project / "test_os.py").write_text(TEST_OS)
    # the documented first step without a registry: the shipped builder (instant when the
    # base image exists, as after scripts/setup.sh)
    base = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pytest_fabricplus", "build-base"],
        cwd=project,
        capture_output=True,
        text=True,
        env=_clean_env(),
        timeout=900,
    )
    assert base.returncode == 0, base.stdout + base.stderr
    assert "base image fabricplus-base/debian:bookworm" in base.stdout
    result = subprocess.run(
        [str(venv / "bin" / "pytest"), "--docker-targets", "ubuntu,centos7", "-v"],
        cwd=project,
        capture_output=True,
        text=True,
        env=_clean_env(),
        timeout=900,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"rootdir: {project}" in output
    assert "test_os.py::test_os[ubuntu] PASSED" in output
    assert "test_os.py::test_os[centos7] PASSED" in output
    assert "2 passed" in output
    # the plugin that ran is the installed one
    origin = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import pytest_fabricplus; print(pytest_fabricplus.__file__)",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        env=_clean_env(),
        check=True,
    ).stdout.strip()
    assert Path(origin).is_relative_to(venv)
