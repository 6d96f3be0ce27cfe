"""The documentation site builds with warnings as errors, and says what the code does.

- docs/ builds with ``sphinx-build -W --keep-going`` (as scripts/run-tests.sh runs it), and a
  broken cross-reference fails such a build;
- every option and ini key that ``pytest --help`` shows in our group is on the options page
  (generated from ``settings.OPTIONS`` by docs/_ext/fabricplus_docs.py);
- README.md is a front page: short, the two fresh-machine commands first, only absolute links,
  each link into the docs naming a page the build wrote.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from pytest_fabricplus.settings import OPTIONS

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
#: where the site will be published (a placeholder until the project has a public home)
DOCS_URL = "https://pytest-fabricplus.readthedocs.io/en/latest/"


def sphinx_build(source: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", source, out],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    done = sphinx_build(DOCS, out)
    assert done.returncode == 0, done.stderr
    return out


def page_text(path: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8")))


def test_site_builds_with_every_section(site: Path) -> None:
    for page in (
        "tutorial",
        "install",
        "howto/inventories",
        "howto/migrate-testinfra",
        "howto/without-pytest",
        "reference/options",
        "reference/api",
        "reference/exit-codes",
        "explanation/architecture",
        "explanation/performance",
    ):
        assert (site / f"{page}.html").is_file(), page
    api = page_text(site / "reference/api.html")
    assert "HostPool" in api
    assert "raise_on_failure" in api  # from the docstrings: autodoc ran
    upstream = page_text(site / "explanation/upstream.html")
    assert "pytest_fabricplus.ssh.channel" in upstream  # generated from module docstrings


def test_broken_cross_reference_fails_the_build(tmp_path: Path) -> None:
    source = tmp_path / "docs"
    source.mkdir()
    shutil.copy(DOCS / "conf.py", source / "conf.py")
    shutil.copytree(DOCS / "_ext", source / "_ext")
    (source / "index.md").write_text("# Home\n\n```{toctree}\npage\n```\n")
    (source / "page.md").write_text(
        "# Page\n\n## A heading\n\nSee [the heading](#a-heading) and [home](index.md).\n"
    )
    assert sphinx_build(source, tmp_path / "ok").returncode == 0
    (source / "page.md").write_text("# Page\n\nSee [gone](index.md#no-such-heading).\n")
    done = sphinx_build(source, tmp_path / "broken")
    assert done.returncode != 0
    assert "no-such-heading" in done.stderr


def help_group(text: str) -> str:
    """The ``fabricplus`` group of ``pytest --help``: from its title to the next group."""
    start = text.index("(pytest-fabricplus):")
    end = re.search(r"\n\S[^\n]*:\n", text[start + 1 :])
    return text[start : start + 1 + end.start()] if end else text[start:]


def test_every_option_of_pytest_help_is_documented(site: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]+)", help_group(done.stdout)))
    ini_keys = set(re.findall(r"^  (fabricplus_[a-z0-9_]+)", done.stdout, re.M))
    assert {spec.flag for spec in OPTIONS} <= flags
    assert len(ini_keys) >= len(OPTIONS)
    options = page_text(site / "reference/options.html")
    missing = sorted(n for n in flags | ini_keys if n not in options)
    assert not missing, f"in pytest --help, not on the options page: {missing}"
    for spec in OPTIONS:
        assert spec.env in options


README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_is_a_front_page() -> None:
    lines = README.splitlines()
    assert len(lines) <= 150
    first_code = lines.index("```sh")
    assert first_code < 5  # the two fresh-machine commands at the very top
    assert lines[first_code + 1].startswith("./scripts/run-example.sh ")
    assert lines[first_code + 2].startswith("./scripts/run-tests.sh ")


def test_readme_links_are_absolute_and_reach_the_docs(site: Path) -> None:
    links = re.findall(r"\]\(([^)\s]+)\)", README)
    assert links
    relative = [link for link in links if not link.startswith("https://")]
    assert not relative, f"relative links break on PyPI: {relative}"
    for link in links:
        if link.startswith(DOCS_URL):
            page = link[len(DOCS_URL) :].split("#")[0] or "index.html"
            assert (site / page).is_file(), f"README links to {link}: no such page in docs/"


def test_options_page_lists_every_spelling() -> None:
    """The extension takes the spellings from the spec and from a parser the plugin filled, so
    an alias added to an option appears on the page without a change to the docs."""
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        import fabricplus_docs
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    known = fabricplus_docs.registered()
    assert {spec.ini for spec in OPTIONS} <= set(known.ini_types)
    spec = SimpleNamespace(name="hosts", flag="--fabricplus-hosts", alias="--hosts")
    assert fabricplus_docs.flags(spec, known)[:2] == ["--fabricplus-hosts", "--hosts"]
    known.names["fabricplus_hosts"] = ["--an-alias"]
    assert fabricplus_docs.flags(spec, known) == ["--fabricplus-hosts", "--hosts", "--an-alias"]


def test_every_fixture_of_the_plugin_is_documented(site: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--fixtures", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    ours, names = False, []
    for line in done.stdout.splitlines():
        if line.startswith("-") and "fixtures defined from" in line:
            ours = "pytest_fabricplus" in line
        elif ours and (found := re.match(r"^(\w+)( \[[a-z ]+\])? -- ", line)):
            names.append(found.group(1))
    assert {"connection", "host_spec", "host_pool", "run_as", "docker_targets"} <= set(names)
    fixtures = page_text(site / "reference/fixtures.html")
    missing = [name for name in names if name not in fixtures]
    assert not missing, f"fixtures of the plugin not on the fixtures page: {missing}"


def test_package_urls_are_the_docs_the_readme_links_to(site: Path) -> None:
    """[project.urls] (PyPI's sidebar) and the README's links name the same site, and the
    pages they name are built; .readthedocs.yaml builds that site as the test command does."""
    if sys.version_info < (3, 11):  # tests/docs run in the main venv only
        pytest.fail("tests/docs need Python >= 3.11 (tomllib)")
    import tomllib

    root = Path(__file__).resolve().parents[2]
    urls = tomllib.loads((root / "pyproject.toml").read_text())["project"]["urls"]
    assert urls["Documentation"] == DOCS_URL
    assert urls["Changelog"].startswith(DOCS_URL)
    page = urls["Changelog"][len(DOCS_URL) :]
    assert (site / page).is_file(), page
    config = (root / ".readthedocs.yaml").read_text()
    assert "configuration: docs/conf.py" in config
    assert "fail_on_warning: true" in config
