"""The HTML compliance report at fleet scale (issue 14): 500 hosts x 200 controls by default.

Generates a ``--compliance-json`` document (testing/compliance_docs.py: every status, waivers,
a baseline, an unreachable host), renders it with ``pytest_fabricplus.compliance.html`` and
prints the page's size, the Python render time, and the time headless Chromium takes to build
the matrix (the page's own ``data-render-ms``, measured by its script from parse to the last
cell), a status filter's own time (the page's ``data-filter-ms``) plus the whole ``chromium --dump-dom`` wall time. Also the InSpec JSON per host (total
size, time). Needs Debian's ``chromium``. Usage::

    .venv/bin/python bench/report_scale.py [--hosts 500] [--controls 200] [--reps 3]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pytest_fabricplus.compliance.html import render_html
from pytest_fabricplus.compliance.inspec import write_inspec_dir
from testing.compliance_docs import make_document


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=500)
    parser.add_argument("--controls", type=int, default=200)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    doc = make_document(args.hosts, args.controls, seed=7)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        page = render_html(doc)
        render_py = time.perf_counter() - t0
        path = Path(tmp) / "report.html"
        path.write_text(page, encoding="utf-8")
        size = path.stat().st_size
        t0 = time.perf_counter()
        files = write_inspec_dir(doc, str(Path(tmp) / "inspec"))
        inspec_s = time.perf_counter() - t0
        inspec_size = sum(f.stat().st_size for f in files)
        print(f"{args.hosts} hosts x {args.controls} controls = {args.hosts * args.controls} cells")
        print(f"HTML: {size / 1e6:.2f} MB, rendered by Python in {render_py:.2f} s")
        print(f"InSpec JSON: {len(files)} files, {inspec_size / 1e6:.1f} MB in {inspec_s:.2f} s")
        chromium = shutil.which("chromium")
        if chromium is None:
            print("chromium is not installed: no browser numbers (apt-get install chromium)")
            return 1
        page_ms, walls = [], []
        for _ in range(args.reps):
            t0 = time.perf_counter()
            dom = subprocess.run(
                [
                    chromium,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--virtual-time-budget=20000",
                    "--dump-dom",
                    path.as_uri(),
                ],
                capture_output=True,
                text=True,
                timeout=300,
                check=True,
            ).stdout
            walls.append(time.perf_counter() - t0)
            match = re.search(r'data-render-ms="(\d+)"', dom)
            if not match or 'data-ready="1"' not in dom:
                print("the page did not finish building its matrix")
                return 1
            page_ms.append(int(match.group(1)))
            cells = len(re.findall(r'<td class="x[^"]*" data-host=', dom))
            assert cells == args.hosts * args.controls, cells
        print(
            f"Chromium: matrix built in {statistics.median(page_ms)} ms (median of {args.reps}: "
            f"{page_ms}); whole --dump-dom run {statistics.median(walls):.1f} s "
            f"(DOM {len(dom) / 1e6:.1f} MB, {cells} cells)"
        )
        filter_ms = []
        for _ in range(args.reps):
            dom = subprocess.run(
                [
                    chromium,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--virtual-time-budget=20000",
                    "--dump-dom",
                    path.as_uri() + "#status=failed",
                ],
                capture_output=True,
                text=True,
                timeout=300,
                check=True,
            ).stdout
            match = re.search(r'data-filter-ms="(\d+)"', dom)
            assert match
            assert 'data-match="1"' in dom
            filter_ms.append(int(match.group(1)))
        print(
            f"Chromium: the filter #status=failed applied in {statistics.median(filter_ms)} ms "
            f"(median of {args.reps}: {filter_ms}; the browser's relayout comes after)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
