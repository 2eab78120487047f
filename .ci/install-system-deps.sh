#!/usr/bin/env bash
# Install the system packages the real-Postfix test lab needs (tests/realpostfix/):
#   postfix (>= 3.4, for maillog_file/postlogd), pflogsumm, swaks; tmux for the shell test;
#   systemd (journalctl) and systemd-journal-remote, which turns the journal tests' entries
#   into real .journal files (tests/journals.py) without a running journald.
#   chromium (headless, driven over its DevTools protocol) for the report's browser test.
#   a Java runtime for Spark (pyspark, local mode) in tests/test_lake_engines.py.
#   bzip2 and xz-utils (bzcat, xzcat: the reference for reading cut archives).
# Idempotent and non-interactive. Run as root (or with sudo available).
#
# The lab runs its OWN private Postfix instance on loopback ports (postfix -c DIR start);
# the distro's default instance must not run. This script therefore stops it if the
# package (or a previous install) started it, and disables it where an init system exists.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-system-deps.sh: need root (or sudo)" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
PKGS=(postfix pflogsumm swaks tmux bzip2 xz-utils systemd systemd-journal-remote chromium)
# Spark 4 runs on Java 17 or 21: Debian's default JRE (17 in Debian 12, 21 in Debian 13)
if ! command -v java >/dev/null 2>&1; then
    PKGS+=(default-jre-headless)
fi

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
    # "No configuration": the package installs without asking questions and without
    # configuring a mail system (no /etc/postfix/main.cf mailer setup).
    echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
    echo "postfix postfix/mailname string localhost.localdomain" | $SUDO debconf-set-selections
    $SUDO apt-get update
    # policy-rc.d exit 101 keeps invoke-rc.d from starting services during installation
    policy_created=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
        $SUDO chmod 755 /usr/sbin/policy-rc.d
        policy_created=1
    fi
    trap 'if [ "$policy_created" = 1 ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi' EXIT
    $SUDO apt-get install -y --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
fi

# Make sure the distro's default Postfix instance is not running / listening.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now postfix.service >/dev/null 2>&1 || true
fi
if command -v update-rc.d >/dev/null 2>&1; then
    $SUDO update-rc.d postfix disable >/dev/null 2>&1 || true
fi
if $SUDO postfix status >/dev/null 2>&1; then
    $SUDO postfix stop || true
fi

postconf -d -h mail_version | sed 's/^/postfix version: /'
