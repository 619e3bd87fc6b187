#!/usr/bin/env bash
# Remakes the two screenshots of the documentation site in docs/ (site-getting-started.png,
# site-configuration.png): builds the site, then opens each page from the file system in headless Chromium.
# Needs chromium (Debian: apt-get install chromium) and the venv of `make install`. Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v chromium-headless-shell)}
NO_MKDOCS_2_WARNING=1 "$BIN/mkdocs" build --strict --quiet --site-dir site
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
shoot() {  # page in site/, picture in docs/
    "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
        --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$profile" \
        --window-size=1280,900 --virtual-time-budget=5000 --screenshot="docs/$2" "file://$PWD/site/$1" 2>/dev/null
    test -s "docs/$2"
    echo "docs/$2"
}
shoot getting-started.html site-getting-started.png
shoot reference/configuration.html site-configuration.png
