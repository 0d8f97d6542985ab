#!/bin/sh
# Debian's chromium and chromium-driver for the dashboard's browser tests
# (tests/dashboard/test_browser.py, Selenium pointed at /usr/bin/chromedriver).
# Idempotent: nothing to do when both are installed. Where apt-get cannot run (another
# distribution, no root and no passwordless sudo) it says why and exits 0: the browser
# tests then skip with that reason, unless FLEET_REQUIRE_BROWSER=1.
set -eu

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "tools/browser/install.sh: no apt-get here; install chromium and its chromedriver" \
        "yourself or the browser tests skip" >&2
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "tools/browser/install.sh: not root and no passwordless sudo; run" \
            "'apt-get install chromium chromium-driver' as root or the browser tests skip" >&2
        exit 0
    fi
fi
# about 100 MB of packages; a few minutes the first time
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
    chromium chromium-driver
