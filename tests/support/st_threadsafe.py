"""``st`` (the schemathesis CLI) with ``ast.parse`` behind a lock.

With several workers, hypothesis describes filter lambdas from their source in
several threads at once; on CPython 3.11 concurrent ``ast.parse`` calls can
fail with "AST constructor recursion depth mismatch", which schemathesis
reports as an error of the operation under test, not of the server.
"""

from __future__ import annotations

import ast
import sys
import threading
from typing import Any

_lock = threading.Lock()
_parse = ast.parse


def _locked_parse(*args: Any, **kwargs: Any) -> Any:
    with _lock:
        return _parse(*args, **kwargs)


ast.parse = _locked_parse  # type: ignore[assignment]

from schemathesis.cli import schemathesis  # noqa: E402

if __name__ == "__main__":
    sys.argv[0] = "st"
    sys.exit(schemathesis())
