"""``madoguchi serve`` for browser tests, run inside a loopback-only namespace.

The only difference from the real command: aioice may offer 127.0.0.1 as a
host candidate (``media.loopback.allow_loopback_candidates``), because a
loopback-only namespace has no other address and the pre-call check's echo
peer would otherwise gather nothing. This is a test-only opt-in; the app
itself never calls it.

Usage (the fixture in ``conftest.py`` does this)::

    ip netns exec <ns> python tests/browser/serve_in_netns.py serve --port 8000
"""

from __future__ import annotations

import sys

from app.cli import main
from media.loopback import allow_loopback_candidates

if __name__ == "__main__":
    allow_loopback_candidates()
    raise SystemExit(main(sys.argv[1:]))
