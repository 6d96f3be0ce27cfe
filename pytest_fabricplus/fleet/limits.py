"""The open-files limit (``RLIMIT_NOFILE``) a process with many hosts needs.

Each open host holds one descriptor (its socket; a ``ProxyCommand`` adds its pipes). Many
systems start processes at a soft limit of 1,024, so a run of 1,000 hosts in one process
failed its last hosts with ``OSError: [Errno 24] Too many open files``. Before its pre-flight
a process raises its own soft limit, up to the hard limit, when its hosts need more; when
even the hard limit is too low it says so before the first connection, with the remedy.
"""

from __future__ import annotations

import resource

#: descriptors besides the hosts': Python, pytest, logs, reports, the known_hosts reads
HEADROOM = 128
#: per host: its socket, and room for a ProxyCommand's pipes on some of them
PER_HOST = 1.25


def needed(hosts: int) -> int:
    return int(hosts * PER_HOST) + HEADROOM


def ensure(need: int, hosts: int) -> str | None:
    """Raise this process's soft open-files limit to ``need`` if it is lower (never past the
    hard limit). A line for the user (None: nothing to say)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= need:
        return None
    target = need if hard == resource.RLIM_INFINITY else min(need, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        target = soft
    if target >= need:
        return (
            f"raised this process's open-files limit (RLIMIT_NOFILE) from {soft} to {target} "
            f"for {hosts} host{'' if hosts == 1 else 's'}"
        )
    return (
        f"warning: {hosts} hosts need about {need} open files and this process may open "
        f"{target} (hard limit {hard}): the last hosts would fail with 'Too many open files'; "
        "raise the limit before the run (ulimit -n, LimitNOFILE=, nofile in limits.conf) or "
        "spread the hosts over xdist workers (-n N)"
    )
