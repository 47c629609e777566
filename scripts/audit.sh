#!/usr/bin/env bash
# Dependency audit: every installed Python package against the PyPI/OSV
# vulnerability database, with pip-audit.
#
# Needs the internet: pip-audit asks pypi.org/pypi/NAME/VERSION/json or
# api.osv.dev, which madoguchi's CI machines cannot reach; CI runs
# scripts/audit_latest.py instead (latest releases only, through the registry).
# Run this on a machine with internet access before each release and weekly
# (docs/security.md); --strict makes a package that could not be checked a
# failure rather than a silent pass.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -e '.[audit]'
exec .venv/bin/pip-audit --strict --local --progress-spinner off "$@"
