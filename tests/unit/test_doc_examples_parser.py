"""testing/doc_examples.py: every python block of the docs says what it is, or the suite fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from testing.doc_examples import ExampleError, examples


def test_undescribed_python_block_is_an_error_naming_file_and_line(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Page\n\nText.\n\n```python\nprint(1)\n```\n")
    with pytest.raises(ExampleError, match=r"page\.md:5: a python block needs a comment"):
        examples(page)


def test_comment_gives_kind_and_options(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```sh\nnot python\n```\n\n"
        '<!-- example: pytest args="--a=1 -k x" replace="app=fptest2" outcomes="skipped=2" -->\n'
        "```python\ndef test_app(): assert 'app'\n```\n\n"
        "<!-- example: fragment -->\n\n```py\n...\n```\n"
    )
    first, second = examples(page)
    assert (first.line, first.kind, first.args) == (6, "pytest", ("--a=1", "-k", "x"))
    assert first.outcomes == {"skipped": 2}
    assert first.source() == "def test_app(): assert 'fptest2'\n"
    assert (second.kind, second.code) == ("fragment", "...\n")


@pytest.mark.parametrize(
    ("comment", "message"),
    [
        ("<!-- example: run -->", "kind must be one of"),
        ("<!-- example: pytest timeout=3 -->", "unknown example option 'timeout=3'"),
    ],
)
def test_bad_comment_is_named(tmp_path: Path, comment: str, message: str) -> None:
    page = tmp_path / "page.md"
    page.write_text(f"{comment}\n```python\npass\n```\n")
    with pytest.raises(ExampleError, match=message):
        examples(page)
