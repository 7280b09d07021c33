# Sourced by the scripts that install a Debian package when a test first needs it.
#
# Tests run in parallel (several tests of one binary, each making sure nginx is there), and
# two `apt-get install` at once fail on dpkg's lock (exit 100; a clean-clone CI run of
# 2026-12-05 failed a remote-lane test this way). `apt_serialized` takes an exclusive lock
# shared by these scripts for the rest of the calling script, and makes apt-get wait for
# dpkg's own lock (held by anything else) rather than fail: the caller checks again whether
# the package arrived while it waited.
APT_WAIT=(-o DPkg::Lock::Timeout=600)
apt_serialized() {
    exec 9>/tmp/faastlane-apt.lock
    flock -w 900 9
}
