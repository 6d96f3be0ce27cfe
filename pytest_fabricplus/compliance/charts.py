"""The report's "fleet at a glance": pictures drawn here, in Python, as inline SVG and HTML.

No script and no network: every figure is computed from the same ``--compliance-json``
document the matrix is built from (:func:`glance_numbers`), and every number drawn carries it
in a ``data-n`` attribute next to the visible text, so a test can read the page back and
compare it with the document. Sizes do not grow with the fleet: counts become bar lengths,
the host scores ten buckets, the worst hosts and controls the first ten.

The figures:
- the status of every host x control cell (passed, failed, error, not reviewed = skipped,
  not applicable, waived; "absent" when a control did not run on a host);
- the failed cells by the control's severity (critical, high, medium, low, none);
- the host scores in 10 % buckets (0-10 ... 90-100, 100 counted in the last one) and the
  hosts that have no score;
- the ten lowest-scoring hosts and the ten controls failing on the most hosts;
- with a baseline: the new failures and the fixed cells.
"""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["glance_numbers", "render_glance"]

#: status -> (label, colour); the labels are Heimdall's words where they differ from ours
STATUS_STYLE = {
    "passed": ("passed", "#2e7d32"),
    "failed": ("failed", "#c62828"),
    "error": ("error", "#6a1b9a"),
    "skipped": ("not reviewed (skipped)", "#90a4ae"),
    "not-applicable": ("not applicable", "#4db6ac"),
    "waived": ("waived", "#f9a825"),
    "absent": ("absent (did not run)", "#e0e0e0"),
}
SEVERITY_STYLE = {
    "critical": "#000000",
    "high": "#b71c1c",
    "medium": "#e65100",
    "low": "#546e7a",
    "none": "#9e9e9e",
}
TOP = 10


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _short(label: str, width: int = 22) -> str:
    return label if len(label) <= width else label[: width - 1] + "\u2026"


