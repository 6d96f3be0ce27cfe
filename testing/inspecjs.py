"""MITRE's inspecjs -- the library Heimdall and the SAF CLI compute control statuses with --
run over our InSpec JSON files, for tests that compare its verdict with ours.

``scripts/setup.sh`` installs it into ``$FABRICPLUS_NODE_DIR`` (default ``.node/``) under
``FABRICPLUS_NEED_INSPECJS=1``. The compliance figure and the threshold rule below are
Heimdall's ``calculateCompliance`` and ``saf threshold``'s ``compliance.min`` /
``error.total.max``, written from their source (heimdall2 ``status_counts.ts``, saf
``src/utils/threshold.ts``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_COUNT_JS = """
const {convertFileContextual} = require(process.env.INSPECJS);
const fs = require('fs');
const out = {};
for (const file of process.argv.slice(1)) {  // node -e: argv[1] is the first file
  const profile = convertFileContextual(fs.readFileSync(file, 'utf8')).contains[0];
  const n = {};
  for (const c of profile.contains) { const s = c.root.hdf.status; n[s] = (n[s] || 0) + 1; }
  out[file] = n;
}
console.log(JSON.stringify(out));
"""


def module() -> str | None:
    """inspecjs's directory, or None when node or inspecjs is not installed."""
    root = Path(os.environ.get("FABRICPLUS_NODE_DIR") or ROOT / ".node")
    path = root / "node_modules" / "inspecjs"
    if shutil.which("node") is None or not (path / "package.json").is_file():
        return None
    return str(path)


def status_counts(inspecjs: str, files: list[str]) -> dict[str, dict[str, int]]:
    """Heimdall's control statuses counted per file (only the statuses that occur)."""
    out = subprocess.run(
        ["node", "-e", _COUNT_JS, *files],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "INSPECJS": inspecjs},
        check=True,
    )
    counts: dict[str, dict[str, int]] = json.loads(out.stdout)
    return counts


def compliance(n: dict[str, int]) -> float:
    """Heimdall's compliance (``saf summary`` rounds it to a whole percent)."""
    passed = n.get("Passed", 0)
    total = passed + sum(n.get(k, 0) for k in ("Failed", "Not Reviewed", "Profile Error"))
    return 0.0 if total == 0 else 100 * passed / total


def saf_threshold_passes(n: dict[str, int], minimum: float) -> bool:
    """``saf threshold -I "{compliance.min: M}, {error.total.max: 0}"`` on one file."""
    return int(compliance(n) + 0.5) >= minimum and n.get("Profile Error", 0) == 0
