"""The one secrets policy: which variable holds which password, the store, redaction."""

from __future__ import annotations

import logging
import re

import pytest
from _pytest.reports import TestReport

from pytest_fabricplus.errors import ConfigError
from pytest_fabricplus.hosts.spec import HostSpec
from pytest_fabricplus.plugin.reporting import redact_report
from pytest_fabricplus.secrets import (
    RedactingFilter,
    Secret,
    SecretStore,
    check_password_variables,
    password_variable,
    redact,
    variables_named,
)
from pytest_fabricplus.settings import Settings

HOST = HostSpec(
    "h",
    id="h",
    password_env="HOST_LOGIN",
    vars={"su_password_env": "HOST_SU", "sudo_password_env": "HOST_SUDO"},
    source="inv.ini:3",
)
BARE = HostSpec("b", id="b")
SETTINGS = Settings(ssh_password_env="OPT_LOGIN", su_password_env="OPT_SU")


@pytest.mark.parametrize(
    ("kind", "spec", "override", "expected"),
    [
        ("login", HOST, None, ("HOST_LOGIN", True)),
        ("login", BARE, None, ("OPT_LOGIN", False)),
        ("su", HOST, None, ("HOST_SU", True)),
        ("su", HOST, "MARKER_SU", ("MARKER_SU", False)),  # the marker / run_as() wins
        ("su", BARE, None, ("OPT_SU", False)),
        ("sudo", HOST, None, ("HOST_SUDO", True)),
        ("sudo", BARE, None, ("OPT_LOGIN", False)),  # sudo asks for the login password
    ],
)
def test_password_variable_precedence(
    kind: str, spec: HostSpec, override: str | None, expected: tuple[str, bool]
) -> None:
    assert password_variable(kind, spec, SETTINGS, override) == expected


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown password kind"):
        password_variable("ssh", HOST, SETTINGS)


def test_missing_variable_names_variable_and_where_it_was_named() -> None:
    with pytest.raises(ConfigError) as info:
        check_password_variables(SETTINGS, {"HOST_LOGIN": "v1", "HOST_SU": "v2"}, [HOST])
    assert str(info.value) == (
        "environment variable HOST_SUDO (named by inv.ini:3) holds the sudo password for h "
        "but is not set"
    )


def test_variables_named_covers_options_and_hosts() -> None:
    assert variables_named(SETTINGS, [HOST]) == {
        "OPT_LOGIN",
        "OPT_SU",
        "HOST_LOGIN",
        "HOST_SU",
        "HOST_SUDO",
    }


def test_store_reads_remembers_and_redacts_longest_first() -> None:
    store = SecretStore({"A": "abc", "B": "abcdef"})
    assert not store
    value = store.read("A", "the su password")
    assert isinstance(value, Secret)
    assert value == "abc"
    assert repr(value) == "'********'"
    store.add_variables(["B", "UNSET"])
    assert store.values() == ("abcdef", "abc")
    assert store.redact("x abcdef y abc z") == "x ******** y ******** z"
    with pytest.raises(ConfigError, match=r"environment variable NOPE \(the login password\) is"):
        store.read("NOPE", "the login password")
    assert store.read(None, "anything") is None


def test_redact_function_matches_store() -> None:
    assert redact("pw=hunter22 hunter2", ["hunter2", "hunter22"]) == "pw=******** ********"


def test_logging_filter_redacts_message_args_and_tracebacks() -> None:
    store = SecretStore()
    store.add("s3cr3t-value")
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "pw %s", ("s3cr3t-value",), None)
    try:
        raise RuntimeError("boom s3cr3t-value")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    assert RedactingFilter(store).filter(record) is True
    assert record.getMessage() == "pw ********"
    assert "s3cr3t-value" not in (record.exc_text or "")
    assert "boom ********" in (record.exc_text or "")


def test_report_redaction_covers_text_sections_and_properties() -> None:
    store = SecretStore()
    store.add("pw-4711")
    report = TestReport(
        "t.py::test",
        ("t.py", 1, "test"),
        {},
        "failed",
        "AssertionError: got pw-4711",
        "call",
        sections=[("Captured stdout call", "printed pw-4711\n")],
        user_properties=[("fabricplus_unreachable", "auth: pw-4711"), ("n", 3)],
    )
    redact_report(report, store)
    assert report.longreprtext == "AssertionError: got ********"
    assert report.sections == [("Captured stdout call", "printed ********\n")]
    assert report.user_properties == [("fabricplus_unreachable", "auth: ********"), ("n", 3)]
    skipped = TestReport(
        "t.py::s", ("t.py", 1, "s"), {}, "skipped", ("t.py", 2, "Skipped: pw-4711"), "setup"
    )
    redact_report(skipped, store)
    assert skipped.longrepr == ("t.py", 2, "Skipped: ********")


AWKWARD = ["we$(id)`x`;|&<>'\"\\!*? ird", 'Grüße 秘密☃\t"q" \\n\'', "only'single", 'only"double']


def _shown(value: str) -> dict[str, str]:
    import base64
    import json
    import shlex
    import urllib.parse

    return {
        "raw": value,
        "repr": repr(value),
        "ascii": ascii(value),
        "repr of repr": repr(repr(value)),
        "json": json.dumps(value),
        "json utf-8": json.dumps(value, ensure_ascii=False),
        "json of repr": json.dumps(repr(value)),
        "repr in double quotes": '"' + repr(value)[1:-1].replace("\\'", "'") + '"',
        "percent": urllib.parse.quote(value, safe=""),
        "percent lower": re.sub(
            "%[0-9A-F]{2}", lambda m: m.group(0).lower(), urllib.parse.quote(value, safe="")
        ),
        "percent path": urllib.parse.quote(value),
        "percent form": urllib.parse.quote_plus(value),
        "base64": base64.b64encode(value.encode()).decode(),
        "base64 url": base64.urlsafe_b64encode(value.encode()).decode(),
        "base64 no padding": base64.b64encode(value.encode()).decode().rstrip("="),
        "shell": shlex.quote(value),
    }


@pytest.mark.parametrize("value", AWKWARD)
def test_redaction_covers_every_encoding(value: str) -> None:
    import base64

    store = SecretStore()
    store.add(value)
    for form, text in _shown(value).items():
        line = f"before {text} after"
        assert store.redact(line).startswith("before "), form
        assert store.redact(line).endswith(" after"), form
        assert "********" in store.redact(line), form
        assert redact(line, [value]) == store.redact(line), form
    # the value inside a longer base64 text (HTTP Basic), at each byte offset modulo 3
    for user in ("u", "us", "usr"):
        header = base64.b64encode(f"{user}:{value}".encode()).decode()
        inner = header[len(user) + 3 : -4]
        assert inner not in store.redact(header)


def test_redacted_forms_leave_other_text_alone() -> None:
    store = SecretStore()
    store.add("we$(id)`x`")
    assert store.redact("we$(id) and `x` apart, abcdefgh") == "we$(id) and `x` apart, abcdefgh"
    assert store.redact("'we$(id)`x`'") == "'********'"


def test_documents_are_redacted_value_by_value() -> None:
    store = SecretStore()
    store.add('a"b')
    doc = {"k": ['x a"b y', {'a"b': 1, "n": None}], "t": ('a\\"b',)}
    assert store.redact_data(doc) == {
        "k": ["x ******** y", {"********": 1, "n": None}],
        "t": ["********"],
    }
