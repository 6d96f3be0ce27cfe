"""The command line of the package: ``python -m pytest_fabricplus COMMAND [OPTIONS]``.

``--help`` lists the commands.  Each command is one :class:`Command` in :data:`COMMANDS`
(its name, a one-line help, a function adding its options, a function running it): adding
a command is adding an entry.  A command signals a failure by raising :class:`CLIError`
(or returning non-zero); :func:`main` prints ``python -m pytest_fabricplus NAME: error:
MESSAGE`` and exits 2 — no traceback, as for a wrong option.

Commands load what they need when they run: ``--help`` loads nothing heavy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["COMMANDS", "CLIError", "Command", "main"]

PROG = "python -m pytest_fabricplus"
USAGE_ERROR = 2


class CLIError(Exception):
    """A command failed; the message says why and what to do (printed without traceback)."""


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    """One line, shown in ``--help``'s list of commands."""
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    description: str = ""


# -- build-base -----------------------------------------------------------------------------
_BUILD_BASE_DESCRIPTION = """\
Build the registry-free base image fabricplus-base/debian:bookworm, which the
--docker-targets images are built on when ubuntu:22.04 / centos:7 cannot be pulled
(machines without an image registry, or FABRICPLUS_DOCKER_PULL=0). It debootstraps a
minimal Debian from Debian's apt archive and imports it with 'docker import'.

Needs root (debootstrap), the debootstrap and docker commands and a running Docker daemon.
Idempotent: when the image exists nothing is done. Runs the builder shipped with the
package (_containers/base/build-base-image.sh in pytest_fabricplus).
"""


def _add_build_base(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--force", action="store_true", help="rebuild the image (and its rootfs) even if it exists"
    )
    parser.add_argument(
        "--mirror",
        metavar="URL",
        help="the Debian mirror to debootstrap from (default http://deb.debian.org/debian; "
        "environment FABRICPLUS_MIRROR)",
    )
    parser.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="where the debootstrap rootfs is kept (default /var/cache/fabricplus; "
        "environment FABRICPLUS_CACHE_DIR)",
    )


def _builder_script() -> str:
    from .integrations.docker.common import DockerError
    from .integrations.docker.images import base_image_builder

    try:
        return str(base_image_builder())
    except DockerError as exc:
        raise CLIError(str(exc)) from None


def _run_build_base(args: argparse.Namespace) -> int:
    script = _builder_script()
    bash = shutil.which("bash")
    if bash is None:
        raise CLIError("bash is not installed; the base image builder is a bash script")
    env = dict(os.environ)
    if args.mirror:
        env["FABRICPLUS_MIRROR"] = args.mirror
    if args.cache_dir:
        env["FABRICPLUS_CACHE_DIR"] = args.cache_dir
    command = [bash, script] + (["--force"] if args.force else [])
    code = subprocess.call(command, env=env)
    if code != 0:
        raise CLIError(f"the base image builder failed (exit {code}); see its message above")
    return 0


# -- containers-dir ---------------------------------------------------------------------------
def _add_nothing(parser: argparse.ArgumentParser) -> None:
    return None


def _run_containers_dir(args: argparse.Namespace) -> int:
    from .integrations.docker.common import DockerError
    from .integrations.docker.images import containers_dir

    try:
        print(containers_dir())
    except DockerError as exc:
        raise CLIError(str(exc)) from None
    return 0


# -- merge-reports ----------------------------------------------------------------------------
_MERGE_DESCRIPTION = """\
Merge the --compliance-json documents of --hosts-shard jobs into one fleet report: the
union of their hosts (a host in two files is an error), their controls (the same control
with different metadata in two files is an error naming both), their waivers (statuses
recomputed from their hosts: applied anywhere wins, not needed only where every host it
selects passed) and baselines. Scores are recomputed as Heimdall and saf compute them.
The exit status is recomputed over the fleet: with --fail-under PERCENT (or the threshold
the shards ran with) 1 when a host scores below it or errored, without one 1 when any
control failed unwaived or errored; either way 1 when a shard selected a host it has no
results for, or did not finish (exit status 2-5): no verdict without hosts. Else 0.
Unreadable or invalid files: exit 2.

  python -m pytest_fabricplus merge-reports shard-*.json --html fleet.html --json fleet.json
"""


