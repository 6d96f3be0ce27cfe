#!/bin/sh
# Provision a pytest-fabricplus SSH target image.  Shared by containers/ubuntu/Dockerfile
# and containers/centos7/Dockerfile (the build context is containers/, see README.md).
#
# usage: provision.sh KIND        KIND = ubuntu | centos7
#
# Knows apt (Debian/Ubuntu) and yum (CentOS 7).  Installs only what a target needs:
# openssh-server, sudo, python3 (for testinfra); creates the test users; writes
# the marker file /etc/fabricplus-target.  Host keys are NOT baked into the image:
# the entrypoint generates them at container start (ssh-keygen -A), so every
# container has its own keys.
#
# Users (passwords here are TEST-ONLY defaults; the entrypoint replaces them at
# container start from FABRICPLUS_PASSWORD_<USER> when given):
#   fpuser    login user (key + password); sudoer WITH password
#   fpsu      su target (password); no sudo
#   fpsudo    sudoer WITH password
#   fpnopass  sudoer with NOPASSWD
set -eu

KIND="${1:?usage: provision.sh ubuntu|centos7}"
LIB=/usr/local/lib/fabricplus
USERS="fpuser fpsu fpsudo fpnopass"

log() { printf 'provision: %s\n' "$*"; }

case "$KIND" in
    ubuntu|centos7) ;;
    *) echo "provision: unknown target kind '$KIND' (expected ubuntu or centos7)" >&2; exit 2 ;;
esac

# --- packages --------------------------------------------------------------------
if command -v apt-get >/dev/null 2>&1; then
    PKG=apt
    export DEBIAN_FRONTEND=noninteractive
    log "apt: installing openssh-server sudo python3 iproute2 (ss, for testinfra's socket module)"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends openssh-server sudo python3 iproute2 >/dev/null
    apt-get clean
    rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log
    BASE_FAMILY=debian
elif command -v yum >/dev/null 2>&1; then
    PKG=yum
    if grep -qs 'release 7' /etc/centos-release; then
        # CentOS 7 is end-of-life: mirror.centos.org and the mirrorlist are gone; the
        # packages live on in the vault archive.
        log "yum: pointing CentOS 7 repositories at vault.centos.org"
        sed -i -e 's/^mirrorlist=/#mirrorlist=/' \
               -e 's|^#\{0,1\}baseurl=http://mirror.centos.org|baseurl=http://vault.centos.org|' \
               /etc/yum.repos.d/CentOS-*.repo
        if [ -f /etc/yum/pluginconf.d/fastestmirror.conf ]; then
            sed -i 's/^enabled=1/enabled=0/' /etc/yum/pluginconf.d/fastestmirror.conf
        fi
    fi
    log "yum: installing openssh-server sudo python3 iproute"
    yum install -y -q openssh-server sudo python3 passwd iproute
    yum clean all -q
    rm -rf /var/cache/yum
    BASE_FAMILY=rhel
else
    echo "provision: neither apt-get nor yum found; unsupported base image" >&2
    exit 1
fi

# --- marker file -------------------------------------------------------------------
# One line, shown by the plugin in its report header.  When the image is built on a
# base that is not the named distribution, the marker says so plainly.
if [ "$KIND" = centos7 ] && [ "$BASE_FAMILY" != rhel ]; then
    MARKER="centos7 (el7-emulated on ${BASE_FAMILY} base)"
    EMULATE_EL7_SU=1
elif [ "$KIND" = ubuntu ] && ! grep -qs '^ID=ubuntu' /etc/os-release; then
    MARKER="ubuntu (${BASE_FAMILY} base)"
    EMULATE_EL7_SU=0
else
    MARKER="$KIND"
    EMULATE_EL7_SU=0
fi
printf '%s\n' "$MARKER" > /etc/fabricplus-target
chmod 0644 /etc/fabricplus-target
log "marker: $MARKER"

# --- users -------------------------------------------------------------------------
for u in $USERS; do
    if ! id "$u" >/dev/null 2>&1; then
        useradd --create-home --shell /bin/bash "$u"
    fi
    # TEST-ONLY default password: "<user>-test-only".  Replaced at container start.
    printf '%s:%s-test-only\n' "$u" "$u" | chpasswd
    home="$(getent passwd "$u" | cut -d: -f6)"
    install -d -m 0700 -o "$u" -g "$u" "$home/.ssh"
done

