#!/usr/bin/env bash
# Makes sure Debian's wrk (an HTTP load generator) is installed; prints its path.
#
# The `serve` suite of `faastlane bench` drives StartSyncExecution with it. It only installs
# the binary (as root, with apt-get), and does nothing when it is already there.
set -euo pipefail

if command -v wrk >/dev/null 2>&1; then
    command -v wrk
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "wrk is not installed and installing it needs root: apt-get install wrk" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
. "$(dirname "$0")/apt-lock.sh"
apt_serialized
# Another test may have installed it while this one waited for the lock.
if command -v wrk >/dev/null 2>&1; then
    command -v wrk
    exit 0
fi
if ! apt-get "${APT_WAIT[@]}" install -y --no-install-recommends wrk >&2; then
    apt-get "${APT_WAIT[@]}" update >&2
    apt-get "${APT_WAIT[@]}" install -y --no-install-recommends wrk >&2
fi
command -v wrk
