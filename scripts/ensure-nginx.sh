#!/usr/bin/env bash
# Makes sure Debian's nginx is installed; prints its path.
#
# The remote-lane tests and the FINRA-200 scale-out benchmark put nginx, on loopback, in
# front of several `faastlane serve` instances as a round-robin proxy (one URL, as a Knative
# service gives). Each test writes its own configuration and starts and stops its own nginx;
# this script only installs the binary (as root, with apt-get) and does nothing when it is
# already there. The package's own service is not wanted.
set -euo pipefail

find_nginx() {
    command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; }
}

if path="$(find_nginx)"; then
    echo "$path"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "nginx is not installed and installing it needs root: apt-get install nginx-light (or nginx)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
. "$(dirname "$0")/apt-lock.sh"
apt_serialized
# Another test may have installed it while this one waited for the lock.
if path="$(find_nginx)"; then
    echo "$path"
    exit 0
fi
install() {
    apt-get "${APT_WAIT[@]}" install -y --no-install-recommends "$1" >&2
}
# nginx-light (bookworm) or nginx (trixie, where the flavours were merged).
if ! install nginx-light && ! install nginx; then
    apt-get "${APT_WAIT[@]}" update >&2
    install nginx-light || install nginx
fi
if command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now nginx >/dev/null 2>&1 || true
fi
find_nginx