# --- sudo --------------------------------------------------------------------------
cat > /etc/sudoers.d/fabricplus <<'SUDOERS'
# pytest-fabricplus test target (TEST-ONLY accounts)
Defaults lecture = never
fpuser    ALL=(ALL:ALL) ALL
fpsudo    ALL=(ALL:ALL) ALL
fpnopass  ALL=(ALL:ALL) NOPASSWD: ALL
SUDOERS
chmod 0440 /etc/sudoers.d/fabricplus
# sudo >= 1.9 prints "setrlimit(RLIMIT_CORE): Operation not permitted" in containers,
# which would pollute every pty transcript.
if [ -f /etc/sudo.conf ] && ! grep -qs '^Set disable_coredump' /etc/sudo.conf; then
    echo 'Set disable_coredump false' >> /etc/sudo.conf
elif [ ! -f /etc/sudo.conf ]; then
    echo 'Set disable_coredump false' > /etc/sudo.conf
fi
visudo -c -q

# --- sshd --------------------------------------------------------------------------
# sshd uses the FIRST value it reads for most keywords, and CentOS 7's OpenSSH 7.4 has
# no Include: comment our keywords out wherever they appear and put ours on top.
SSHD_KEYWORDS="PasswordAuthentication PubkeyAuthentication PermitRootLogin UsePAM
    ChallengeResponseAuthentication KbdInteractiveAuthentication MaxStartups MaxSessions
    UseDNS PrintMotd PrintLastLog X11Forwarding"
for k in $SSHD_KEYWORDS; do
    sed -i -e "s/^[[:space:]]*${k}[[:space:]].*/#&/I" /etc/ssh/sshd_config
done
{
    echo '# --- pytest-fabricplus test target (see containers/README.md) ---'
    echo 'PasswordAuthentication yes'
    echo 'PubkeyAuthentication yes'
    echo 'PermitRootLogin no'
    # pam_loginuid cannot write /proc/self/loginuid in an unprivileged container, which
    # would close every session; sshd checks passwords against /etc/shadow itself.
    echo 'UsePAM no'
    echo 'ChallengeResponseAuthentication no'
    echo 'MaxStartups 100'
    echo 'MaxSessions 100'
    echo 'UseDNS no'
    echo 'PrintMotd no'
    echo 'PrintLastLog no'
    echo 'X11Forwarding no'
    echo '# --- end pytest-fabricplus ---'
    cat /etc/ssh/sshd_config
} > /etc/ssh/sshd_config.new
mv /etc/ssh/sshd_config.new /etc/ssh/sshd_config
chmod 0644 /etc/ssh/sshd_config
# Package install may have generated host keys: drop them, the entrypoint makes fresh
# ones per container.
rm -f /etc/ssh/ssh_host_*
mkdir -p /run/sshd /var/run/sshd
chmod 0755 /run/sshd

# Quieter logins: no Debian/Ubuntu motd or legal banner in command output.
rm -f /etc/motd /etc/update-motd.d/* 2>/dev/null || true
for u in $USERS; do
    home="$(getent passwd "$u" | cut -d: -f6)"
    touch "$home/.hushlogin"
    chown "$u:$u" "$home/.hushlogin"
done

# --- CentOS 7 su behaviour on a non-EL base ----------------------------------------
if [ "$EMULATE_EL7_SU" = 1 ]; then
    log "installing the EL7 su emulation (see containers/README.md)"
    install -d -m 0755 /usr/local/libexec/fabricplus
    install -m 0755 "$LIB/el7-su-emulation" /usr/local/libexec/fabricplus/el7-su-emulation
    # After the password was checked (auth stage), refuse the account stage when su was
    # asked to run a command non-interactively.  Wrong passwords still fail in the auth
    # stage exactly as before.
    cat >> /etc/pam.d/su <<'PAM'

# --- pytest-fabricplus: emulate CentOS 7 (see containers/README.md) ---
account [success=1 default=ignore] pam_exec.so quiet stdout /usr/local/libexec/fabricplus/el7-su-emulation
account requisite pam_deny.so
PAM
fi

# Sanity: everything the entrypoint and the tests rely on is present.
for bin in /usr/sbin/sshd ssh-keygen sudo su python3 chpasswd; do
    command -v "$bin" >/dev/null 2>&1 || { echo "provision: $bin missing" >&2; exit 1; }
done
log "done ($PKG, $MARKER)"
