"""The ``madoguchi`` command.

Each subcommand imports the parts it runs: the web app, LINE's SDK and the
signaling node together take seconds to import, which ``madoguchi import``,
``db upgrade`` and ``api-key`` (run by operators and by every test that
seeds a server) should not wait for.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import logging
import os
import signal
import sys
import threading
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from app.auth import api_keys
from app.core import logs
from app.core.clock import Clock
from app.core.context import AppContext
from app.core.db import make_engine
from app.core.settings import ConfigurationError, Settings
from app.ops.migrate import upgrade

log = logging.getLogger("madoguchi")


def load_settings() -> Settings:
    try:
        settings = Settings()
        logs.register_secrets(settings.secret_key, settings.smtp_password)
        return settings
    except ConfigurationError as exc:
        raise SystemExit(f"madoguchi: configuration error: {exc}") from exc
    except ValueError as exc:  # pydantic wraps validator errors
        raise SystemExit(f"madoguchi: configuration error: {exc}") from exc


# glibc's mallopt parameter for the number of malloc arenas.
M_ARENA_MAX = -8


def _cap_malloc_arenas() -> None:
    """Two malloc arenas instead of glibc's default of eight per core.

    Each of the 20 request threads otherwise gets an arena of its own, and
    memory freed in one is never reused by another: the soak's RSS kept
    growing while the Python heap (tracemalloc) grew by 1.4 MiB. An operator's
    own ``MALLOC_ARENA_MAX`` wins; on a libc without mallopt this is a no-op.
    """
    if os.environ.get("MALLOC_ARENA_MAX"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(M_ARENA_MAX, 2)
    except (OSError, AttributeError):
        pass


def _freeze_startup_heap() -> None:
    """Move everything alive after start-up (modules, the app, settings: several
    hundred thousand objects) out of the garbage collector's sight, so a full
    collection only walks what was made since: with thousands of sockets held,
    each full pass over the whole heap stalled the event loop for tens of ms."""
    gc.collect()
    gc.freeze()


async def serve(settings: Settings, clock: Clock | None = None) -> None:
    """App, signaling and jobs in this process until SIGINT/SIGTERM.

    ``clock`` defaults to the system clock; the browser tests pass one that
    starts at a time of their choosing (tests/browser/serve_in_netns.py), and
    it reaches the app, the embedded signaling node and the jobs alike.
    """
    import uvicorn

    from app.main import create_app
    from app.ops import jobs
    from app.ops.demo import ensure_demo_city
    from app.signaling_node import start_signaling

    _cap_malloc_arenas()
    ctx = AppContext.from_settings(settings, clock=clock)
    if settings.mode == "demo":
        # The embedded default must come up with one command on a fresh machine.
        upgrade(settings.database_url)
        if settings.demo_data:
            ensure_demo_city(ctx)
    app = create_app(ctx)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_level="info",
            proxy_headers=True,
            # uvicorn's loggers go through our masked handler (access lines hold tokens).
            log_config=None,
        )
    )
    # Embedded default: one process also serves signaling and background jobs.
    signaling = await start_signaling(settings, engine=ctx.engine, clock=ctx.clock.now)
    _freeze_startup_heap()
    stop = asyncio.Event()
    background = asyncio.create_task(jobs.run_forever(ctx, stop))
    # uvicorn finishes in-flight requests on SIGTERM/SIGINT, then re-raises the
    # signal under the handler it found. Make that a no-op so the clean-up below
    # still runs: signaling clients get 1012 and resume on another node.
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: None)
    try:
        await server.serve()
    finally:
        stop.set()
        await background
        await signaling.close()
        ctx.engine.dispose()


def cmd_serve(args: argparse.Namespace) -> int:
    settings = load_settings()
    if args.port:
        settings.port = args.port
    log.info(
        "madoguchi on %s (database %s)",
        settings.public_base_url,
        settings.database_url.split("@")[-1],
    )
    asyncio.run(serve(settings))
    return 0


def cmd_signaling(args: argparse.Namespace) -> int:
    from app.signaling_node import start_signaling

    settings = load_settings()
    if args.port is not None:
        settings.signaling_port = args.port
    if args.host:
        settings.signaling_host = args.host
    engine = make_engine(settings.database_url)

    async def run() -> None:
        # SIGTERM (docker stop, systemd) must drain like Ctrl-C: clients get
        # close code 1012 and resume on another node.
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        server = await start_signaling(settings, engine=engine)
        _freeze_startup_heap()
        try:
            await stop.wait()
        finally:
            await server.close()

    _run_fast(run())
    engine.dispose()
    return 0


def _run_fast(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop where it is installed (uvicorn[standard] brings it), as
    uvicorn itself does: a standalone signaling node is a socket relay, and
    uvloop's C transports take less CPU per relayed frame and less memory per
    held socket than asyncio's selector transports (docs/benchmarks.md)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] is a dependency
        asyncio.run(main)
    else:
        uvloop.run(main)


def cmd_db(args: argparse.Namespace) -> int:
    settings = load_settings()
    if args.action == "upgrade":
        upgrade(settings.database_url, args.revision)
        print("database is at", args.revision)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from app.auth.sessions import password_hashes, revoke_changed_passwords
    from scheduler.errors import SchedulerError
    from scheduler.importer import import_city, load_city_file

    settings = load_settings()
    ctx = AppContext.from_settings(settings)
    try:
        config = load_city_file(Path(args.file))
        with ctx.writer_sessions() as session:
            before = password_hashes(session)
            report = import_city(session, config)
            revoke_changed_passwords(session, before)
            session.commit()
    except SchedulerError as exc:
        print(f"madoguchi import: {exc}", file=sys.stderr)
        return 1
    print(report)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from app.ops import jobs

    ctx = AppContext.from_settings(load_settings())
    stop = asyncio.Event()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(jobs.run_forever(ctx, stop, interval=args.interval))
    return 0


def cmd_sync_busy(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from app.api.staff import sync_staff_busy
    from scheduler.models import Staff
    from scheduler.service import SchedulingService

    ctx = AppContext.from_settings(load_settings())
    with ctx.writer_sessions() as session:
        svc = SchedulingService(session, tz=ctx.tz)
        for staff in session.scalars(select(Staff).where(Staff.busy_calendar_url.is_not(None))):
            count = sync_staff_busy(svc, staff, ctx.clock.now(), ctx.tz)
            print(f"staff {staff.login}: {count} busy periods")
        session.commit()
    return 0


def cmd_api_key(args: argparse.Namespace) -> int:
    key = api_keys.new_key()
    print(f"API key for {args.login} (shown once; give it to the calling system):\n{key}")
    print("Add this entry to MADOGUCHI_API_KEYS (a JSON list) and restart:")
    print(api_keys.config_entry(args.login, key))
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from app.ops import doctor

    checks = asyncio.run(
        doctor.run_doctor(
            args.base_url,
            token=args.token,
            turn_urls=args.turn_url,
            ca_file=args.ca_file,
            seconds=args.timeout,
        )
    )
    for check in checks:
        print(check.line())
    return 0 if all(check.ok for check in checks) else 1


def cmd_line(args: argparse.Namespace) -> int:
    from app.line import richmenu
    from app.line.client import LineNotConfigured, blob_api, messaging_api

    settings = load_settings()
    try:
        menu_id = richmenu.setup(
            messaging_api(settings), blob_api(settings), settings, Path(args.image)
        )
    except (LineNotConfigured, ValueError, OSError) as exc:
        print(f"madoguchi line setup: {exc}", file=sys.stderr)
        return 2
    print(f"rich menu {menu_id} created and set as the default for every user")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="madoguchi", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="run the web app (and, embedded, signaling and jobs)")
    p.add_argument("--port", type=int, default=0)
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("signaling", help="run a standalone signaling node (default port 8765)")
    p.add_argument("--host", default="")
    p.add_argument("--port", type=int, default=None)
    p.set_defaults(func=cmd_signaling)
    p = sub.add_parser("db", help="database maintenance")
    p.add_argument("action", choices=["upgrade"])
    p.add_argument("revision", nargs="?", default="head")
    p.set_defaults(func=cmd_db)
    p = sub.add_parser("import", help="load or update a city's configuration from YAML")
    p.add_argument("file")
    p.set_defaults(func=cmd_import)
    p = sub.add_parser("worker", help="run background jobs (mail, waiting-list offers)")
    p.add_argument("--interval", type=float, default=5.0)
    p.set_defaults(func=cmd_worker)
    p = sub.add_parser("sync-busy", help="re-read staff members' external busy calendars")
    p.set_defaults(func=cmd_sync_busy)
    p = sub.add_parser(
        "doctor", help="check from this network that the API, signaling and TURN are reachable"
    )
    p.add_argument(
        "base_url", help="the address staff or kiosks open, e.g. https://madoguchi.city.lan"
    )
    p.add_argument(
        "--token", help="a join token (from a join link): checks the TURN credentials too"
    )
    p.add_argument(
        "--turn-url", action="append", default=[], help="a TURN URL to probe when no token is given"
    )
    p.add_argument("--ca-file", help="a CA certificate (PEM) to trust besides the system's")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds per check")
    p.set_defaults(func=cmd_doctor)
    p = sub.add_parser("api-key", help="make an API key acting as a staff account")
    p.add_argument("login")
    p.set_defaults(func=cmd_api_key)
    p = sub.add_parser("line", help="LINE official account set-up (docs/line.md)")
    p.add_argument("action", choices=["setup"])
    p.add_argument("--image", required=True, help="the rich menu image, 2500x843 PNG or JPEG")
    p.set_defaults(func=cmd_line)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # MADOGUCHI_LOG_FORMAT=json for one JSON object per line; personal data is masked.
    logs.configure(os.environ.get("MADOGUCHI_LOG_FORMAT", "text"))
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
