"""schemathesis (its CLI, ``st run``) over HTTP against a running server, with workers.

The run uses the staff API key, follows the schema's OpenAPI links in its
stateful phase, and gives the kiosk operations a real kiosk link. The result
is read from schemathesis' NDJSON event stream: failures by check, and every
response's status and elapsed time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from live_server import LiveServer, kiosk_token  # type: ignore[import-not-found]

ST = [sys.executable, str(Path(__file__).with_name("st_threadsafe.py"))]

# "Schema-valid yet refused" is right for business rules a JSON schema cannot
# say (a slot in the past, an unknown service id, "an email or a phone"): those
# answer 4xx with the documented error body, and the other checks hold them to it.
EXCLUDED_CHECKS = ["positive_data_acceptance"]


@dataclass
class FuzzResult:
    returncode: int
    output: str
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    slow: list[tuple[str, float]] = field(default_factory=list)  # over max_response_time
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    max_elapsed: float = 0.0

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def summary(self) -> str:
        return (
            f"{self.requests} requests, statuses {dict(sorted(self.statuses.items()))}, "
            f"max {self.max_elapsed:.2f} s, {len(self.slow)} slow, "
            f"{len(self.failures)} failures, {len(self.errors)} errors"
        )


def _config(server: LiveServer, path: Path) -> Path:
    token = kiosk_token(1)
    path.write_text(
        "[[operations]]\n"
        'include-path-regex = "^/api/v1/kiosk/"\n'
        f'parameters = {{ "path.token" = "{token}" }}\n'
    )
    return path


def run_fuzz(
    server: LiveServer,
    report_dir: Path,
    *,
    workers: int = 8,
    max_examples: int = 20,
    max_time: float | None = None,
    max_response_time: float | None = 2.0,
    seed: int | None = 1,
    phases: str = "examples,coverage,fuzzing,stateful",
) -> FuzzResult:
    report_dir.mkdir(parents=True, exist_ok=True)
    ndjson = report_dir / "events.ndjson"
    config = _config(server, report_dir / "schemathesis.toml")
    cmd = [
        *ST,
        "--config-file",
        str(config),
        "run",
        f"{server.base_url}/openapi.json",
        "--workers",
        str(workers),
        "--header",
        f"Authorization: Bearer {server.api_key}",
        "--max-examples",
        str(max_examples),
        "--request-timeout",
        "20",  # a hang is a failure, not a wait
        "--phases",
        phases,
        "--exclude-checks",
        ",".join(EXCLUDED_CHECKS),
        "--no-shrink",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(ndjson),
        "--output-truncate",
        "false",
    ]
    if max_response_time is not None:
        cmd += ["--max-response-time", str(max_response_time)]
    if max_time is not None:
        cmd += ["--max-time", str(int(max_time))]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=report_dir, check=False)
    result = FuzzResult(done.returncode, done.stdout + done.stderr)
    if ndjson.exists():
        _read_events(ndjson, max_response_time, result)
    return result


def _read_events(path: Path, max_response_time: float | None, result: FuzzResult) -> None:
    seen: set[str] = set()
    for line in path.read_text().splitlines():
        event = json.loads(line)
        if "NonFatalError" in event:
            error = event["NonFatalError"]
            result.errors.append(f"{error.get('label')}: {error.get('value')}")
            continue
        finished = event.get("ScenarioFinished")
        if finished is None:
            continue
        recorder = finished.get("recorder", {})
        label = recorder.get("label", "")
        for case_id, item in recorder.get("interactions", {}).items():
            response = item.get("response")
            if not response or case_id in seen:
                continue
            seen.add(case_id)
            result.requests += 1
            result.statuses[int(response["status_code"])] += 1
            elapsed = float(response.get("elapsed", 0.0))
            result.max_elapsed = max(result.max_elapsed, elapsed)
            if max_response_time is not None and elapsed > max_response_time:
                request = item.get("request", {})
                result.slow.append((f"{request.get('method')} {request.get('uri')}", elapsed))
        for checks in recorder.get("checks", {}).values():
            for check in checks:
                if check.get("status") == "failure":
                    failure = check.get("failure_info", {}).get("failure", {})
                    result.failures.append(
                        f"{label}: {failure.get('title')}: {failure.get('message')}"
                    )
