#!/usr/bin/env bash
# Makes sure Debian's redis-server is installed; prints its path.
#
# The benchmark's baseline passes state between functions through a real Redis server. It
# starts and stops its own server on a free loopback port; this script only installs the
# binary (as root, with apt-get), and does nothing when it is already there.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
    command -v redis-server
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "redis-server is not installed and installing it needs root: apt-get install redis-server" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
. "$(dirname "$0")/apt-lock.sh"
apt_serialized
# Another test may have installed it while this one waited for the lock.
if command -v redis-server >/dev/null 2>&1; then
    command -v redis-server
    exit 0
fi
if ! apt-get "${APT_WAIT[@]}" install -y --no-install-recommends redis-server >&2; then
    apt-get "${APT_WAIT[@]}" update >&2
    apt-get "${APT_WAIT[@]}" install -y --no-install-recommends redis-server >&2
fi
# The package's service is not wanted: the benchmark runs its own server.
if command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now redis-server >/dev/null 2>&1 || true
fi
command -v redis-server
