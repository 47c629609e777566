"""``madoguchi serve`` for browser tests, run inside a loopback-only namespace.

Two differences from the real command, both test-only and passed here, never
through a setting the production app reads:

- The app (and the signaling node and jobs it embeds) runs on an
  ``OffsetClock`` that starts at the instant the test chose and then runs at
  real speed, so a test sees the same time of day whatever the wall clock
  says. ``--clock-since`` is the ``time.monotonic()`` reading the test took
  as that instant, so the test's own clock and the app's agree exactly.
- aioice may offer 127.0.0.1 as a host candidate
  (``media.loopback.allow_loopback_candidates``), because a loopback-only
  namespace has no other address and the pre-call check's echo peer would
  otherwise gather nothing.

Usage (the fixture in ``conftest.py`` does this)::

    ip netns exec <ns> python tests/browser/serve_in_netns.py \\
        --clock-start 2026-12-09T10:00:00+09:00 --clock-since 12345.6
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import datetime

from app.cli import load_settings, serve
from app.core import logs
from app.core.clock import OffsetClock
from media.loopback import allow_loopback_candidates


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clock-start", type=datetime.fromisoformat, required=True)
    parser.add_argument("--clock-since", type=float, required=True)
    args = parser.parse_args(argv)
    logs.configure(os.environ.get("MADOGUCHI_LOG_FORMAT", "text"))
    allow_loopback_candidates()
    clock = OffsetClock(args.clock_start, since=args.clock_since)
    asyncio.run(serve(load_settings(), clock=clock))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
