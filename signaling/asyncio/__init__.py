"""The asyncio side of signaling: the WebSocket server, the buses and the node runner.

Everything that reads a socket, a clock or Redis lives here; the protocol and
the sans-I/O core in the parent package know nothing of it.
"""
