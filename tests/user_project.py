"""A user's own project for the lab: one scenario module in a folder and its routes file.

The scenario (``checkout``) imports only ``asyncio_perf_lab`` and the standard library and sends
no latency (``LATENCY = None``): the routes file gives its one route a latency. Shared by the
tests that run a user's folder through ``run``, ``trace``, ``ab`` and ``matrix``.
"""

from __future__ import annotations

from pathlib import Path

CARTS = 4  # N: the overlapped variant has N requests in flight, the sequential one N in a row
LATENCY_MS = 40

SCENARIO = f'''"""Checkout: {CARTS} cart lookups, awaited in turn or together

A user's own scenario: it imports only asyncio_perf_lab and the standard library.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from asyncio_perf_lab import Context, Machine, Variant

QUESTION = "Cart lookups: what does awaiting them one by one cost?"
LESSON = "Independent lookups started together cost one latency; awaited in turn, the sum."
LATENCY = None  # routes.toml gives /carts/{{cart_id}} its own latency


@dataclass(frozen=True)
class Workload:
    carts: int = {CARTS}
    cart_latency_s: float = {LATENCY_MS / 1000}  # the route's latency in routes.toml


TINY = Workload(carts=2)


async def one_by_one(ctx: Context) -> list[dict]:
    """Each lookup waits for the previous one."""
    return [await ctx.get_json(f"/carts/{{i}}") for i in range(ctx.workload.carts)]


async def together(ctx: Context) -> list[dict]:
    """Every lookup in flight at once."""
    lookups = (ctx.get_json(f"/carts/{{i}}") for i in range(ctx.workload.carts))
    return list(await asyncio.gather(*lookups))


def _sum(w: Workload, latency_s: float, machine: Machine) -> float:
    return w.carts * w.cart_latency_s


def _one(w: Workload, latency_s: float, machine: Machine) -> float:
    return w.cart_latency_s


VARIANTS = {{
    "one_by_one": Variant(one_by_one, "awaited one by one", "the staircase", _sum, True, 1.5),
    "together": Variant(together, "asyncio.gather", "all in flight", _one, budget=1.5),
}}
'''

ROUTES = f"""
[[route]]
path = "/carts/{{cart_id}}"
latency = "{LATENCY_MS}ms"
json = {{ cart = "{{cart_id}}", items = 3 }}
"""

OVERLAPPED = "    return list(await asyncio.gather(*lookups))\n"
SERIALIZED = "    return [await lookup for lookup in lookups]\n"  # the regression: one at a time


def user_folder(root: Path, name: str = "checkout") -> tuple[Path, Path]:
    """``root/perf/<name>.py`` and ``root/routes.toml``, outside the lab's repository."""
    folder = root / "perf"
    folder.mkdir(parents=True)
    (folder / f"{name}.py").write_text(SCENARIO)
    routes = root / "routes.toml"
    routes.write_text(ROUTES)
    return folder, routes
