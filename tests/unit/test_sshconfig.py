"""ssh/sshconfig.py: ssh client config as OpenSSH reads it (``ssh -G``), and the fallback.

The resolution tests run the real local ``ssh -G`` (no network: it only prints the config).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pytest_fabricplus.errors import ConfigError
from pytest_fabricplus.settings import Settings
from pytest_fabricplus.ssh.connector import keepalive_for
from pytest_fabricplus.ssh.sshconfig import (
    HostQuery,
    SshConfigResolver,
    check_args,
    expand_proxy_command,
    fallback_note,
    from_ssh_g,
)

#: the OpenSSH client is part of the test setup (as sshd is): missing, these tests fail
SSH = shutil.which("ssh")


def test_check_args_keeps_honoured_warns_about_the_rest() -> None:
    kept, warnings = check_args(
        [
            "-o",
            "ProxyJump=bastion",
            "-oUserKnownHostsFile=/x",
            "-J",
            "a,b",
            "-p2222",
            "-l",
            "me",
            "-i",
            "/k",
            "-o",
            "ControlMaster=auto",
            "-A",
            "-o",
            "Ciphers=aes128-ctr",
            "-qT",  # harmless: quietly accepted
            "-o",
            "BatchMode=yes",
            "-L",
            "8080:localhost:80",
        ],
        "web1",
    )
    assert kept == [
        "-o",
        "ProxyJump=bastion",
        "-o",
        "UserKnownHostsFile=/x",
        "-J",
        "a,b",
        "-p",
        "2222",
        "-l",
        "me",
        "-i",
        "/k",
    ]
    assert warnings == [
        "web1: ssh argument '-o ControlMaster=auto' is not supported here and is ignored"
        " (control master mode: each test process opens its own connection)",
        "web1: ssh argument '-A' is not supported here and is ignored"
        " (agent forwarding: commands on the host do not reach your ssh agent)",
        "web1: ssh argument '-o Ciphers=aes128-ctr' is not supported here and is ignored"
        " (ciphers are paramiko's, in its order)",
        "web1: ssh argument '-L 8080:localhost:80' is not supported here and is ignored"
        " (local port forwarding: a test run opens no forwards)",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o"], "web1: ssh argument -o needs a value"),
        (["somehost"], "web1: ssh argument 'somehost' is not an option"),
    ],
)
def test_check_args_refuses_what_ssh_would(args: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        check_args(args, "web1")


def test_proxy_command_tokens() -> None:
    assert (
        expand_proxy_command("ssh -W %h:%p %r@jump # %n %% %x", "10.0.0.5", 2222, "bob")
        == "ssh -W 10.0.0.5:2222 bob@jump # 10.0.0.5 % %x"
    )


def test_default_identities_and_known_hosts_are_not_explicit(tmp_path: Path) -> None:
    defaults = [f"~/.ssh/{n}" for n in ("id_rsa", "id_ecdsa", "id_ed25519", "id_dsa")]
    resolved = from_ssh_g(
        {"hostname": ["h"], "port": ["22"], "user": ["u"], "identityfile": defaults}, "h"
    )
    assert resolved.identity_files == ()
    assert resolved.user_known_hosts is None
    assert resolved.known_hosts_files()[:1] == ["~/.ssh/known_hosts"]
    key = tmp_path / "key"
    key.write_text("x")
    resolved = from_ssh_g(
        {
            "hostname": ["h"],
            "identityfile": [str(key), str(tmp_path / "missing")],
            "userknownhostsfile": [f"{tmp_path}/kh1 {tmp_path}/kh2"],
            "stricthostkeychecking": ["true"],
            "connecttimeout": ["7"],
            "serveraliveinterval": ["5"],
        },
        "h",
    )
    assert resolved.identity_files == (str(key),)  # only files that exist
    assert resolved.user_known_hosts == (f"{tmp_path}/kh1", f"{tmp_path}/kh2")
    assert resolved.strict_host_key_checking == "yes"
    assert resolved.connect_timeout == 7.0
    assert resolved.server_alive_interval == 5


def write_config(tmp_path: Path, key: Path) -> Path:
    included = tmp_path / "conf.d" / "web.conf"
    included.parent.mkdir()
    included.write_text(
        "Host web*\n"
        "  HostName 127.0.0.1\n"
        "  Port 2201\n"
        f"  IdentityFile {key}\n"
        # token %h is the host as given, %d the local home
        "  UserKnownHostsFile %d/kh_%h\n"
    )
    config = tmp_path / "config"
    config.write_text(
        # Match exec with a token: true only for the host it names
        'Match originalhost web2 exec "test %n = web2"\n'
        "  User matched\n"
        "  Port 2202\n"
        "Host *\n"  # an Include applies within the block it is in
        f"  Include {included}\n"
        "Host *\n"
        "  User fallback\n"
        "  ProxyCommand ssh -W %h:%p jump\n"
    )
    return config


def test_include_match_tokens_first_match_wins(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("x")
    resolver = SshConfigResolver(str(write_config(tmp_path, key)))
    web1 = resolver.resolve(HostQuery("web1"))
    assert (web1.hostname, web1.port, web1.user) == ("127.0.0.1", 2201, "fallback")
    assert web1.identity_files == (str(key),)
    assert web1.user_known_hosts is not None
    assert web1.user_known_hosts[0].endswith("/kh_127.0.0.1")  # %h: the HostName
    assert web1.proxy_command == "ssh -W 127.0.0.1:2201 jump"  # tokens expanded by us
    assert web1.source == "ssh -G"
    web2 = resolver.resolve(HostQuery("web2"))
    assert (web2.hostname, web2.port, web2.user) == ("127.0.0.1", 2202, "matched")
    # the inventory's user/port beat the config, as ssh's command line does
    fixed = resolver.resolve(HostQuery("web2", port=2300, user="inv"))
    assert (fixed.port, fixed.user) == (2300, "inv")


def test_args_take_effect_as_ssh_applies_them(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("x")
    resolver = SshConfigResolver(str(write_config(tmp_path, key)), extra_args=("-o", "User=x"))
    got = resolver.resolve(
        HostQuery(
            "web1",
            args=("-J", "u@j1:2,j2", "-o", "StrictHostKeyChecking=no", "-p", "9", "-A"),
            name="web1 (web1)",
        )
    )
    assert got.proxy_jump == "u@j1:2,j2"
    assert got.strict_host_key_checking == "no"
    assert got.port == 9
    assert got.user == "x"  # --ssh-extra-args beats the config
    assert got.warnings == (
        "web1 (web1): ssh argument '-A' is not supported here and is ignored"
        " (agent forwarding: commands on the host do not reach your ssh agent)",
    )


def test_lookups_are_cached_and_config_changes_seen(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("x")
    config = write_config(tmp_path, key)
    resolver = SshConfigResolver(str(config))
    for _ in range(3):
        resolver.resolve(HostQuery("web1"))
    assert resolver.lookups == 1
    resolver.resolve(HostQuery("web1", port=1))
    assert resolver.lookups == 2
    os.utime(config, (1, 1))  # another mtime: looked up again
    resolver.resolve(HostQuery("web1"))
    assert resolver.lookups == 3


def test_bad_config_names_host_and_line(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("Host x\n  NoSuchOption 1\n")
    with pytest.raises(ConfigError, match=r"web1: ssh refuses the client config: .*line 2"):
        SshConfigResolver(str(config)).resolve(HostQuery("x", name="web1"))


def test_skip_ssh_g_when_the_config_cannot_change_anything(tmp_path: Path) -> None:
    harmless = tmp_path / "config"
    harmless.write_text("Host *\n  SendEnv LANG\n  HashKnownHosts yes\n")
    resolver = SshConfigResolver(str(harmless))
    got = resolver.resolve(HostQuery("web1", port=2222, user="u"))
    assert (got.hostname, got.port, got.user, got.source) == ("web1", 2222, "u", "none")
    assert resolver.lookups == 0
    # arguments, or any keyword that matters, and ssh -G runs
    assert SshConfigResolver(str(harmless), ("-p", "1")).resolve(HostQuery("w")).port == 1
    harmless.write_text("Host *\n  SendEnv LANG\n  Port 2022\n")
    os.utime(harmless, (5, 5))
    assert resolver.resolve(HostQuery("web1")).port == 2022
    assert resolver.lookups == 1


def test_paramiko_fallback_without_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config"
    config.write_text(
        "Host web1\n  HostName 127.0.0.1\n  Port 2201\n  User cfg\n"
        "  ProxyCommand ssh -W %h:%p jump\n"
    )
    monkeypatch.setenv("PATH", str(tmp_path))  # no ssh on PATH
    resolver = SshConfigResolver(str(config), extra_args=("-o", "User=extra"))
    assert resolver.ssh is None
    got = resolver.resolve(HostQuery("web1", port=2300))
    assert (got.hostname, got.port, got.user, got.source) == (
        "127.0.0.1",
        2300,
        "extra",
        "paramiko",
    )
    assert got.proxy_command == "ssh -W 127.0.0.1:2201 jump"  # paramiko expands with its port
    # the host's own user first, as in the ssh -G order
    assert resolver.resolve(HostQuery("web1", user="inv")).user == "inv"


def test_fallback_note(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    note = fallback_note(None, "/etc/my_config")
    assert note is not None
    assert "no `ssh` client on PATH" in note
    assert "/etc/my_config" in note
    assert "Include" in note
    monkeypatch.undo()
    assert fallback_note() is None


def test_settings_ssh_extra_args_and_explicit() -> None:
    s = Settings.resolve(
        {"ssh_extra_args": None},
        {"fabricplus_ssh_extra_args": "-o 'ProxyCommand=ssh -W %h:%p j' -J b"},
        {"FABRICPLUS_HOST_KEY_POLICY": "warn"},
    )
    assert s.ssh_extra_args == ("-o", "ProxyCommand=ssh -W %h:%p j", "-J", "b")
    assert {"ssh_extra_args", "host_key_policy"} <= s.explicit
    assert "connect_timeout" not in s.explicit
    with pytest.raises(ConfigError, match=r"fabricplus_ssh_extra_args: .*cannot be split"):
        Settings.resolve({}, {"fabricplus_ssh_extra_args": "-o 'unclosed"}, {})


def test_config_options_we_cannot_honour_are_named_per_host(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(
        "Host web1\n  ControlMaster auto\n  ControlPersist 60\n"
        "Host *\n  ForwardAgent no\n  Ciphers aes128-ctr\n  BatchMode yes\n"
    )
    resolver = SshConfigResolver(str(config))
    assert resolver.resolve(HostQuery("web1")).warnings == (
        "web1: the ssh config sets ciphers aes128-ctr, which is not supported here and is ignored",
        "web1: the ssh config sets controlmaster auto, which is not supported here and is ignored",
    )
    # ForwardAgent no is OpenSSH's default, BatchMode and ControlPersist are harmless
    assert resolver.resolve(HostQuery("web2")).warnings == (
        "web2: the ssh config sets ciphers aes128-ctr, which is not supported here and is ignored",
    )


@pytest.mark.parametrize(
    ("text", "host", "port", "user"),
    [
        ("bastion", "bastion", None, None),
        ("me@bastion:2222", "bastion", 2222, "me"),
        ("fptest@[127.0.0.1]:40425", "127.0.0.1", 40425, "fptest"),  # as ssh -G writes it
        ("[::1]:22", "::1", 22, None),
        ("ssh://me@bastion:2222", "bastion", 2222, "me"),
    ],
)
def test_proxyjump_hops(text: str, host: str, port: int | None, user: str | None) -> None:
    from pytest_fabricplus.ssh.registry import parse_hop

    addr = parse_hop(text)
    assert (addr.host, addr.port, addr.user) == (host, port, user)


def test_host_key_alias_and_certificate_files_through_ssh_g(tmp_path: Path) -> None:
    cert = tmp_path / "my-cert.pub"
    cert.write_text("x")
    config = tmp_path / "config"
    config.write_text(
        f"Host web\n  HostKeyAlias web.example\n  CertificateFile {cert}\n"
        f"  CertificateFile {tmp_path}/missing-cert.pub\n"
    )
    resolver = SshConfigResolver(str(config))
    web = resolver.resolve(HostQuery("web"))
    assert web.host_key_alias == "web.example"
    assert web.certificate_files == (str(cert),)  # only files that exist
    assert web.warnings == ()  # both honoured
    other = resolver.resolve(HostQuery("other"))
    assert (other.host_key_alias, other.certificate_files) == (None, ())


@pytest.mark.parametrize(
    ("config", "args", "expected"),
    [
        ("", (), (None, None)),  # ssh -G prints 0 and 3: OpenSSH's defaults, not a choice
        ("Host *\n  ServerAliveInterval 0\n", (), (0, None)),  # written: off
        ("Host *\n  ServerAliveCountMax 5\n", (), (None, 5)),
        ("Host *\n  ServerAliveInterval 7\n", ("-o", "ServerAliveCountMax=2"), (7, 2)),
        ("Host *\n  LogLevel ERROR\n", ("-o", "ServerAliveInterval=0"), (0, None)),
    ],
)
def test_server_alive_options_only_where_written(
    tmp_path: Path, config: str, args: tuple[str, ...], expected: tuple[int | None, int | None]
) -> None:
    path = tmp_path / "ssh_config"
    path.write_text(config)
    resolver = SshConfigResolver(str(path), args, ssh=SSH)
    resolved = resolver.resolve(HostQuery(host="h.example", port=22, user="u", name="h"))
    assert (resolved.server_alive_interval, resolved.server_alive_count_max) == expected
    # and the connector's keepalive: ours where nothing was written, 0 = off
    interval, count = expected
    assert keepalive_for(resolved) == (15 if interval is None else interval, count or 3)
