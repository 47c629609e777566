"""A stand-in LINE platform: the Messaging API endpoints madoguchi uses, as a real process.

Run by the tests as ``python tests/support/line_platform.py TOKEN``; it binds
127.0.0.1:0 and prints ``PORT <n>``. It checks the bearer token, records every
call, honours ``X-Line-Retry-Key`` (a repeated key is answered 409, as LINE
does) and answers failures on request through ``/_control`` endpoints.
``LinePlatform`` is the tests' handle on the process.
"""

from __future__ import annotations

import itertools
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve()


def build_app(token: str) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    calls: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    blocked: set[str] = set()
    retry_keys: set[str] = set()
    menus = itertools.count(1)

    async def record(request: Request) -> Response | None:
        body = await request.body()
        entry: dict[str, Any] = {
            "method": request.method,
            "path": request.url.path,
            "headers": {k.lower(): v for k, v in request.headers.items()},
        }
        if request.headers.get("content-type", "").startswith("application/json") and body:
            entry["json"] = await request.json()
        else:
            entry["size"] = len(body)
        if request.headers.get("authorization") != f"Bearer {token}":
            entry["status"] = 401
            calls.append(entry)
            return JSONResponse({"message": "Authentication failed"}, status_code=401)
        for failure in failures:
            if failure["times"] > 0 and request.url.path.startswith(failure["path"]):
                failure["times"] -= 1
                headers = {"Retry-After": failure["retry_after"]} if failure["retry_after"] else {}
                entry["status"] = failure["status"]
                calls.append(entry)
                return JSONResponse(
                    {"message": "injected failure"}, status_code=failure["status"], headers=headers
                )
        entry["status"] = 200
        calls.append(entry)
        return None

    async def push(request: Request) -> Response:
        refused = await record(request)
        if refused is not None:
            return refused
        body = calls[-1].get("json") or {}
        messages = body.get("messages")
        if not isinstance(body.get("to"), str) or not isinstance(messages, list):
            calls[-1]["status"] = 400
            return JSONResponse({"message": "The request body has 1 error(s)"}, status_code=400)
        if not 1 <= len(messages) <= 5 or not all("type" in m for m in messages):
            calls[-1]["status"] = 400
            return JSONResponse({"message": "Invalid messages"}, status_code=400)
        if body["to"] in blocked:
            calls[-1]["status"] = 403
            return JSONResponse({"message": "The user blocked the account"}, status_code=403)
        key = request.headers.get("x-line-retry-key")
        if key:
            if key in retry_keys:
                calls[-1]["status"] = 409
                return JSONResponse(
                    {"message": "The retry key is already accepted"},
                    status_code=409,
                    headers={"x-line-accepted-request-id": "accepted"},
                )
            retry_keys.add(key)
        return JSONResponse({"sentMessages": [{"id": str(i)} for i, _ in enumerate(messages)]})

    async def ok(request: Request) -> Response:
        refused = await record(request)
        return refused if refused is not None else JSONResponse({})

    async def create_menu(request: Request) -> Response:
        refused = await record(request)
        if refused is not None:
            return refused
        return JSONResponse({"richMenuId": f"richmenu-{next(menus)}"})

    async def profile(request: Request) -> Response:
        refused = await record(request)
        if refused is not None:
            return refused
        user = request.path_params["user"]
        return JSONResponse({"userId": user, "displayName": "住民", "language": "ja"})

    async def get_calls(_request: Request) -> Response:
        return JSONResponse(calls)

    async def reset(_request: Request) -> Response:
        calls.clear()
        failures.clear()
        blocked.clear()
        retry_keys.clear()
        return Response(status_code=204)

    async def fail(request: Request) -> Response:
        spec = await request.json()
        failures.append(
            {
                "path": spec.get("path", "/"),
                "status": int(spec["status"]),
                "times": int(spec.get("times", 1)),
                "retry_after": str(spec.get("retry_after", "")),
            }
        )
        return Response(status_code=204)

    async def block(request: Request) -> Response:
        blocked.add((await request.json())["user"])
        return Response(status_code=204)

    return Starlette(
        routes=[
            Route("/v2/bot/message/push", push, methods=["POST"]),
            Route("/v2/bot/message/reply", ok, methods=["POST"]),
            Route("/v2/bot/richmenu", create_menu, methods=["POST"]),
            Route("/v2/bot/richmenu/{menu}/content", ok, methods=["POST"]),
            Route("/v2/bot/user/all/richmenu/{menu}", ok, methods=["POST"]),
            Route("/v2/bot/profile/{user}", profile, methods=["GET"]),
            Route("/_control/calls", get_calls, methods=["GET"]),
            Route("/_control/reset", reset, methods=["POST"]),
            Route("/_control/fail", fail, methods=["POST"]),
            Route("/_control/block", block, methods=["POST"]),
        ]
    )


class LinePlatform:
    """The running stand-in: its URL, the calls it saw, failures to inject."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE), token],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.proc.kill()
            self.proc.wait()
            self.proc.stdout.close()
            raise RuntimeError("the stand-in LINE platform did not start")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"
        self.http = httpx.Client(base_url=self.url, trust_env=False, timeout=10)
        deadline = time.monotonic() + 20
        while True:
            try:
                self.http.get("/_control/calls")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def calls(self, path: str | None = None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.http.get("/_control/calls").json()
        return [c for c in found if path is None or c["path"].startswith(path)]

    def pushes(self) -> list[dict[str, Any]]:
        return [c for c in self.calls("/v2/bot/message/push") if c["status"] == 200]

    def fail(self, status: int, *, path: str = "/", times: int = 1, retry_after: str = "") -> None:
        self.http.post(
            "/_control/fail",
            json={"status": status, "path": path, "times": times, "retry_after": retry_after},
        )

    def block(self, user: str) -> None:
        self.http.post("/_control/block", json={"user": user})

    def reset(self) -> None:
        self.http.post("/_control/reset")

    def close(self) -> None:
        self.http.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def main() -> None:
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(build_app(sys.argv[1]), log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
