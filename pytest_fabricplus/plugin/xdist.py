"""pytest-xdist integration: whole hosts per worker, planned alike by controller and workers.

:class:`XdistHooks` is registered only when xdist is installed; the scheduler
(:mod:`.xdist_scheduler`) is used when ``--dist`` is ``load`` (what ``-n N`` implies) and is
imported only by the controller, when it schedules. Each worker computes the same
:func:`plan` from the same collection, so it knows its hosts at start and pre-flights them.
The plan itself (:mod:`pytest_fabricplus.fleet.affinity`) is pure and unit-tested.

Upstream behaviour worked around here:

* A signal to the controller alone (``kill -INT``, ``kill -TERM``) reaches the workers late
  or not at all: xdist closes their gateways, execnet waits 5 s before it SIGINTs a busy
  worker, and xdist SIGKILLs workers still up after 10 s -- too late, or too hard, for them
  to kill their commands on the hosts. :meth:`XdistHooks.signal_workers` passes the signal
  on at once. xdist tells no worker pid; execnet's popen gateway keeps its ``Popen`` in
  ``gateway._io.popen`` (read with ``getattr``; without it, nothing is passed on).
* A worker that dies before it is ready (its session never started: a password it cannot
  read, the plugin missing on a remote machine, a path it cannot see) is replaced by xdist
  again and again -- without ``-n`` (``--tx`` alone) there is no restart limit at all. In a
  run with hosts, :meth:`XdistHooks.pytest_testnodedown` stops the run at the first such
  worker with a usage error naming it and its reason (crashes during tests are left to
  xdist's ``--max-worker-restart``).

Secrets: the password variables the run uses for its selected hosts are read by the
controller and sent to every worker in ``workerinput`` (:data:`SECRETS_KEY`; execnet's pipe,
never ``os.environ``), so a remote worker (``--tx ssh=...``) needs no copy of them. The
controller collects no test, so the variables that ``su_user`` markers and ``run_as(...)``
name are found in the source of the test files (and conftest.py files) the run was given:
literal ``password_env="NAME"`` arguments (:func:`suite_password_variables`).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from ..errors import FabricPlusError
from ..fleet.affinity import host_of_nodeid, plan, worker_ids
from ..fleet.state import RunState
from ..secrets import password_env_arguments
from .fixtures import STATE_KEY
from .options import read_settings
from .reporting import CRASH_WHEN, CRASHED_PROPERTY, HOST_PROPERTY

__all__ = [
    "AFFINITY_KEY",
    "SECRETS_KEY",
    "WORKERS_PER_CORE",
    "XdistHooks",
    "auto_workers",
    "host_of_nodeid",
    "plan",
    "worker_ids",
]

#: ``-n auto`` for a run with hosts: workers per core. Checks against remote hosts mostly
#: wait on the network, so a core drives several workers (bench/scale.py measures it).
WORKERS_PER_CORE = 4
#: ... with ``--fleet``: a worker already runs its hosts' items at once, so more workers per
#: core only add xdist's messaging (300 hosts: ``-n 8 --fleet`` 1.16x the wall time of one
#: process); one per core lets each core run one process's Python (the GIL's bound)
FLEET_WORKERS_PER_CORE = 1

#: workerinput key telling workers that hosts are planned per worker (they pre-flight theirs)
AFFINITY_KEY = "fabricplus_host_affinity"

#: workerinput key holding ``{variable: value}`` of the password variables the run uses
SECRETS_KEY = "fabricplus_secrets"


def forwarded_secrets(config: pytest.Config) -> dict[str, str]:
    """What the controller sent this worker under :data:`SECRETS_KEY` (empty elsewhere)."""
    workerinput = getattr(config, "workerinput", None)
    data = workerinput.get(SECRETS_KEY) if workerinput is not None else None
    if not isinstance(data, Mapping):
        return {}
    return {str(k): str(v) for k, v in data.items()}


def worker_failure(error: object) -> str:
    """The reason a worker gave when it died: the last exception line (and what follows it)
    of its remote traceback, or the text xdist has."""
    text = str(getattr(error, "formatted", None) or error or "").strip()
    lines = text.splitlines()
    for index in range(len(lines) - 1, -1, -1):
        match = re.match(r"^(?:[\w.]+\.)?(\w+(?:Error|Exception|Exit)): ?(.*)$", lines[index])
        if match:
            rest = [match.group(2), *lines[index + 1 :]]
            reason = " ".join(line.strip() for line in rest if line.strip())
            return f"{match.group(1)}: {reason}" if match.group(1) != "UsageError" else reason
    return lines[-1].strip() if lines else "it exited without saying why"


class XdistHooks:
    """Registered at configure time when xdist is installed; the hosts are known from
    ``pytest_sessionstart`` on, before any node is configured."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.host_ids: list[str] = []
        self.active = False
        self.nodes: list[Any] = []  # the controller's worker nodes
        self.secrets: dict[str, str] = {}
        self.redact: Callable[[str], str] = str
        self._ready: set[int] = set()  # id() of the nodes whose session started
        self._scanned = False

    def set_hosts(
        self,
        host_ids: list[str],
        secrets: Mapping[str, str] | None = None,
        redact: Callable[[str], str] = str,
    ) -> None:
        self.host_ids = host_ids
        self.secrets = dict(secrets or {})
        self.redact = redact
        # workers see dist="no": decide here, on the controller, and tell them
        self.active = bool(host_ids) and self.config.getvalue("dist") == "load"

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[AFFINITY_KEY] = self.active
        if self.host_ids and not self._scanned:
            self._scanned = True
            state = self.config.stash.get(STATE_KEY, None)
            if state is not None:
                for name in sorted(suite_password_variables(self.config)):
                    if name in state.env and name not in self.secrets:
                        self.secrets[name] = state.env[name]
                        state.secrets.add(state.env[name])  # redacted here too
        if self.secrets:  # over execnet's pipe, never the worker's environment
            node.workerinput[SECRETS_KEY] = dict(self.secrets)
        self.nodes.append(node)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodeready(self, node: Any) -> None:
        self._ready.add(id(node))

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """A worker of a run with hosts that died before its session started fails the run
        here, once: the next one would fail the same way (xdist would replace it forever)."""
        if error is None or not self.host_ids or id(node) in self._ready:
            return
        if getattr(self.config.stash.get(STATE_KEY, None), "interrupted", False):
            return  # Ctrl-C / SIGTERM while it was starting: the run says interrupted
        worker = getattr(getattr(node, "gateway", None), "id", "?")
        spec = getattr(getattr(node, "gateway", None), "spec", None)
        where = ""
        for kind in ("ssh", "socket", "vagrant_ssh"):  # execnet XSpec: where the worker ran
            value = getattr(spec, kind, None)
            if isinstance(value, str) and value:
                where = f" ({kind}={value})"
        reason = self.redact(worker_failure(error))
        raise pytest.UsageError(
            f"xdist worker {worker}{where} could not start: {reason}\n"
            "(the run stops here: a new worker would fail the same way; a remote worker "
            "needs the plugin installed and the run's files at the same paths -- see "
            "the docs' how-to 'Fleets', 'Remote xdist workers')"
        )

    def signal_workers(self, signum: int) -> list[int]:
        """Send ``signum`` to this controller's local worker processes still running (any
        thread); the pids signalled."""
        sent = []
        for node in list(self.nodes):
            pid = worker_pid(node)
            if pid is not None:
                with contextlib.suppress(OSError):
                    os.kill(pid, signum)
                    sent.append(pid)
        return sent

    @pytest.hookimpl(optionalhook=True)
    def pytest_handlecrashitem(self, crashitem: str, report: pytest.TestReport, sched: Any) -> None:
        """A worker died under ``crashitem``: its report gets the test's host and the worker,
        as the worker would have attached them (xdist's crash report carries none)."""
        host = host_of_nodeid(crashitem, self.host_ids)
        if host is None:
            return
        gateway = getattr(getattr(report, "node", None), "gateway", None)
        worker = f"worker {getattr(gateway, 'id', '?')}"
        report.user_properties = [
            *report.user_properties,
            (HOST_PROPERTY, host),
            (CRASHED_PROPERTY, worker),
        ]

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """After a crash report with a host, the teardown report xdist never sends: every
        plugin closes the test there (``--junitxml`` writes its properties then)."""
        if report.when != CRASH_WHEN or CRASHED_PROPERTY not in dict(report.user_properties):
            return
        closing = pytest.TestReport(
            nodeid=report.nodeid,
            location=report.location,
            keywords={},
            outcome="passed",
            longrepr=None,
            when="teardown",
            user_properties=list(report.user_properties),
        )
        closing.node = getattr(report, "node", None)  # type: ignore[attr-defined]
        self.config.hook.pytest_runtest_logreport(report=closing)

    # tryfirst: the hook is firstresult, and xdist's own (trylast) default must not be asked
    # before us whatever order the plugins were registered in (pytest/xdist versions differ);
    # when host affinity does not apply we return None and xdist's default decides
    @pytest.hookimpl(tryfirst=True, optionalhook=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        if not self.active:
            return None
        # xdist's scheduler modules (execnet, ~0.1 s) load in the controller only, when needed
        from .xdist_scheduler import HostAffinityScheduling

        return HostAffinityScheduling(config, log, self.host_ids)


#: directories never searched for test sources
_SKIP_DIRS = frozenset({"__pycache__", "node_modules", "site-packages", "build", "dist"})
#: at most this many .py files are read for ``password_env=`` (a huge tree is not walked)
MAX_SCANNED_FILES = 5000


def suite_password_variables(config: pytest.Config) -> set[str]:
    """The variables named by literal ``password_env="NAME"`` in the ``.py`` files of the
    paths the run was given (``testpaths`` or the current directory without any), and in the
    ``conftest.py`` files above them up to the rootdir."""
    base = config.invocation_params.dir
    args = [a.split("::", 1)[0] for a in config.args if not a.startswith("-")]
    roots = [(base / a).resolve() for a in args] or [base.resolve()]
    files: list[Path] = []
    rootdir = Path(config.rootpath).resolve()
    for root in roots:
        for parent in [root, *root.parents]:
            conftest = parent / "conftest.py"
            if conftest.is_file():
                files.append(conftest)
            if parent == rootdir or rootdir not in parent.parents:
                break
        if root.is_file():
            files.append(root)
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(
                d
                for d in dirnames
                if not d.startswith(".")
                and d not in _SKIP_DIRS
                and not (Path(dirpath) / d / "pyvenv.cfg").exists()
            )
            files.extend(Path(dirpath) / f for f in sorted(filenames) if f.endswith(".py"))
            if len(files) > MAX_SCANNED_FILES:
                break
    names: set[str] = set()
    for path in dict.fromkeys(files[:MAX_SCANNED_FILES]):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if "password_env" in text:
            names |= password_env_arguments(text)
    return names


def worker_pid(node: Any) -> int | None:
    """The pid of an xdist worker started on this machine (a ``popen`` gateway) and still
    running; None for a remote one (``ssh=``, ``socket=``) or when execnet keeps it elsewhere."""
    gateway = getattr(node, "gateway", None)
    if not getattr(getattr(gateway, "spec", None), "popen", False):
        return None
    popen = getattr(getattr(gateway, "_io", None), "popen", None)
    pid = getattr(popen, "pid", None)
    if not isinstance(pid, int) or getattr(popen, "returncode", None) is not None:
        return None
    return pid


def auto_workers(config: pytest.Config) -> int | None:
    """``-n auto`` when the run has hosts: :data:`WORKERS_PER_CORE` per core
    (:data:`FLEET_WORKERS_PER_CORE` with ``--fleet``), never more
    workers than the run's hosts (a worker gets whole hosts), wherever they come from: a
    host list, an inventory file or Ansible source (read here as the run will read it,
    ``--hosts-limit`` and ``--hosts-shard`` applied), the container targets. None (xdist's own
    count, one per core) without hosts, with ``PYTEST_XDIST_AUTO_NUM_WORKERS``, or when the
    hosts cannot be read (reported, with its reason, at session start)."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    try:
        settings = read_settings(config)
    except pytest.UsageError:
        return None  # reported, with its reason, at session start
    if not (settings.hosts or settings.docker_targets or settings.ansible_inventory):
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    per_core = FLEET_WORKERS_PER_CORE if settings.fleet else WORKERS_PER_CORE
    workers = per_core * (cores or 1)
    hosts = len(settings.docker_targets or ())  # one container per kind
    if settings.hosts or settings.ansible_inventory:
        try:
            hosts += len(RunState.build(settings).selected)
        except FabricPlusError:
            return None
    return min(workers, max(1, hosts))
