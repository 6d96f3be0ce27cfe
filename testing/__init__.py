"""The project's own test harness, shared by ``tests/`` and ``bench/`` (not shipped).

``testing.sshd``: real OpenSSH servers on 127.0.0.1 with real system users (needs root).
"""
