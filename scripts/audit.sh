#!/usr/bin/env bash
# Dependency audit: every installed Python package against the PyPI/OSV
# vulnerability database, with pip-audit.
#
# Needs the internet: pip-audit has no offline database, and madoguchi's CI
# machines have no route to pypi.org's JSON API or api.osv.dev, so CI cannot
# run this (it would report every package as "could not be audited").
# Run it on a machine with internet access before each release and weekly
# (docs/security.md); --strict makes a package that could not be checked a
# failure rather than a silent pass.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -e '.[audit]'
exec .venv/bin/pip-audit --strict --local --progress-spinner off "$@"
