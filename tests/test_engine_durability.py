"""What the engine acknowledged survives kill -9 and a restart on the same SQLite file."""

from __future__ import annotations

import asyncio
import signal

import aiohttp
import pytest

from tests.conftest import EngineFactory, http


# each preset with its own storage.writer first, then with the other one
@pytest.mark.parametrize(
    ("preset", "writer"),
    [("default", "thread"), ("tuned", "loop"), ("default", "loop"), ("tuned", "thread")],
)
def test_acknowledged_events_and_claims_survive_kill_9(
    engine_factory: EngineFactory, preset: str, writer: str, tmp_path
) -> None:
    db = tmp_path / f"{preset}-{writer}.db"
    engine = engine_factory(preset, db=db, storage={"writer": writer})
    players = range(1, 201)

    async def play() -> dict[str, str]:
        acknowledged: dict[str, str] = {}
        async with aiohttp.ClientSession() as session:

            async def send(event: dict[str, object]) -> None:
                async with session.post(f"{engine.url}/v1/events", json=event) as answer:
                    if answer.status == 200:
                        result = (await answer.json())["results"][0]
                        acknowledged[result["id"]] = result["status"]

            await asyncio.gather(
                *(send({"id": f"j{p}", "type": "join", "hunt": 1, "player": p}) for p in players)
            )
            await asyncio.gather(
                *(
                    send(
                        {
                            "id": f"c{p}",
                            "type": "claim",
                            "hunt": 1,
                            "player": p,
                            "treasure": 1 + p % 3,
                        }
                    )  # fmt: skip
                    for p in players
                )
            )
        return acknowledged

    acknowledged = asyncio.run(play())
    engine.process.send_signal(signal.SIGKILL)
    engine.process.wait(5)
    assert len(acknowledged) == 2 * len(players)

    restarted = engine_factory(preset, db=db, storage={"writer": writer})
    stats = http("GET", f"{restarted.url}/v1/stats")[2]
    assert stats["persisted"] == {"join": 200, "claim": 200}
    assert stats["treasures_won"] == 3
    # every acknowledged result comes back the same when the event is sent again
    for event_id in ("j1", "c1", "c2", "c3", "c150"):
        kind = "join" if event_id[0] == "j" else "claim"
        player = int(event_id[1:])
        event = {"id": event_id, "type": kind, "hunt": 1, "player": player}
        if kind == "claim":
            event["treasure"] = 1 + player % 3
        status = http("POST", f"{restarted.url}/v1/events", event)[2]["results"][0]["status"]
        assert status == acknowledged[event_id]
    winners = [s for i, s in acknowledged.items() if i.startswith("c") and s == "won"]
    assert len(winners) == 3
