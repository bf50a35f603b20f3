"""A minimal, fast stand-in for the Veltrix API, so that a benchmark measures the load
generator rather than the engine: every event is 'applied' at once, nothing is stored.

    python -m benchmarks._fast_target PORT
"""

from __future__ import annotations

import json
import sys

from aiohttp import web

HUNT = {
    "places": list(range(1, 11)),
    "clues": [{"clue": i, "answer": "amber"} for i in range(1, 6)],
    "treasures": [1, 2, 3],
}
COUNTS: dict[str, int] = {}


async def events(request: web.Request) -> web.Response:
    body = json.loads(await request.read())
    items = body if isinstance(body, list) else [body]
    for item in items:
        COUNTS[item["type"]] = COUNTS.get(item["type"], 0) + 1
    results = [{"id": item["id"], "status": "applied"} for item in items]
    return web.json_response({"results": results})


async def hunt(request: web.Request) -> web.Response:
    return web.json_response({"hunt": int(request.match_info["hunt"]), **HUNT})


async def small(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def stats(request: web.Request) -> web.Response:
    return web.json_response({"acknowledged": COUNTS, "persisted": COUNTS, "treasures_won": 0,
                              "queue_depth": 0, "requests_in_flight": 0})  # fmt: skip


def main() -> None:
    app = web.Application()
    app.add_routes([
        web.post("/v1/events", events), web.get("/v1/hunts/{hunt}", hunt),
        web.get("/v1/hunts/{hunt}/leaderboard", small), web.get("/v1/players/{player}", small),
        web.get("/healthz", small), web.get("/v1/stats", stats),
    ])  # fmt: skip
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
