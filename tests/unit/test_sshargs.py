"""hosts/sshargs.py: the one policy for OpenSSH arguments, and every place that applies it.

ssh arguments reach us from ``--ssh-extra-args`` (settings), an Ansible inventory's
``ansible_ssh_*_args`` (hosts/ansible.py), testinfra's ``ssh_extra_args`` (hosts/urls.py) and,
per host, the ssh config resolver (ssh/sshconfig.py). Each argument is judged the same in all.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from urllib.parse import quote

import pytest

from pytest_fabricplus.errors import ConfigError, InventoryError
from pytest_fabricplus.hosts import sshargs
from pytest_fabricplus.hosts.ansible import split_ssh_args
from pytest_fabricplus.hosts.urls import parse_spec
from pytest_fabricplus.settings import ssh_args as settings_ssh_args
from pytest_fabricplus.ssh.sshconfig import check_args

HONOUR, QUIET, WARN = sshargs.HONOUR, sshargs.QUIET, sshargs.WARN

#: argument (as written, split) -> verdict; the table the policy must keep
TABLE: list[tuple[list[str], str]] = [
    (["-o", "ProxyJump=bastion"], HONOUR),
    (["-oUserKnownHostsFile=/x"], HONOUR),
    (["-o", "StrictHostKeyChecking no"], HONOUR),
    (["-o", "ServerAliveInterval = 5"], HONOUR),
    (["-J", "a@b:22,c"], HONOUR),
    (["-p2222"], HONOUR),
    (["-l", "me"], HONOUR),
    (["-i", "/k"], HONOUR),
    (["-F", "/cfg"], HONOUR),
    (["-o", "BatchMode=yes"], QUIET),
    (["-o", "ControlPersist=60s"], QUIET),
    (["-q"], QUIET),
    (["-v"], QUIET),
    (["-C"], QUIET),
    (["-T"], QUIET),
    (["-t"], QUIET),
    (["-a"], QUIET),
    (["-x"], QUIET),
    (["-k"], QUIET),
    (["-n"], QUIET),
    (["-E", "/tmp/ssh.log"], QUIET),
    (["-S", "/tmp/ctl"], QUIET),
    # ssh would do these and we cannot: warned about, never errors, so that an inventory
    # shared with playbooks that forward ports stays usable
    (["-L", "8080:localhost:80"], WARN),
    (["-R", "8080:localhost:80"], WARN),
    (["-D", "1080"], WARN),
    (["-W", "h:22"], WARN),
    (["-A"], WARN),
    (["-X"], WARN),
    (["-Y"], WARN),
    (["-4"], WARN),
    (["-6"], WARN),
    (["-c", "aes128-ctr"], WARN),
    (["-m", "hmac-sha2-256"], WARN),
    (["-M"], WARN),
    (["-o", "ControlMaster=auto"], WARN),
    (["-o", "ForwardAgent=yes"], WARN),
    (["-o", "LocalForward=8080 localhost:80"], WARN),
    (["-o", "Ciphers=aes128-ctr"], WARN),
    (["-o", "SomeFutureOption=1"], WARN),
    # the command's environment would differ from ssh's: said, not silent
    (["-o", "SetEnv=LANG=C"], WARN),
    (["-o", "SendEnv=LANG"], QUIET),  # Debian's stock config: sshd decides, by AcceptEnv
]

#: what ssh itself refuses -> the words of our message
REFUSED: list[tuple[list[str], str]] = [
    (["-o"], "-o needs a value"),
    (["-L"], "-L needs a value"),
    (["somehost"], "'somehost' is not an option"),
    (["-Z"], "-Z (in '-Z') is not an ssh option"),
    (["-qZ"], "-Z (in '-qZ') is not an ssh option"),
    (["-o", "Port=99999"], "-o Port='99999' is not a port"),
    (["-p", "x"], "-p 'x' is not a port"),
    (["-o", "NoValue"], "-o 'NoValue' is not Key=Value"),
    (["-o", "StrictHostKeyChecking=perhaps"], "-o StrictHostKeyChecking='perhaps' is not"),
    (["-J", "u@h:notaport"], "-J 'u@h:notaport'"),
]


@pytest.mark.parametrize(("args", "verdict"), TABLE, ids=[" ".join(a) for a, _ in TABLE])
def test_policy_table(args: list[str], verdict: str) -> None:
    (arg,) = sshargs.parse(args)
    assert arg.verdict == verdict
    assert arg.rule.why  # every verdict says why
    kept, warnings = check_args(args, "web1")
    assert kept == (list(arg.tokens) if verdict == HONOUR else [])
    if verdict == WARN:
        assert warnings == [
            f"web1: ssh argument '{arg.shown}' is not supported here and is ignored "
            f"({arg.rule.why})"
        ]
    else:
        assert warnings == []
    # an Ansible inventory keeps every argument (the resolver warns per host when it
    # connects); --ssh-extra-args and testinfra's ssh_extra_args accept it too
    assert split_ssh_args("ansible_ssh_common_args", shlex.join(args)) == arg.tokens
    assert settings_ssh_args(shlex.join(args)) == tuple(args)
    (spec,) = parse_spec("ssh://h?ssh_extra_args=" + quote(shlex.join(args)), "--hosts")
    assert spec.ssh_args == tuple(args)


@pytest.mark.parametrize(("args", "words"), REFUSED, ids=[" ".join(a) for a, _ in REFUSED])
def test_refused_everywhere_alike(args: list[str], words: str) -> None:
    with pytest.raises(sshargs.SshArgError, match=re.escape(words)):
        sshargs.parse(args)
    with pytest.raises(ConfigError, match=re.escape(f"web1: ssh argument {words}")):
        check_args(args, "web1")
    text = shlex.join(args)
    with pytest.raises(ValueError, match=re.escape(f"ansible_ssh_extra_args: {words}")):
        split_ssh_args("ansible_ssh_extra_args", text)
    with pytest.raises(ValueError, match=re.escape(words)):
        settings_ssh_args(text)
    with pytest.raises(InventoryError, match=re.escape(words)):
        parse_spec("ssh://h?ssh_extra_args=" + quote(shlex.join(args)), "--hosts")


def test_grouped_flags_and_attached_values_read_as_getopt() -> None:
    parsed = sshargs.parse(["-qTp2222", "-Ao", "ControlMaster=no"])
    assert [a.tokens for a in parsed] == [
        ("-q",),
        ("-T",),
        ("-p", "2222"),
        ("-A",),
        ("-o", "ControlMaster=no"),
    ]
    assert sshargs.honoured(parsed) == ["-p", "2222"]
    assert [w.split("'")[1] for w in sshargs.warnings(parsed, "h")] == [
        "-A",
        "-o ControlMaster=no",
    ]


def test_every_flag_of_the_installed_ssh_has_a_rule() -> None:
    ssh = shutil.which("ssh")
    assert ssh is not None, "the OpenSSH client is part of the test setup"
    usage = subprocess.run([ssh, "-?"], capture_output=True, text=True, check=False).stderr
    plain = set(re.search(r"\[-([0-9A-Za-z]+)\]", usage).group(1))  # type: ignore[union-attr]
    with_value = set(re.findall(r"\[-([A-Za-z]) [a-z_\[]", usage))
    assert len(plain) > 20  # the usage text was read
    assert len(with_value) > 15
    assert plain <= set(sshargs.FLAGS)
    assert with_value <= set(sshargs.VALUE_FLAGS)
    assert not set(sshargs.FLAGS) & set(sshargs.VALUE_FLAGS)
