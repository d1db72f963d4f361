"""The baseline of ``server_throughput``: a bare aiohttp handler for ``/users/{id}``.

Same JSON bytes, same runner settings and readiness line as the mock server (it reuses
``mockserver.server.serve``), so the comparison isolates what the mock API adds per request.
Usage: ``python -m asyncio_perf_lab.benchmarks.selfbench.bare_server [--port 0] [--watch-stdin]``.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from asyncio_perf_lab.benchmarks.commands.common import Parser, bounded
from asyncio_perf_lab.mockserver.fakedata import user
from asyncio_perf_lab.mockserver.server import serve

_dumps = json.JSONEncoder(separators=(",", ":")).encode


async def user_handler(request: web.Request) -> web.Response:
    """What one would write without the lab: decode the id, answer the user as JSON."""
    return web.json_response(user(int(request.match_info["id"])), dumps=_dumps)


def main() -> int:
    """Serve the bare app until SIGTERM/SIGINT (or stdin EOF with --watch-stdin)."""
    parser = Parser(
        prog="python -m asyncio_perf_lab.benchmarks.selfbench.bare_server",
        description=__doc__.splitlines()[0],
        epilog="Example: python -m asyncio_perf_lab.benchmarks.selfbench.bare_server --port 0",
    )
    parser.add_argument("--port", type=bounded(int, 0, 65535, "--port"), default=0)
    parser.add_argument("--watch-stdin", action="store_true")
    args = parser.parse_args()
    app = web.Application()
    app.router.add_get("/users/{id}", user_handler)
    asyncio.run(serve(app, "127.0.0.1", args.port, watch_stdin=args.watch_stdin, name="bare"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
