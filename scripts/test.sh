#!/usr/bin/env bash
# Sets up everything the test suite needs on a fresh Debian machine, then runs
# linters, type checks and the whole test suite. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: a private redis-server for the media tests' network
# namespaces, unshare/ip for those namespaces. Installed only when missing.
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v unshare >/dev/null || missing+=(util-linux)
command -v ip >/dev/null || missing+=(iproute2)
# Debian's Chromium for the browser tests (driven by Playwright, never downloaded),
# and Japanese fonts so pages and screenshots render real text.
command -v chromium >/dev/null || missing+=(chromium)
[ -d /usr/share/fonts/opentype/noto ] || missing+=(fonts-noto-cjk)
# The TrueType Japanese font embedded in signed forms' PDFs (app/forms/pdf.py).
[ -f /usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf ] || missing+=(fonts-ipaexfont-gothic)
# Compose (v2 plugin, else Debian's v1) for tests/docker's `compose config` check.
docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null || missing+=(docker-compose)
# tests/network: Debian's coturn, nftables for the namespaces' firewalls, and
# certutil (libnss3-tools) for the test browser's trust of the test CA.
command -v turnserver >/dev/null || missing+=(coturn)
command -v nft >/dev/null || missing+=(nftables)
command -v certutil >/dev/null || missing+=(libnss3-tools)
# Node runs the browser scripts' unit tests (tests/js/); npm installs axe-core for
# the accessibility checks (tests/browser/package.json).
{ command -v node && command -v npm; } >/dev/null || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  else
    echo "scripts/test.sh: please install: ${missing[*]}" >&2
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -e '.[test]'
# Known vulnerabilities in what was just installed fail the run (docs/security.md).
.venv/bin/python scripts/audit_latest.py
# axe-core for tests/browser/test_accessibility.py, at the version in package-lock.json.
if [ ! -f tests/browser/node_modules/axe-core/axe.min.js ]; then
  npm ci --prefix tests/browser --no-audit --no-fund
fi

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# The house's import rules (pyproject.toml [tool.importlinter], docs/architecture.md).
.venv/bin/lint-imports
# The browser scripts' pure functions (back-off, negotiation ids, quality) and
# how the scripts hang together: Node's own test runner, no npm packages. The
# files are named so that every Node since 18 finds the same ones.
node --test tests/js/*.test.mjs
exec .venv/bin/pytest "$@"
