"""Small server-rendered SVG charts: accessible (title, desc) and script-free.

Each chart is an ``<svg role="img">`` named by its ``<title>`` and described
by a ``<desc>`` that states every value, so screen readers get the numbers
the bars show. Colours come from presentation attributes, not ``style``, so
the strict CSP holds.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH = 640
BAR_AREA = 200
LABEL_SPACE = 40
COLOURS = ("#1f5fa8", "#c0570c")  # dark blue, dark orange: distinct for colour-blind readers

_ids = itertools.count(1)


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    unit: str = "",
) -> Markup:
    """Stacked bars, one per label; ``series`` is (name, values) per colour."""
    n = len(labels)
    chart_id = f"chart-{next(_ids)}"
    totals = [sum(values[i] for _, values in series) for i in range(n)]
    top = max(totals, default=0) or 1
    step = (WIDTH - 20) / max(n, 1)
    bar = max(step * 0.7, 2)
    parts: list[str] = []
    for i, label in enumerate(labels):
        x = 10 + i * step
        y: float = BAR_AREA + 10
        for (name, values), colour in zip(series, COLOURS, strict=False):
            h = values[i] / top * BAR_AREA
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{escape(label)} {escape(name)}: '
                f"{values[i]:g}{escape(unit)}</title></rect>"
            )
        if n <= 31 or i % max(1, n // 15) == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{BAR_AREA + 28}" font-size="11" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    legend = "".join(
        f'<rect x="{10 + k * 160}" y="{BAR_AREA + 38}" width="12" height="12" fill="{c}"/>'
        f'<text x="{26 + k * 160}" y="{BAR_AREA + 49}" font-size="12">{escape(name)}</text>'
        for k, ((name, _), c) in enumerate(zip(series, COLOURS, strict=False))
    )
    desc = "; ".join(
        f"{label}: " + ", ".join(f"{name} {values[i]:g}{unit}" for name, values in series)
        for i, label in enumerate(labels)
    )
    height = BAR_AREA + LABEL_SPACE + 20
    # Every text above went through escape(); numbers and ids are ours.
    return Markup(  # noqa: S704
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}-t">{escape(title)}</title>'
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>' + "".join(parts) + legend + "</svg>"
    )
