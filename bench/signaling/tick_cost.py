"""What the core's once-a-second tick costs with N connections held (no I/O).

Run: .venv/bin/python bench/signaling/tick_cost.py [--sizes 2000,5000,8000]

Seats a resident and a staff member in size/2 rooms of one ``SignalingCore``
(an authenticator that trusts the token's text), then times 40 ticks a second
apart and prints the median. The event loop runs nothing else while a tick
runs, so this is a stall every second for every socket of the node.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from signaling.actions import Admission
from signaling.core import SignalingCore
from signaling.messages import Role

T0 = datetime(2026, 1, 6, 1, 0, tzinfo=UTC)


def trusting(token: str, now: datetime) -> Admission:
    room, role, pid = token.split("|")
    return Admission(room, Role(role), pid, "bench")


def tick_ms(connections: int) -> float:
    core = SignalingCore(node="n1", authenticate=trusting)
    ids = itertools.count(1)
    for i in range(connections // 2):
        for role, pid in (("resident", f"r{i}"), ("staff", f"s{i}")):
            conn = next(ids)
            core.connect(conn, T0)
            join = {"type": "join", "v": 1, "room": f"room{i}", "token": f"room{i}|{role}|{pid}"}
            core.receive(conn, json.dumps(join), T0)
    times = []
    for k in range(1, 41):
        start = time.perf_counter()
        core.tick(T0 + timedelta(seconds=k))
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2] * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="2000,5000,8000")
    for size in (int(s) for s in parser.parse_args().sizes.split(",")):
        print(f"{size:>6} connections: tick median {tick_ms(size):.3f} ms")


if __name__ == "__main__":
    main()
