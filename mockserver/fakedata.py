"""The fake API's data: pure functions of the ids, so every client variant can compare its results.

Nothing is random and nothing is stored: a user, a user's posts, a post's comments and a search
result are computed from their arguments alone. ``LargeJson`` builds the big payload of a size
once (off the loop, in a thread) and keeps it under a memory budget.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from typing import Any

FIRST = (
    "Ada", "Alan", "Barbara", "Brian", "Claude", "Dennis", "Donald", "Edsger", "Frances", "Grace",
    "Guido", "Hedy", "John", "Ken", "Linus", "Margaret", "Niklaus", "Radia", "Tim", "Yukihiro",
)  # fmt: skip
LAST = (
    "Allen", "Backus", "Cerf", "Dijkstra", "Engelbart", "Floyd", "Gosling", "Hopper", "Iverson",
    "Kay", "Knuth", "Lamport", "Liskov", "McCarthy", "Perlman", "Ritchie", "Stroustrup", "Thompson",
    "Wirth", "Zuse",
)  # fmt: skip
WORDS = (
    "async", "await", "loop", "task", "future", "gather", "timeout", "cancel", "queue", "lock",
    "socket", "stream", "latency", "throughput", "backpressure", "executor", "thread", "process",
)  # fmt: skip
POSTS_PER_USER = 5
COMMENTS_PER_POST = 3
SEARCH_POOL = 1000  # search looks through users 1..SEARCH_POOL
SEARCH_LIMIT = 10
MIB = 1 << 20
LARGE_CACHE_BUDGET = 256 * MIB  # bodies kept at once; the oldest size is dropped beyond it


def user(user_id: int) -> dict[str, Any]:
    """The user ``user_id``: the same name and email on every call and in every batch."""
    first = FIRST[user_id % len(FIRST)]
    last = LAST[(user_id // len(FIRST)) % len(LAST)]
    return {
        "id": user_id,
        "name": f"{first} {last}",
        "email": f"{first.lower()}.{last.lower()}{user_id}@example.com",
    }


def _title(seed: int, words: int) -> str:
    return " ".join(WORDS[(seed * 7 + k * 13) % len(WORDS)] for k in range(words))


def posts(user_id: int) -> list[dict[str, Any]]:
    """The posts of ``user_id``: ids ``user_id * 100 + 1..POSTS_PER_USER``."""
    return [
        {"id": user_id * 100 + k, "user_id": user_id, "title": _title(user_id * 100 + k, 4)}
        for k in range(1, POSTS_PER_USER + 1)
    ]


def comments(post_id: int) -> list[dict[str, Any]]:
    """The comments of ``post_id``: ids ``post_id * 10 + 1..COMMENTS_PER_POST``."""
    return [
        {"id": post_id * 10 + k, "post_id": post_id, "body": _title(post_id * 10 + k, 8)}
        for k in range(1, COMMENTS_PER_POST + 1)
    ]


_SEARCH_NAMES = [(i, user(i)["name"]) for i in range(1, SEARCH_POOL + 1)]


def search(q: str) -> dict[str, Any]:
    """Users 1..SEARCH_POOL whose name contains ``q`` (case-insensitive), the first SEARCH_LIMIT."""
    needle = q.strip().lower()
    results: list[dict[str, Any]] = []
    if needle:
        for user_id, name in _SEARCH_NAMES:
            if needle in name.lower():
                results.append({"id": user_id, "name": name})
                if len(results) == SEARCH_LIMIT:
                    break
    return {"q": q, "results": results}


def large_record(i: int) -> dict[str, Any]:
    """Record ``i`` of the large payload: mixed types, so parsing it costs what real JSON costs."""
    person = user(i)
    return {
        **person,
        "score": (i * 7919 % 10007) / 100,
        "active": i % 3 != 0,
        "tags": [WORDS[i % len(WORDS)], WORDS[(i * 5 + 1) % len(WORDS)]],
        "bio": _title(i, 6),
    }


def build_large_json(size: int) -> bytes:
    """A JSON list of records, at least ``size`` bytes (stops at the first record past it)."""
    parts: list[str] = []
    total = 2  # the brackets
    i = 0
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    while total < size or not parts:
        i += 1
        part = dumps(large_record(i))
        parts.append(part)
        total += len(part) + 1
    return ("[" + ",".join(parts) + "]").encode()


class LargeJson:
    """Bodies of ``/large.json`` by size: each built once, in a thread, within a byte budget."""

    def __init__(self, budget: int = LARGE_CACHE_BUDGET) -> None:
        self._budget = budget
        self._bodies: OrderedDict[int, bytes] = OrderedDict()
        self._building: dict[int, asyncio.Future[bytes]] = {}

    async def get(self, size: int) -> bytes:
        """The body of ``size`` bytes: cached, or built once even when many requests ask at once."""
        body = self._bodies.get(size)
        if body is not None:
            self._bodies.move_to_end(size)
            return body
        pending = self._building.get(size)
        if pending is None:
            # A thread, so building 64 MiB does not freeze the loop for every other request.
            pending = asyncio.ensure_future(asyncio.to_thread(build_large_json, size))
            self._building[size] = pending
            pending.add_done_callback(lambda fut: self._built(size, fut))
        # Shielded: a client that gives up must not waste a build the next request will want.
        return await asyncio.shield(pending)

    def _built(self, size: int, fut: asyncio.Future[bytes]) -> None:
        self._building.pop(size, None)
        if fut.cancelled() or fut.exception() is not None:
            return
        self._bodies[size] = fut.result()
        while sum(map(len, self._bodies.values())) > self._budget and len(self._bodies) > 1:
            self._bodies.popitem(last=False)
