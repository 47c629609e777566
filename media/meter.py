"""Consume a received track and measure it: frames, rate, audio level, frame numbers.

Shared by the pre-call check (what did the caller send us?) and the client
library (what did the other side send us?). A meter is the sink that keeps a
remote track flowing, like ``aiortc.contrib.media.MediaBlackhole``, but counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from media.synthetic import audio_level, read_frame_number

log = logging.getLogger(__name__)

# RMS level (0..1) above which an audio frame counts as "sound"; digital
# silence is 0 and a quiet room through a real microphone is around 0.001-0.01.
SOUND_LEVEL = 0.003


@dataclass(frozen=True, slots=True)
class TrackStats:
    kind: str
    frames: int
    # Seconds between the first and the last frame received.
    duration: float
    # Audio: frames whose level was above SOUND_LEVEL, and the loudest level seen.
    frames_with_sound: int
    peak_level: float
    # Video: frame numbers read from a synthetic test pattern (see media.synthetic).
    last_frame_number: int | None
    frame_numbers_increasing: bool
    width: int | None
    height: int | None

    @property
    def frame_rate(self) -> float:
        if self.frames < 2 or self.duration <= 0:
            return 0.0
        return (self.frames - 1) / self.duration


class TrackMeter:
    """Reads every frame of ``track`` until it ends or :meth:`stop` is called."""

    def __init__(self, track: MediaStreamTrack, *, clock: Callable[[], float] = time.monotonic):
        self.track = track
        self.kind: str = track.kind
        self._clock = clock
        self._frames = 0
        self._first_at: float | None = None
        self._last_at: float | None = None
        self._with_sound = 0
        self._peak = 0.0
        self._last_number: int | None = None
        self._increasing = True
        self._size: tuple[int, int] | None = None
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.ended = asyncio.Event()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"meter-{self.kind}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.ended.set()
        self._changed.set()

    @property
    def last_frame_at(self) -> float | None:
        return self._last_at

    def stats(self) -> TrackStats:
        duration = 0.0
        if self._first_at is not None and self._last_at is not None:
            duration = self._last_at - self._first_at
        return TrackStats(
            kind=self.kind,
            frames=self._frames,
            duration=duration,
            frames_with_sound=self._with_sound,
            peak_level=self._peak,
            last_frame_number=self._last_number,
            frame_numbers_increasing=self._increasing,
            width=self._size[0] if self._size else None,
            height=self._size[1] if self._size else None,
        )

    async def wait_for(self, predicate: Callable[[TrackStats], bool]) -> TrackStats:
        """Wait until ``predicate(stats)`` holds; callers bound it with a timeout."""
        while True:
            stats = self.stats()
            if predicate(stats):
                return stats
            if self.ended.is_set():
                raise MediaStreamError(f"{self.kind} track ended before the condition held")
            self._changed.clear()
            await self._changed.wait()

    async def _run(self) -> None:
        try:
            while True:
                frame = await self.track.recv()
                self._record(frame)
        except MediaStreamError:
            pass
        finally:
            self.ended.set()
            self._changed.set()

    def _record(self, frame: Any) -> None:  # av frames are untyped
        now = self._clock()
        if self._first_at is None:
            self._first_at = now
        self._last_at = now
        self._frames += 1
        if self.kind == "audio":
            level = audio_level(frame)
            if level is not None:
                self._peak = max(self._peak, level)
                if level > SOUND_LEVEL:
                    self._with_sound += 1
        else:
            self._size = (frame.width, frame.height)
            number = read_frame_number(frame)
            if number is not None:
                if self._last_number is not None and number <= self._last_number:
                    self._increasing = False
                self._last_number = number
        self._changed.set()
