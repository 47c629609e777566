"""Synthetic media for tests, benchmarks and integrators without a camera.

aiortc's own ``VideoStreamTrack``/``AudioStreamTrack`` send a still green
frame and silence, which cannot show that *new* frames arrive or that a
microphone is live; ``aiortc.contrib.media.MediaPlayer`` needs a media file or
device. These two tracks fill that gap without numpy:

* :class:`TestPatternVideoTrack`: a moving bar plus the frame number written
  as a row of large black/white blocks, big enough to survive VP8/H.264
  compression, so a receiver can read it back with :func:`read_frame_number`
  and check that decoded frames keep increasing.
* :class:`SineToneAudioTrack`: a continuous sine tone (mono s16) whose level
  :func:`audio_level` measures on the other side.

Both pace themselves in real time and stamp frames with monotonically
increasing ``pts`` in their clock rate (90 kHz video, the sample rate for
audio), as aiortc's encoders expect.
"""

from __future__ import annotations

import array
import asyncio
import fractions
import math
import time

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

VIDEO_CLOCK_RATE = 90_000
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK_RATE)

# Frame-number stamp: two guard blocks (white, black) then 16 bits, MSB first.
_GUARD = (1, 0)
_NUMBER_BITS = 16
_BLOCKS = len(_GUARD) + _NUMBER_BITS
_BLACK = 16
_WHITE = 235
_GREY = 128


# Behind schedule by more than this (nobody read the track for a while, e.g.
# during a renegotiation), a track skips ahead instead of bursting to catch up.
_MAX_LAG = 0.5


class _Pacer:
    """Sleeps until the frame due at ``due_in_seconds`` after the start, in real time."""

    def __init__(self) -> None:
        self._start: float | None = None

    async def wait(self, due_in_seconds: float) -> None:
        now = time.monotonic()
        if self._start is None:
            self._start = now - due_in_seconds
            return
        delay = self._start + due_in_seconds - now
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -_MAX_LAG:
            self._start = now - due_in_seconds


class TestPatternVideoTrack(MediaStreamTrack):
    """A moving test pattern stamped with the frame number (yuv420p)."""

    kind = "video"
    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, width: int = 320, height: int = 240, fps: float = 15.0) -> None:
        super().__init__()
        if width < _BLOCKS * 8 or height < 64 or width % 2 or height % 2:
            raise ValueError("test pattern needs an even size of at least 144x64")
        if not 0 < fps <= 60:
            raise ValueError("fps must be in (0, 60]")
        self.width = width
        self.height = height
        self.fps = fps
        self.frames_sent = 0
        self._pacer = _Pacer()

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        n = self.frames_sent
        await self._pacer.wait(n / self.fps)
        frame = make_test_pattern(self.width, self.height, n)
        frame.pts = round(n * VIDEO_CLOCK_RATE / self.fps)
        frame.time_base = VIDEO_TIME_BASE
        self.frames_sent += 1
        return frame


def _stamp_geometry(width: int, height: int) -> tuple[int, int]:
    block_w = width // _BLOCKS
    block_h = max(16, height // 8)
    return block_w, block_h


def make_test_pattern(width: int, height: int, number: int) -> av.VideoFrame:
    """One yuv420p frame: frame-number stamp on top, a moving bar below."""
    frame = av.VideoFrame(width=width, height=height, format="yuv420p")
    block_w, block_h = _stamp_geometry(width, height)
    bits = [*_GUARD, *((number >> i) & 1 for i in range(_NUMBER_BITS - 1, -1, -1))]

    luma = frame.planes[0]
    stride = luma.line_size
    pad = bytes(stride - width)
    stamp_row = b"".join(bytes([_WHITE if b else _BLACK]) * block_w for b in bits)
    stamp_row += bytes([_GREY]) * (width - len(stamp_row)) + pad
    bar_w = max(8, width // 10)
    bar_x = (number * 4) % (width - bar_w)
    body_row = (
        bytes([_GREY // 2]) * bar_x
        + bytes([_WHITE]) * bar_w
        + bytes([_GREY // 2]) * (width - bar_x - bar_w)
        + pad
    )
    luma.update(stamp_row * block_h + body_row * (height - block_h))
    for chroma in frame.planes[1:]:
        chroma.update(bytes([_GREY]) * chroma.buffer_size)
    return frame


def read_frame_number(frame: av.VideoFrame) -> int | None:
    """The number stamped by :func:`make_test_pattern`, or ``None`` if absent.

    Reads the centre of each stamp block, so it tolerates lossy codecs.
    """
    if frame.format.name != "yuv420p":
        frame = frame.reformat(format="yuv420p")
    width, height = frame.width, frame.height
    if width < _BLOCKS * 8 or height < 64:
        return None
    block_w, block_h = _stamp_geometry(width, height)
    luma = frame.planes[0]
    data = bytes(luma)
    row = (block_h // 2) * luma.line_size
    bits = []
    for i in range(_BLOCKS):
        value = data[row + i * block_w + block_w // 2]
        bits.append(1 if value >= _GREY else 0)
    if tuple(bits[: len(_GUARD)]) != _GUARD:
        return None
    number = 0
    for bit in bits[len(_GUARD) :]:
        number = (number << 1) | bit
    return number


class SineToneAudioTrack(MediaStreamTrack):
    """A continuous sine tone, mono s16, in ``ptime`` frames.

    ``amplitude=0`` gives digital silence (a muted microphone).
    """

    kind = "audio"

    def __init__(
        self,
        frequency: float = 440.0,
        *,
        amplitude: float = 0.3,
        sample_rate: int = 48_000,
        ptime: float = 0.020,
    ) -> None:
        super().__init__()
        if not 0.0 <= amplitude <= 1.0:
            raise ValueError("amplitude must be in [0, 1]")
        self.frequency = frequency
        self.amplitude = amplitude
        self.sample_rate = sample_rate
        self.samples_per_frame = round(sample_rate * ptime)
        self.frames_sent = 0
        self._time_base = fractions.Fraction(1, sample_rate)
        self._pacer = _Pacer()

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        start = self.frames_sent * self.samples_per_frame
        await self._pacer.wait(start / self.sample_rate)
        frame = av.AudioFrame(format="s16", layout="mono", samples=self.samples_per_frame)
        frame.planes[0].update(self._samples(start))
        frame.pts = start
        frame.sample_rate = self.sample_rate
        frame.time_base = self._time_base
        self.frames_sent += 1
        return frame

    def _samples(self, start: int) -> bytes:
        peak = self.amplitude * 32767
        step = 2 * math.pi * self.frequency / self.sample_rate
        samples = array.array(
            "h", (round(peak * math.sin(step * (start + i))) for i in range(self.samples_per_frame))
        )
        # FFmpeg's s16 is native-endian, like array("h"): no byte swapping.
        return samples.tobytes()


def audio_level(frame: av.AudioFrame) -> float | None:
    """RMS level of a packed/planar s16 frame in [0, 1]; ``None`` for other formats.

    Samples every 4th value: plenty to tell a tone from silence, cheap in Python.
    """
    if frame.format.name not in ("s16", "s16p"):
        return None
    samples = array.array("h")
    samples.frombytes(bytes(frame.planes[0])[: frame.samples * 2 * _channels(frame)])
    picked = samples[::4]
    if not picked:
        return 0.0
    return math.sqrt(sum(s * s for s in picked) / len(picked)) / 32768.0


def _channels(frame: av.AudioFrame) -> int:
    if frame.format.is_planar:
        return 1
    return len(frame.layout.channels)
