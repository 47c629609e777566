"""Instructions per relayed message in the signaling server, counted by callgrind.

Run: .venv/bin/python bench/signaling/instructions.py [--messages 10000] [--pairs 50]

Wall-clock figures on a shared 2-core machine swing with whatever else runs;
instruction counts do not. This starts ``bench/signaling/madoguchi_server.py``
under ``valgrind --tool=callgrind`` twice: once joining ``--pairs`` pairs and
relaying nothing, once relaying ``--messages`` offer/answer/candidate messages
(the ``load.py`` payloads, one in flight per pair), and prints
(instructions of the second - instructions of the first) / messages: the
server's user-space instructions per relayed message, start-up and joins
cancelled out. The kernel's socket work is not counted (it is the same for
every server). Needs valgrind (Debian package ``valgrind``).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import secrets
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

from load import Madoguchi, start_process  # noqa: E402

from app.core.tokens import Tokens  # noqa: E402


async def instructions(messages: int, pairs: int) -> int:
    """Total instructions of one server run that relays ``messages`` messages."""
    secret = secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        # -q: valgrind's own banner would go to our stderr.
        proc, port = start_process(
            [
                "valgrind",
                "-q",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                str(ROOT / ".venv" / "bin" / "python"),
                str(HERE / "madoguchi_server.py"),
                secret,
            ]
        )
        target = Madoguchi.__new__(Madoguchi)  # the server is already running
        target.secret, target.tokens = secret, Tokens(secret)
        target.proc, target.port = proc, port
        opened = [await target.open_pair(i) for i in range(pairs)]

        async def relay(pair: int) -> None:
            a, b, ida, idb = opened[pair]
            for seq in range(messages // pairs):
                sender, receiver, dst, src = (a, b, idb, ida) if seq % 2 == 0 else (b, a, ida, idb)
                await sender.send(target.message(seq % 3, src, dst, time.perf_counter_ns()))
                await receiver.recv()

        await asyncio.gather(*(relay(i) for i in range(pairs)))
        for a, b, _, _ in opened:
            await a.close()
            await b.close()
        proc.terminate()
        proc.wait(timeout=120)
        text = out.read_text()
    found = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
    if found is None:
        raise RuntimeError("no totals in the callgrind output")
    return int(found.group(1))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--pairs", type=int, default=50)
    args = parser.parse_args()
    base = await instructions(0, args.pairs)
    loaded = await instructions(args.messages, args.pairs)
    relayed = args.messages // args.pairs * args.pairs
    print(f"server instructions: {base:,} with no relays, {loaded:,} with {relayed:,} relays")
    print(f"instructions per relayed message: {(loaded - base) / relayed:,.0f}")


if __name__ == "__main__":
    asyncio.run(main())
