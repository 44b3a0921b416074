"""`/health`: what a load balancer or an operator asks of one process."""

from __future__ import annotations

import httpx


async def test_health_reports_the_store_and_every_worker_loop(client: httpx.AsyncClient) -> None:
    reply = await client.get("/health")

    assert reply.status_code == 200
    body = reply.json()
    assert body["status"] == "ok"
    assert body["store"] == "ok"
    assert body["sandbox"] == "bwrap"  # bubblewrap is installed wherever the suite runs
    assert {name: loop["state"] for name, loop in body["workers"].items()} == {
        "claim": "running",
        "heartbeat": "running",
        "sweeper": "running",
    }
