# Shared by scripts/serve and scripts/test: a Python 3.11+ virtual environment in .venv.
# shellcheck shell=bash

as_root() { [ "$(id -u)" = 0 ]; }

apt_install() {
    # Install Debian packages without letting their maintainer scripts start services
    # (a packaged tftpd or dnsmasq grabbing ports 69/53 is not wanted on a dev box).
    as_root && command -v apt-get >/dev/null || {
        echo "missing: $* (install them, or run this as root on Debian)" >&2
        return 1
    }
    local policy=/usr/sbin/policy-rc.d created=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created=1
    fi
    if [ -z "${APT_UPDATED:-}" ]; then
        apt-get update -qq && APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
    local status=$?
    [ -n "$created" ] && rm -f "$policy"
    return $status
}

python_ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }

ensure_venv() {
    local python=""
    for candidate in "${PYTHON:-}" python3 python3.13 python3.12 python3.11; do
        [ -n "$candidate" ] && command -v "$candidate" >/dev/null && python_ok "$candidate" && {
            python=$candidate
            break
        }
    done
    if [ -z "$python" ]; then
        apt_install python3 python3-venv python3-pip && python=python3
        python_ok "$python" || { echo "plugtone needs Python 3.11 or newer" >&2; exit 1; }
    fi
    if [ ! -x .venv/bin/python ] || ! python_ok .venv/bin/python; then
        rm -rf .venv
        "$python" -m venv .venv 2>/dev/null || {
            apt_install python3-venv && "$python" -m venv .venv
        }
    fi
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".$1"
}
