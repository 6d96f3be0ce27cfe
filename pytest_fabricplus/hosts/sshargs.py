"""OpenSSH client arguments: the one policy of which we honour, ignore or refuse.

Users write ssh arguments in three places: ``--ssh-extra-args``, an Ansible inventory's
``ansible_ssh_args`` / ``ansible_ssh_common_args`` / ``ansible_ssh_extra_args`` (and their
ansible.cfg / ``ANSIBLE_SSH_*`` defaults), and testinfra's ``ssh_extra_args``. Every one of
them is read by :func:`parse` here, so an argument means the same wherever it is written:

* **refused** (:class:`SshArgError`): what ``ssh`` itself refuses -- an unknown flag, a flag
  missing its value, a host name or command among the arguments, ``-o`` that is not
  ``Key=Value``, a port that is not a port, an unknown ``StrictHostKeyChecking`` value, a bad
  ``-J`` hop. The callers raise it where it was written (``file:line``, option, host spec).
* **honoured** (:data:`HONOUR`): passed to ``ssh -G``, which resolves them with the ssh config:
  ``-F -i -J -l -p`` and ``-o`` with a key of :data:`HONOURED_OPTIONS`.
* **quiet** (:data:`QUIET`): they change nothing about whom we reach, how safely, or what a
  command sees (logging, compression, switches that turn off what we never do).
* **warned** (:data:`WARN`): ssh would honour them and we cannot; the run goes on without them
  and says so once per host, naming the argument and why. Forwardings (``-L -R -D -W``, ``-A``,
  ``-X``) are here: a test run opens no forwards, and an inventory shared with playbooks that
  forward a port must still be usable for tests, so they are not errors.

Pure: no paramiko, no subprocess (``ssh -G`` runs in ``ssh/sshconfig.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from .spec import Address

Verdict = Literal["honour", "quiet", "warn"]
HONOUR: Verdict = "honour"
QUIET: Verdict = "quiet"
WARN: Verdict = "warn"


class SshArgError(ValueError):
    """An argument ``ssh`` itself would refuse (the message names it)."""


@dataclass(frozen=True)
class Rule:
    verdict: Verdict
    #: why (for a warning: what is lost; for the others: why it is safe or used)
    why: str


#: flags without a value (OpenSSH 9: ``ssh [-46AaCfGgKkMNnqsTtVvXxYy]``)
FLAGS: Mapping[str, Rule] = {
    "4": Rule(WARN, "the address family is not restricted: every address of the name is tried"),
    "6": Rule(WARN, "the address family is not restricted: every address of the name is tried"),
    "A": Rule(WARN, "agent forwarding: commands on the host do not reach your ssh agent"),
    "a": Rule(QUIET, "turns agent forwarding off, which we never do"),
    "C": Rule(QUIET, "compression only changes speed"),
    "f": Rule(WARN, "ssh going to the background has no meaning in a test run"),
    "G": Rule(WARN, "prints the configuration and exits; we run ssh -G ourselves"),
    "g": Rule(QUIET, "concerns forwarded ports, which we never open"),
    "K": Rule(WARN, "GSSAPI authentication and credential delegation are not offered"),
    "k": Rule(QUIET, "turns GSSAPI delegation off, which we never do"),
    "M": Rule(WARN, "control master mode: each test process opens its own connection"),
    "N": Rule(QUIET, "no remote command: tests run their own commands"),
    "n": Rule(QUIET, "commands get stdin only when a test gives them some"),
    "q": Rule(QUIET, "ssh's own log"),
    "s": Rule(WARN, "a subsystem request: tests run commands"),
    "T": Rule(QUIET, "a terminal is requested per command (pty=True), not per connection"),
    "t": Rule(QUIET, "a terminal is requested per command (pty=True), not per connection"),
    "V": Rule(WARN, "prints ssh's version and exits"),
    "v": Rule(QUIET, "ssh's own log"),
    "X": Rule(WARN, "X11 forwarding: a test run opens no forwards"),
    "x": Rule(QUIET, "turns X11 forwarding off, which we never do"),
    "Y": Rule(WARN, "X11 forwarding: a test run opens no forwards"),
    "y": Rule(QUIET, "ssh's own log"),
}
#: flags with a value (``-L 8080:h:80`` or ``-L8080:h:80``)
VALUE_FLAGS: Mapping[str, Rule] = {
    "B": Rule(WARN, "the local interface to connect from is the one the system picks"),
    "b": Rule(WARN, "the local address to connect from is the one the system picks"),
    "c": Rule(WARN, "ciphers are paramiko's, in its order"),
    "D": Rule(WARN, "dynamic port forwarding: a test run opens no forwards"),
    "E": Rule(QUIET, "ssh's own log file"),
    "e": Rule(QUIET, "the escape character of an interactive session"),
    "F": Rule(HONOUR, "the ssh config file ssh -G reads"),
    "I": Rule(WARN, "PKCS#11 keys are not offered"),
    "i": Rule(HONOUR, "a key to offer"),
    "J": Rule(HONOUR, "jump hosts"),
    "L": Rule(WARN, "local port forwarding: a test run opens no forwards"),
    "l": Rule(HONOUR, "the user to log in as"),
    "m": Rule(WARN, "MACs are paramiko's, in its order"),
    "O": Rule(WARN, "a control master command: there is no control master"),
    "o": Rule(HONOUR, "an ssh config option (see HONOURED_OPTIONS)"),
    "P": Rule(WARN, "tags for Match tagged are not passed on"),
    "p": Rule(HONOUR, "the port"),
    "Q": Rule(WARN, "a query that prints and exits"),
    "R": Rule(WARN, "remote port forwarding: a test run opens no forwards"),
    "S": Rule(QUIET, "the control socket, used only with a control master"),
    "W": Rule(WARN, "stdio forwarding: reach a host through another with ProxyJump"),
    "w": Rule(WARN, "tunnel devices: a test run opens no forwards"),
}

#: ``-o`` keys (lower case) we honour: passed to ``ssh -G``
HONOURED_OPTIONS = frozenset(
    {
        "hostname",
        "user",
        "port",
        "identityfile",
        "certificatefile",
        "proxyjump",
        "proxycommand",
        "userknownhostsfile",
        "globalknownhostsfile",
        "stricthostkeychecking",
        "hostkeyalias",
        "connecttimeout",
        "serveraliveinterval",
        "serveralivecountmax",
    }
)
#: ``-o`` keys that do not change whom we reach or how safely: accepted quietly (also in ssh
#: config files: ``ssh/sshconfig.py`` names only the other keywords a file sets)
HARMLESS_OPTIONS = frozenset(
    {
        "batchmode",  # we never prompt
        "loglevel",
        "requesttty",
        # ssh sends these variables only where sshd's AcceptEnv allows; Debian's stock
        # ssh_config sends LANG LC_*: commands here get the host's own locale instead
        "sendenv",
        "hashknownhosts",  # only how ssh writes known_hosts; we never write it
        "checkhostip",
        "updatehostkeys",
        "visualhostkey",
        "tcpkeepalive",
        "identitiesonly",
        "passwordauthentication",
        "kbdinteractiveauthentication",
        "pubkeyauthentication",
        "preferredauthentications",
        "gssapiauthentication",
        "gssapidelegatecredentials",
        "addkeystoagent",
        "numberofpasswordprompts",
        "connectionattempts",
        "escapechar",
        "compression",
        "controlpath",
        "controlpersist",  # meaningless without ControlMaster (warned about on its own)
        "canonicalizehostname",
        "canonicaldomains",
        "canonicalizemaxdots",
        "canonicalizefallbacklocal",
        "canonicalizepermittedcnames",
    }
)
#: why some other ``-o`` keys are warned about (the rest: :data:`OTHER_OPTION`)
WARNED_OPTIONS: Mapping[str, str] = {
    "forwardagent": "agent forwarding: commands on the host do not reach your ssh agent",
    "localforward": "port forwarding: a test run opens no forwards",
    "remoteforward": "port forwarding: a test run opens no forwards",
    "dynamicforward": "port forwarding: a test run opens no forwards",
    "forwardx11": "X11 forwarding: a test run opens no forwards",
    "forwardx11trusted": "X11 forwarding: a test run opens no forwards",
    "controlmaster": "control master mode: each test process opens its own connection",
    "ciphers": "ciphers are paramiko's, in its order",
    "macs": "MACs are paramiko's, in its order",
    "kexalgorithms": "key exchange algorithms are paramiko's, in its order",
    "addressfamily": "the address family is not restricted: every address of the name is tried",
    "bindaddress": "the local address to connect from is the one the system picks",
    "pkcs11provider": "PKCS#11 keys are not offered",
    "setenv": "environment variables are not sent to the host: set them in the command "
    "(env NAME=value ...)",
}
OTHER_OPTION = "not one of the options we resolve"

_OPTION_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
#: ``StrictHostKeyChecking`` values ssh accepts
STRICT_VALUES = ("yes", "no", "ask", "accept-new", "off", "true", "false")


@dataclass(frozen=True)
class Arg:
    """One argument as written, what it became, and the rule that applies."""

    #: as a message shows it: ``-A``, ``-L 8080:h:80``, ``-o ControlMaster=auto``
    shown: str
    #: normalised: ``("-A",)``, ``("-L", "8080:h:80")``, ``("-o", "ControlMaster=auto")``
    tokens: tuple[str, ...]
    rule: Rule

    @property
    def verdict(self) -> Verdict:
        return self.rule.verdict


def option_key(value: str) -> str:
    """The key of ``-o`` text (``Key=Value``, ``Key Value``, ``Key = Value``), lower case."""
    return value.replace("=", " ", 1).split(None, 1)[0].lower() if value.strip() else ""


def option_rule(key: str) -> Rule:
    """The rule for ``-o KEY=...`` (``key`` lower case)."""
    if key in HONOURED_OPTIONS:
        return Rule(HONOUR, "resolved with the ssh config")
    if key in HARMLESS_OPTIONS:
        return Rule(QUIET, "changes nothing about whom we reach or how safely")
    return Rule(WARN, WARNED_OPTIONS.get(key, OTHER_OPTION))


def _check_value(flag: str, value: str) -> None:
    """What ssh would refuse in a flag's value."""
    if flag == "o":
        name, sep, text = value.partition("=")
        if not sep:
            name, _, text = value.strip().partition(" ")
        name, text = name.strip(), text.strip()
        if not _OPTION_NAME.match(name) or not text:
            raise SshArgError(f"-o {value!r} is not Key=Value")
        lowered = name.lower()
        if lowered == "port" and not _is_port(text):
            raise SshArgError(f"-o Port={text!r} is not a port")
        if lowered == "stricthostkeychecking" and text.lower() not in STRICT_VALUES:
            raise SshArgError(
                f"-o StrictHostKeyChecking={text!r} is not one of {', '.join(STRICT_VALUES)}"
            )
    elif flag == "p" and not _is_port(value):
        raise SshArgError(f"-p {value!r} is not a port")
    elif flag == "J" and value.lower() != "none":
        for hop in value.split(","):
            try:
                Address.parse(hop.removeprefix("ssh://"))
            except ValueError as exc:
                raise SshArgError(f"-J {value!r}: {exc}") from None


