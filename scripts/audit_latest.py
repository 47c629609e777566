"""Dependency audit for CI: PyPI's advisories for every installed distribution.

Usage: .venv/bin/python scripts/audit_latest.py   (scripts/test.sh runs it)

Why not pip-audit here: its services ask https://pypi.org/pypi/NAME/VERSION/json
or api.osv.dev, and CI machines reach PyPI only through a proxy that serves
the index, the files and the project JSON (https://pypi.org/pypi/NAME/json),
nothing else. The project JSON lists the known vulnerabilities (PyPA advisory
database / OSV: PYSEC, GHSA, CVE ids) of the project's *latest* release, and
pip installs the newest release each requirement allows, so every installed
distribution that is at its latest release is audited exactly; one that is
not (held back by a cap) is listed as not audited. scripts/audit.sh runs the
full pip-audit where the internet is reachable (docs/security.md).

Exit status: 1 when a known vulnerability affects an installed distribution,
or when PyPI cannot be reached under CI=true; 0 otherwise (an unreachable
PyPI on a developer machine is reported and skipped).
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass, field
from importlib.metadata import distributions
from typing import Any

import httpx
from packaging.utils import canonicalize_name

PYPI = os.environ.get("MADOGUCHI_AUDIT_PYPI", "https://pypi.org")
IN_CI = os.environ.get("CI", "").lower() == "true"


@dataclass
class Finding:
    name: str
    version: str
    latest: str | None = None
    vulnerabilities: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


def installed() -> dict[str, str]:
    found: dict[str, str] = {}
    for dist in distributions():
        name = dist.metadata["Name"]
        if name:
            found[canonicalize_name(name)] = dist.version
    return found


async def check(client: httpx.AsyncClient, name: str, version: str) -> Finding:
    finding = Finding(name, version)
    try:
        r = await client.get(f"{PYPI}/pypi/{name}/json")
    except httpx.HTTPError as exc:
        finding.error = f"{type(exc).__name__}: {exc}"
        return finding
    if r.status_code == 404:
        finding.error = "not on PyPI (a local or editable package)"
        return finding
    if r.status_code != 200:
        finding.error = f"HTTP {r.status_code}"
        return finding
    data = r.json()
    finding.latest = str(data["info"]["version"])
    if finding.latest == version:
        finding.vulnerabilities = list(data.get("vulnerabilities") or [])
    return finding


async def audit(packages: dict[str, str]) -> list[Finding]:
    limit = asyncio.Semaphore(16)

    async def one(client: httpx.AsyncClient, name: str, version: str) -> Finding:
        async with limit:
            return await check(client, name, version)

    async with httpx.AsyncClient(timeout=30, follow_redirects=True) as client:
        return await asyncio.gather(*(one(client, n, v) for n, v in sorted(packages.items())))


def main() -> int:
    packages = installed()
    findings = asyncio.run(audit(packages))
    unreachable = [f for f in findings if f.error and not f.error.startswith("not on PyPI")]
    if len(unreachable) == len(findings):
        print(f"audit: PyPI not reachable ({unreachable[0].error})", file=sys.stderr)
        return 1 if IN_CI else 0
    vulnerable = [f for f in findings if f.vulnerabilities]
    audited = [f for f in findings if f.latest == f.version]
    behind = [f for f in findings if f.latest is not None and f.latest != f.version]
    for f in vulnerable:
        for v in f.vulnerabilities:
            ids = ", ".join([str(v.get("id"))] + [str(a) for a in v.get("aliases") or []])
            fixed = ", ".join(str(x) for x in v.get("fixed_in") or []) or "no fixed release"
            print(f"VULNERABLE {f.name}=={f.version}: {ids} (fixed in: {fixed})")
    for f in behind:
        print(f"not audited: {f.name}=={f.version} (latest {f.latest}; run scripts/audit.sh)")
    for f in findings:
        if f.error:
            print(f"not audited: {f.name}=={f.version} ({f.error})")
    print(
        f"audit: {len(audited)} of {len(findings)} installed distributions audited, "
        f"{len(vulnerable)} with known vulnerabilities"
    )
    return 1 if vulnerable else 0


if __name__ == "__main__":
    raise SystemExit(main())
