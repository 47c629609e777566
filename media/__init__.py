"""Media: everything that touches WebRTC audio and video on the server side.

- ``media.echo`` / ``media.http``: the pre-call check (an echoing aiortc peer,
  its report, and the FastAPI router the app mounts).
- ``media.client`` / ``media.peerlink``: a Python call participant speaking
  the signaling protocol, for tests, benchmarks and integrators.
- ``media.synthetic`` / ``media.meter``: synthetic tracks and a receiving meter.
- ``media.loopback``: test/benchmark-only helpers that keep WebRTC on loopback.
"""