def glance_numbers(document: dict[str, Any]) -> dict[str, Any]:
    """Every number the glance section draws, from ``document`` alone."""
    controls: dict[str, Any] = document.get("controls", {})
    hosts: dict[str, Any] = document.get("hosts", {})
    status = dict.fromkeys(STATUS_STYLE, 0)
    severity = dict.fromkeys(SEVERITY_STYLE, 0)
    failing_hosts: dict[str, int] = dict.fromkeys(controls, 0)
    for host in hosts.values():
        entries: dict[str, Any] = host.get("controls", {})
        for cid in controls:
            entry = entries.get(cid)
            st = "absent" if entry is None else str(entry.get("status", "error"))
            status[st if st in status else "error"] += 1
            if st == "failed":
                sev = str(controls[cid].get("severity") or "none")
                severity[sev if sev in severity else "none"] += 1
                failing_hosts[cid] += 1
    buckets = [0] * 10
    unscored = 0
    for host in hosts.values():
        score = host.get("score")
        if score is None:
            unscored += 1
        else:
            buckets[min(9, max(0, int(float(score) // 10)))] += 1
    # the hosts without a score (unreachable, nothing counted) first: they are the worst news
    unscored_ids: list[list[Any]] = [
        [hid, None] for hid, h in hosts.items() if h.get("score") is None
    ]
    scored = sorted(
        (float(h["score"]), hid) for hid, h in hosts.items() if h.get("score") is not None
    )
    worst_hosts = (unscored_ids + [[hid, sc] for sc, hid in scored])[:TOP]
    worst_controls = [
        [cid, n]
        for cid, n in sorted(
            failing_hosts.items(), key=lambda kv: (-kv[1], list(controls).index(kv[0]))
        )
        if n > 0
    ][:TOP]
    baseline = document.get("baseline") or None
    return {
        "status": status,
        "severity": severity,
        "buckets": buckets,
        "unscored": unscored,
        "worst_hosts": worst_hosts,
        "worst_controls": worst_controls,
        "baseline": None
        if not baseline
        else {
            "new_failures": len(baseline.get("new_failures") or []),
            "fixed": len(baseline.get("fixed") or []),
        },
        "threshold": document.get("threshold"),
    }


def _bars(
    figure: str, title: str, rows: list[tuple[str, str, int | float | None, str]], scale: float
) -> str:
    """Horizontal bars: (key, label, value, colour); the value is printed after its bar."""
    height = 18
    width_bar = 170
    svg_h = height * max(1, len(rows))
    parts = []
    for i, (key, label, value, colour) in enumerate(rows):
        y = i * height
        length = 0.0 if scale <= 0 or value is None else max(0.0, float(value)) / scale * width_bar
        if value and length < 2:
            length = 2.0  # a non-zero count stays visible next to a fleet-sized one
        if value is None:
            text = "not scored"
        else:
            text = f"{value:.1f}%" if isinstance(value, float) else str(value)
        number = "" if value is None else _e(value)
        parts.append(
            f'<g data-key="{_e(key)}"><title>{_e(label)}: {_e(text)}</title>'
            f'<text x="0" y="{y + 13}" class="gl-l">{_e(_short(label))}</text>'
            f'<rect x="140" y="{y + 3}" width="{length:.1f}" height="12" fill="{colour}"'
            ' stroke="#0006" stroke-width=".5"/>'
            f'<text x="{144 + length:.1f}" y="{y + 13}" class="gl-n" data-n="{number}">'
            f"{_e(text)}</text></g>"
        )
    return (
        f'<figure class="gl" data-figure="{figure}"><figcaption>{_e(title)}</figcaption>'
        f'<svg role="img" aria-label="{_e(title)}" width="400" height="{svg_h}" '
        f'viewBox="0 0 400 {svg_h}" xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'
        "</figure>"
    )


def _histogram(numbers: dict[str, Any]) -> str:
    buckets: list[int] = numbers["buckets"]
    top = max([*buckets, numbers["unscored"], 1])
    col, base, plot_h = 33, 130, 105
    parts = []
    threshold = numbers["threshold"]
    for i, n in enumerate([*buckets, numbers["unscored"]]):
        x = 30 + i * col
        h = n / top * plot_h
        if n and h < 2:
            h = 2.0
        label = "n/a" if i == 10 else f"{i * 10}+"
        colour = (
            "#9e9e9e"
            if i == 10
            else (
                "#c62828"
                if threshold is not None and (i + 1) * 10 <= float(threshold)
                else "#2e7d32"
            )
        )
        key = "unscored" if i == 10 else f"b{i}"
        parts.append(
            f'<g data-key="{key}"><title>{label} %: {n} host(s)</title>'
            f'<rect x="{x}" y="{base - h:.1f}" width="{col - 6}" height="{h:.1f}" fill="{colour}"/>'
            f'<text x="{x + (col - 6) / 2}" y="{base - h - 3:.1f}" class="gl-n" '
            f'text-anchor="middle" data-n="{n}">{n}</text>'
            f'<text x="{x + (col - 6) / 2}" y="{base + 13}" class="gl-l" '
            f'text-anchor="middle">{label}</text></g>'
        )
    if threshold is not None:
        gx = 30 + float(threshold) / 10 * col - 3
        parts.append(
            f'<line x1="{gx:.1f}" x2="{gx:.1f}" y1="10" y2="{base}" stroke="#000" '
            f'stroke-dasharray="4 3"/><text x="{gx + 3:.1f}" y="18" class="gl-l">'
            f"gate {float(threshold):.1f}%</text>"
        )
    title = "Host scores (hosts per 10 % bucket; 100 % in 90+)"
    return (
        f'<figure class="gl" data-figure="scores"><figcaption>{title}</figcaption>'
        f'<svg role="img" aria-label="{title}" width="400" height="150" viewBox="0 0 400 150" '
        f'xmlns="http://www.w3.org/2000/svg"><line x1="26" x2="400" y1="{base}" y2="{base}" '
        f'stroke="#999"/>{"".join(parts)}</svg></figure>'
    )


def _score_colour(score: float | None, threshold: Any) -> str:
    if score is None or (threshold is not None and score < float(threshold)):
        return "#c62828"
    return "#2e7d32"


def render_glance(document: dict[str, Any]) -> str:
    """The glance section's HTML (``<section id="glance">``)."""
    numbers = glance_numbers(document)
    status = numbers["status"]
    cells = max(1, sum(status.values()))
    figures = [
        _bars(
            "status",
            f"Status of the {sum(status.values())} host x control cells",
            [(k, STATUS_STYLE[k][0], v, STATUS_STYLE[k][1]) for k, v in status.items()],
            float(cells),
        ),
        _bars(
            "severity",
            f"Failed cells by severity ({status['failed']})",
            [(k, k, v, SEVERITY_STYLE[k]) for k, v in numbers["severity"].items()],
            float(max([1, *numbers["severity"].values()])),
        ),
        _histogram(numbers),
    ]
    worst_hosts = numbers["worst_hosts"]
    if worst_hosts:
        figures.append(
            _bars(
                "worst-hosts",
                f"Lowest scores (worst {len(worst_hosts)} of "
                f"{len(document.get('hosts', {}))} hosts)",
                [
                    (
                        h,
                        h,
                        None if sc is None else float(sc),
                        _score_colour(sc, numbers["threshold"]),
                    )
                    for h, sc in worst_hosts
                ],
                100.0,
            )
        )
    worst_controls = numbers["worst_controls"]
    if worst_controls:
        figures.append(
            _bars(
                "worst-controls",
                f"Controls failing on the most hosts (top {len(worst_controls)}, "
                f"of {len(document.get('hosts', {}))} hosts)",
                [(c, c, n, "#c62828") for c, n in worst_controls],
                float(len(document.get("hosts", {})) or 1),
            )
        )
    else:
        figures.append(
            '<figure class="gl" data-figure="worst-controls"><figcaption>'
            "Controls failing on the most hosts</figcaption><p>No control failed.</p></figure>"
        )
    baseline = numbers["baseline"]
    if baseline is not None:
        figures.append(
            _bars(
                "baseline",
                f"Since the baseline {(document.get('baseline') or {}).get('file') or ''}",
                [
                    ("new_failures", "new failures", baseline["new_failures"], "#c62828"),
                    ("fixed", "fixed", baseline["fixed"], "#2e7d32"),
                ],
                float(max(1, baseline["new_failures"], baseline["fixed"])),
            )
        )
    return (
        '<section id="glance"><h2>The fleet at a glance</h2>'
        f'<div class="gl-grid">{"".join(figures)}</div></section>'
    )
