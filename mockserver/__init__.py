"""The lab's fake API: an aiohttp server in its own process with injected latency and faults.

Start it with ``asyncio-lab serve`` or, from code, ``with MockServer(...) as server``. See
``mockserver.app`` for the routes and headers, ``mockserver.latency`` for the SPEC grammar,
``mockserver.faults`` for the per-request controls and ``mockserver.routes`` for a user's routes
file. Imports only aiohttp and the standard library.
"""

from asyncio_perf_lab.mockserver.app import load_routes, make_app
from asyncio_perf_lab.mockserver.latency import LatencySampler, LatencySpec, parse_latency
from asyncio_perf_lab.mockserver.launcher import MockServer, MockServerError
from asyncio_perf_lab.mockserver.limits import raise_open_files_limit
from asyncio_perf_lab.mockserver.routes import Route, RoutesError

__all__ = [
    "LatencySampler",
    "LatencySpec",
    "MockServer",
    "MockServerError",
    "Route",
    "RoutesError",
    "load_routes",
    "make_app",
    "parse_latency",
    "raise_open_files_limit",
]
