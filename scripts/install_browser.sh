#!/usr/bin/env bash
# Make the headless-browser viewer test runnable; safe to run again (it installs only what is missing).
#   bash scripts/install_browser.sh [PYTHON]
# - Debian's chromium at /usr/bin/chromium, through apt when we are root (the test skips without it);
# - the playwright Python package into PYTHON's environment (default: python3). Playwright drives the
#   system chromium, so no browser build of its own is downloaded.
set -euo pipefail
PYTHON="${1:-python3}"

if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "install_browser: installing chromium with apt-get" >&2
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
    else
        echo "install_browser: /usr/bin/chromium is missing and apt-get as root is not available;" \
             "the browser test will be skipped" >&2
    fi
fi

if ! "$PYTHON" -c "import playwright.sync_api" >/dev/null 2>&1; then
    echo "install_browser: installing playwright into $("$PYTHON" -c 'import sys; print(sys.prefix)')" >&2
    "$PYTHON" -m pip install --quiet "playwright>=1.40"
fi
