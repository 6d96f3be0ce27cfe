#!/bin/sh
# Entrypoint of the pytest-fabricplus SSH targets.
#
# Applies per-run credentials, generates this container's host keys, then runs CMD
# (default: /usr/sbin/sshd -D -e, i.e. sshd in the foreground logging to stderr).
#
# Environment (all optional; without them the TEST-ONLY defaults from provision.sh stay):
#   FABRICPLUS_PASSWORD_FPUSER, FABRICPLUS_PASSWORD_FPSU,
#   FABRICPLUS_PASSWORD_FPSUDO, FABRICPLUS_PASSWORD_FPNOPASS
#                               password for that user (no newline; any other character)
#   FABRICPLUS_AUTHORIZED_KEYS  OpenSSH public key line(s), newline separated; written to
#                               ~/.ssh/authorized_keys of every test user
# The variables are removed from the environment before sshd starts, so no session
# inherits them.
set -eu

USERS="fpuser fpsu fpsudo fpnopass"

for u in $USERS; do
    var="FABRICPLUS_PASSWORD_$(printf '%s' "$u" | tr '[:lower:]' '[:upper:]')"
    eval "pw=\${$var:-}"
    if [ -n "$pw" ]; then
        printf '%s:%s\n' "$u" "$pw" | chpasswd
    fi
    unset "$var" pw
done

if [ -n "${FABRICPLUS_AUTHORIZED_KEYS:-}" ]; then
    for u in $USERS; do
        home="$(getent passwd "$u" | cut -d: -f6)"
        install -d -m 0700 -o "$u" -g "$u" "$home/.ssh"
        printf '%s\n' "$FABRICPLUS_AUTHORIZED_KEYS" > "$home/.ssh/authorized_keys"
        chown "$u:$u" "$home/.ssh/authorized_keys"
        chmod 0600 "$home/.ssh/authorized_keys"
    done
fi
unset FABRICPLUS_AUTHORIZED_KEYS

# Fresh host keys for this container (the image carries none).
ssh-keygen -A >/dev/null
mkdir -p /run/sshd /var/run/sshd
chmod 0755 /run/sshd

if [ "$#" -eq 0 ]; then
    set -- /usr/sbin/sshd -D -e
fi
if [ "$1" = /usr/sbin/sshd ]; then
    /usr/sbin/sshd -t || { echo "entrypoint: sshd configuration test failed" >&2; exit 1; }
fi
exec "$@"