def _is_port(text: str) -> bool:
    return text.isdigit() and 1 <= int(text) <= 65535


def parse(args: Sequence[str]) -> list[Arg]:
    """Read ssh arguments (already split) as ``ssh`` would, each with its :class:`Rule`.

    Grouped flags (``-qT``, ``-Ap2222``) and attached values (``-p2222``, ``-oKey=V``) are
    read as ssh's getopt reads them. Raises :class:`SshArgError` for what ssh refuses.
    """
    found: list[Arg] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("-") or arg == "-" or len(arg) < 2:
            raise SshArgError(
                f"{arg!r} is not an option (host names and commands cannot be given "
                "in ssh arguments; use -o Key=Value, -J, -i, -p, -l)"
            )
        letters = arg[1:]
        j = 0
        while j < len(letters):
            flag = letters[j]
            if flag in VALUE_FLAGS:
                value = letters[j + 1 :]
                if not value:
                    i += 1
                    if i >= len(args):
                        raise SshArgError(f"-{flag} needs a value")
                    value = args[i]
                _check_value(flag, value)
                rule = option_rule(option_key(value)) if flag == "o" else VALUE_FLAGS[flag]
                found.append(Arg(f"-{flag} {value}", (f"-{flag}", value), rule))
                break
            rule_or_none = FLAGS.get(flag)
            if rule_or_none is None:
                raise SshArgError(f"-{flag} (in {arg!r}) is not an ssh option")
            found.append(Arg(f"-{flag}", (f"-{flag}",), rule_or_none))
            j += 1
        i += 1
    return found


def honoured(parsed: Sequence[Arg]) -> list[str]:
    """The arguments for ``ssh -G``, normalised (``-o VALUE``, ``-p PORT``, ...)."""
    return [token for arg in parsed if arg.verdict == HONOUR for token in arg.tokens]


def warnings(parsed: Sequence[Arg], name: str) -> list[str]:
    """One line per argument we cannot honour, naming ``name`` (the host), it, and why."""
    return [
        f"{name}: ssh argument '{arg.shown}' is not supported here and is ignored ({arg.rule.why})"
        for arg in parsed
        if arg.verdict == WARN
    ]
