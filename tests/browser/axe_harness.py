"""axe-core in the browser tests: load it, run it on a page, read its findings.

axe-core comes from npm (``tests/browser/package.json``; ``scripts/test.sh``
runs ``npm ci --prefix tests/browser``) and is injected into each page; the
browser context must be made with ``bypass_csp=True``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from browser_harness import IN_CI

if TYPE_CHECKING:
    from playwright.sync_api import Page

AXE_JS = Path(__file__).with_name("node_modules") / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21aa"]
FAILING_IMPACTS = ("serious", "critical")

AXE_RUN = """async (tags) => {
  const result = await axe.run(document, {
    runOnly: { type: "tag", values: tags },
    resultTypes: ["violations"],
  });
  return result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map((n) => ({
      target: n.target.join(" "),
      html: n.html,
      summary: n.failureSummary || "",
    })),
  }));
}"""


def load_axe() -> str:
    """axe-core's source; skips (fails under CI=true) when it is not installed."""
    if not AXE_JS.is_file():
        message = "axe-core is not installed: run `npm ci --prefix tests/browser`"
        if IN_CI:
            pytest.fail(f"{message}; CI=true requires it", pytrace=False)
        pytest.skip(message)
    return AXE_JS.read_text(encoding="utf-8")


def axe_violations(page: Page, axe: str) -> list[dict[str, Any]]:
    """Every axe violation on the page as it is now."""
    page.wait_for_load_state("load")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(content=axe)
    found: list[dict[str, Any]] = page.evaluate(AXE_RUN, AXE_TAGS)
    return found


def serious_violations(page: Page, axe: str, label: str) -> list[str]:
    """The serious and critical violations, readably (page, rule, elements)."""
    out = []
    for v in axe_violations(page, axe):
        if v["impact"] not in FAILING_IMPACTS:
            continue
        lines = [f"{label}: {v['id']} ({v['impact']}): {v['help']}"]
        for node in v["nodes"][:8]:
            html = re.sub(r"\s+", " ", node["html"])[:160]
            lines.append(f"    {node['target']}  {html}\n      {node['summary'][:300]}")
        out.append("\n".join(lines))
    return out


def assert_accessible(page: Page, axe: str, label: str) -> None:
    found = serious_violations(page, axe, label)
    assert not found, "\n\n".join(found)
