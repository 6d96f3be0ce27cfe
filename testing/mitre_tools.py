"""MITRE Heimdall Lite and the SAF CLI, for real, on our InSpec JSON files.

``scripts/setup.sh`` installs them under ``FABRICPLUS_NEED_HEIMDALL=1`` /
``FABRICPLUS_NEED_SAF=1`` into ``$FABRICPLUS_NODE_DIR/heimdall`` and ``.../saf`` (default
``.node/``).

* Heimdall Lite is a static page: :func:`heimdall_read` serves its ``dist`` on 127.0.0.1,
  opens it in headless Chromium (Playwright), uploads one file at a time through the page's
  file input as a person would, and reads what the page shows: the status cards (Passed,
  Failed, Not Applicable, Not Reviewed, the Profile Errors alert), the compliance score and
  the platform line.
* ``saf summary`` (compliance per file, whole percent) and ``saf validate threshold -I``
  (exit status 0 or 1) through :func:`saf_summary` and :func:`saf_threshold`. saf exits 0
  when it cannot read its arguments (an error printed, no verdict), so a verdict is only
  taken from the words it prints.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NODE_DIR = Path(os.environ.get("FABRICPLUS_NODE_DIR") or ROOT / ".node")


def heimdall_dist() -> Path | None:
    path = NODE_DIR / "heimdall" / "node_modules" / "@mitre" / "heimdall-lite" / "dist"
    return path if (path / "index.html").is_file() else None


def saf_bin() -> str | None:
    path = NODE_DIR / "saf" / "node_modules" / ".bin" / "saf"
    return str(path) if path.exists() and shutil.which("node") else None


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """``directory`` over HTTP on 127.0.0.1 (a free port); yields its URL."""
    handler = functools.partial(_Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


_CARDS = {
    "Passed": r"^Passed: (\d+)$",
    "Failed": r"^Failed: (\d+)$",
    "Not Applicable": r"^Not Applicable: (\d+)$",
    "Not Reviewed": r"^Not Reviewed: (\d+)$",
    "Profile Error": r"^ALERT: (\d+) Profile Errors?$",
}


def heimdall_read(
    dist: Path, files: list[Path], chromium: str, shots: Path | None = None
) -> dict[str, dict[str, object]]:
    """What Heimdall Lite shows for each file (keyed by the file's ``platform.target_id``):
    the count of each status, ``score`` (its percentage) and ``platform``."""
    from playwright.sync_api import sync_playwright

    out: dict[str, dict[str, object]] = {}
    with serve(dist) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            for file in files:
                host = json.loads(file.read_text())["platform"]["target_id"]
                page = browser.new_page(viewport={"width": 1600, "height": 1200})
                page.goto(url)
                upload = page.locator("input[type=file]")
                upload.wait_for(state="attached", timeout=60_000)
                upload.set_input_files(str(file))
                page.get_by_text("Compliance Level").wait_for(timeout=60_000)
                page.get_by_text(re.compile(r"^\d+\.\d+%$")).first.wait_for(timeout=60_000)
                text = page.inner_text("body")
                lines = [line.strip() for line in text.splitlines()]
                seen: dict[str, object] = {}
                for status, pattern in _CARDS.items():
                    found = [m for line in lines if (m := re.match(pattern, line))]
                    seen[status] = int(found[0].group(1)) if found else 0
                score = next(line for line in lines if re.fullmatch(r"\d+\.\d+%", line))
                seen["score"] = float(score.rstrip("%"))
                platform = next(
                    (line[len("Platform: ") :] for line in lines if line.startswith("Platform: ")),
                    "",
                )
                seen["platform"] = platform
                if shots is not None:
                    page.screenshot(path=str(shots / f"heimdall-{file.stem}.png"))
                page.close()
                out[str(host)] = seen
        finally:
            browser.close()
    return out


def _saf(saf: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [saf, *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"},
    )


def saf_summary(saf: str, file: Path) -> dict[str, object]:
    """``saf summary -f json`` of one file: its first (only) profile's summary."""
    done = _saf(saf, "summary", "-i", str(file), "-f", "json", "--stdout")
    start = done.stdout.find("[")
    assert start >= 0, f"saf summary printed no JSON: {done.stdout}{done.stderr}"
    data: list[dict[str, object]] = json.loads(done.stdout[start:])
    return data[0]


def saf_threshold(saf: str, file: Path, minimum: float) -> bool:
    """``saf validate threshold -I "{compliance.min: M}, {error.total.max: 0}"`` on one file:
    True when it says every validation passed (exit 0), False when it names a failure
    (exit 1); anything else is an error."""
    inline = f"{{compliance.min: {minimum:g}}}, {{error.total.max: 0}}"
    done = _saf(saf, "validate", "threshold", "-i", str(file), "-I", inline)
    said = done.stdout + done.stderr
    if done.returncode == 0 and "All validation tests passed" in said:
        return True
    if done.returncode == 1 and ("not satisfied" in said or "Threshold not met" in said):
        return False
    raise AssertionError(f"saf validate threshold gave no verdict (exit {done.returncode}): {said}")
