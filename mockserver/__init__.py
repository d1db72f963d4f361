"""The lab's fake API: an aiohttp server in its own process with injected latency and faults.

Start it with ``python -m mockserver`` or, from code, ``with MockServer(...) as server``. See
``mockserver.app`` for the routes and headers, ``mockserver.latency`` for the SPEC grammar and
``mockserver.faults`` for the per-request controls. Imports only aiohttp and the standard library.
"""

from mockserver.app import make_app
from mockserver.latency import LatencySampler, LatencySpec, parse_latency
from mockserver.launcher import MockServer, MockServerError
from mockserver.limits import raise_open_files_limit

__all__ = [
    "LatencySampler",
    "LatencySpec",
    "MockServer",
    "MockServerError",
    "make_app",
    "parse_latency",
    "raise_open_files_limit",
]