def _percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 100.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 100: {text!r}")
    return value


def _add_merge_reports(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files", nargs="+", metavar="FILE.json", help="--compliance-json documents of the shards"
    )
    parser.add_argument("--json", metavar="FILE", help="write the merged --compliance-json here")
    parser.add_argument("--html", metavar="FILE", help="write the fleet HTML report here")
    parser.add_argument(
        "--inspec-json", metavar="DIR", help="write one InSpec exec-JSON document per host into DIR"
    )
    parser.add_argument(
        "--fail-under",
        metavar="PERCENT",
        type=_percent,
        help="the gate: fail (exit 1) when a host scores below PERCENT or "
        "errored (default: the shards' --compliance-fail-under)",
    )


def _run_merge_reports(args: argparse.Namespace) -> int:
    import json

    from .compliance.html import write_html
    from .compliance.inspec import write_inspec_dir
    from .compliance.merge import MergeError, gate_failures, load_document, merge_documents
    from .compliance.waivers import describe_status

    try:
        docs = [(path, load_document(path)) for path in args.files]
        fleet = merge_documents(docs, fail_under=args.fail_under)
    except MergeError as exc:
        raise CLIError(str(exc)) from None
    written = []
    try:
        if args.json:  # its folder made, as --compliance-json and --html do
            folder = Path(args.json).parent
            if not folder.exists():  # (a file there: open() names it below)
                folder.mkdir(parents=True)
            with open(args.json, "w", encoding="utf-8") as f:
                json.dump(fleet, f, indent=1, ensure_ascii=False)
                f.write("\n")
            written.append(args.json)
        if args.html:
            written.append(str(write_html(fleet, args.html)))
        if args.inspec_json:
            files = write_inspec_dir(fleet, args.inspec_json)
            written.append(f"{args.inspec_json} ({len(files)} files)")
    except OSError as exc:
        raise CLIError(f"cannot write {exc.filename}: {exc.strerror or exc}") from None
    print(
        f"merged {len(docs)} file(s): {len(fleet['hosts'])} hosts, "
        f"{len(fleet['controls'])} controls"
    )
    for line in gate_failures(fleet, fleet["threshold"]):
        print(f"  {line}")
    for w in fleet["waivers"]:  # the words of the run's terminal, over the fleet
        if w.get("status") != "applied" or set((w.get("on_hosts") or {}).values()) - {"applied"}:
            what = f"control {w.get('control')}" if w.get("control") else f"test {w.get('test')}"
            print(f"  {w.get('source')}: waiver for {what}: {describe_status(w)}")
    for item in written:
        print(f"wrote {item}")
    code: int = fleet["exit_status"]
    return code


COMMANDS: list[Command] = [
    Command(
        "build-base",
        "build the registry-free base image for --docker-targets (no image registry needed)",
        _add_build_base,
        _run_build_base,
        _BUILD_BASE_DESCRIPTION,
    ),
    Command(
        "containers-dir",
        "print the directory of the target build context (Dockerfiles, compose.yaml)",
        _add_nothing,
        _run_containers_dir,
        "Print the --docker-targets build context in use: $FABRICPLUS_CONTAINERS_DIR, else "
        'the copy shipped with the package. E.g. docker compose -f "$(python -m '
        'pytest_fabricplus containers-dir)/compose.yaml" up -d',
    ),
    Command(
        "merge-reports",
        "merge the --compliance-json of --hosts-shard jobs into one fleet report "
        "(HTML, JSON, InSpec)",
        _add_merge_reports,
        _run_merge_reports,
        _MERGE_DESCRIPTION,
    ),
]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="pytest-fabricplus helper commands (the plugin itself runs in pytest).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for command in COMMANDS:
        child = sub.add_parser(
            command.name,
            help=command.help,
            description=command.description or command.help,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.add_arguments(child)
        child.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)  # exits 2 with argparse's message on a usage error
    if args.command is None:
        parser.print_help(sys.stderr)
        return USAGE_ERROR
    try:
        code: int = args.run(args)
    except CLIError as exc:
        sys.stderr.write(f"{PROG} {args.command}: error: {exc}\n")
        return USAGE_ERROR
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG} {args.command}: interrupted\n")
        return 130
    return code
