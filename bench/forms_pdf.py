"""PDF render time of each demo form (issue 15): median of N renders, target < 300 ms.

Run: .venv/bin/python bench/forms_pdf.py [--rounds N] [--profile]

Each demo form of app/ops/demo_city.yaml is filled with a realistic resident
(a household of four where the form has members), validated, laid out as the
view the resident signs (``app.forms.view``), then rendered with its signature
by ``app.forms.pdf.render_pdf``, as signing does. The first render of the
process loads the font (reported apart); the median is of the renders after it.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))

from forms_helpers import TENNYU, signature_png

from app.forms.pdf import SignedBy, render_pdf
from app.forms.validation import validate
from app.forms.view import build_view, canonical_json, view_hash
from scheduler.city_file import load_city_file
from scheduler.form_templates import definition_json

DEMO = Path(__file__).resolve().parent.parent / "app" / "ops" / "demo_city.yaml"
TZ = ZoneInfo("Asia/Tokyo")

MEMBERS = [
    {
        "name": "山田 太郎",
        "kana": "ヤマダ タロウ",
        "birth_date": "S55.1.2",
        "sex": "male",
        "relationship": "世帯主",
    },
    {
        "name": "山田 花子",
        "kana": "ヤマダ ハナコ",
        "birth_date": "S57.3.4",
        "sex": "female",
        "relationship": "妻",
    },
    {
        "name": "山田 一郎",
        "kana": "ヤマダ イチロウ",
        "birth_date": "H22.5.6",
        "sex": "male",
        "relationship": "子",
    },
    {
        "name": "山田 桜",
        "kana": "ヤマダ サクラ",
        "birth_date": "R2.7.8",
        "sex": "female",
        "relationship": "子",
    },
]
VALUES: dict[str, dict[str, Any]] = {
    "tennyu-todoke": {**TENNYU, "members": MEMBERS},
    "jido-teate-nintei": {
        "claimant_name": "山田 太郎",
        "claimant_kana": "ヤマダ タロウ",
        "claimant_birth_date": "昭和55年1月2日",
        "postal_code": "123-4567",
        "address": "みどり市本町1丁目2番3号",
        "phone": "090-1234-5678",
        "pension": "kosei",
        "employer": "株式会社みどり製作所",
        "children": [
            {"name": "山田 一郎", "birth_date": "H22.5.6", "lives_together": True},
            {
                "name": "山田 桜",
                "birth_date": "R2.7.8",
                "lives_together": False,
                "child_address": "東京都千代田区1-1",
            },
        ],
        "bank": "みどり銀行 本町支店",
        "account_kana": "ヤマダ タロウ",
        "declaration": True,
    },
    "juminhyo-kofu": {
        "requester_name": "山田 太郎",
        "requester_address": "みどり市本町1丁目2番3号",
        "phone": "090-1234-5678",
        "relation": "self",
        "subject_address": "みどり市本町1丁目2番3号",
        "householder": "山田 太郎",
        "kind": "some",
        "people": [{"name": "山田 太郎"}, {"name": "山田 一郎"}],
        "copies": "2",
        "include_honseki": True,
        "purpose": "児童手当の申請（勤務先へ提出）",
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    png = signature_png()
    signed_at = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)
    print(
        f"{platform.node()} {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f}"
    )
    first_done = False
    profiler = cProfile.Profile() if args.profile else None
    for entry in load_city_file(DEMO).forms:
        definition = definition_json(entry)
        result = validate(definition, VALUES[entry.slug])
        assert not result.errors, (entry.slug, result.errors)
        view = build_view(definition, result.values, form_id=1, version=2, template_version=1)
        signed = SignedBy(
            png, signed_at, view_hash(canonical_json(view)), "予約 BK-0001", "みどり市"
        )
        if not first_done:
            start = time.perf_counter()
            render_pdf(view, signed, TZ)
            first_ms = 1000 * (time.perf_counter() - start)
            print(f"first render of the process (font loaded): {first_ms:.0f} ms")
            first_done = True
        times = []
        size = 0
        for _ in range(args.rounds):
            start = time.perf_counter()
            if profiler:
                profiler.enable()
            pdf = render_pdf(view, signed, TZ)
            if profiler:
                profiler.disable()
            times.append(time.perf_counter() - start)
            size = len(pdf)
        ms = sorted(1000 * t for t in times)
        print(
            f"{entry.slug:20} {entry.title_ja}: median {statistics.median(ms):.0f} ms, "
            f"p90 {ms[int(len(ms) * 0.9) - 1]:.0f} ms, min {ms[0]:.0f} ms, "
            f"{len(view['pages'])} form pages, {size // 1024} KiB"
        )
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        print(out.getvalue())


if __name__ == "__main__":
    main()
