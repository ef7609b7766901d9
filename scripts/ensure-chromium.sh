#!/usr/bin/env bash
# Make sure Debian's Chromium is installed, for `make check-html` (tests_html/). Playwright drives
# this browser; it never downloads one of its own (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD is set too).
# As root on Debian/Ubuntu it installs the `chromium` package with apt-get when it is missing;
# otherwise it says what to do. EMT_CHROMIUM names another Chromium binary.
set -euo pipefail
CHROMIUM=${EMT_CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get > /dev/null; then
    echo "ensure-chromium: installing Debian's chromium with apt-get" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null
    [ -x "$CHROMIUM" ] && exit 0
fi
echo "ensure-chromium: no Chromium at $CHROMIUM; install Debian's package (apt-get install chromium) or set EMT_CHROMIUM" >&2
exit 1
