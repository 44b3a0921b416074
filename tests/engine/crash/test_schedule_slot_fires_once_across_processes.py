"""Three `taskloom worker` processes sweep one schedule: every slot that comes starts exactly
one task, however the three race for it. The slots are made due by moving the schedule's
`next_fire_at` in the store, so the test needs no wait for a cron minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa

from taskloom.engine.wire import iso
from taskloom.store.tables import schedules
from tests.engine.crash.harness import FAST_LEASES, TERMINAL, Api, Cluster, Store, until
from tests.support.workflows import code_node

pytestmark = pytest.mark.crash

WORKERS = 3
ROUNDS = 3
# sweeps this often, so that the three processes keep colliding on each slot
SWEEPS = FAST_LEASES | {"sweep_s": "0.05"}
YEARLY = "0 0 1 1 *"  # its own slots never come during the test


async def test_each_slot_fires_once_across_three_worker_processes(
    cluster: Cluster, http: httpx.AsyncClient, store: Store
) -> None:
    _, base = cluster.api_only(**FAST_LEASES)
    api = Api(base, cluster.key(), http)
    workflow_id = await api.deploy(
        {"name": "tick", "orchestration_nodes": [code_node("echo", "return input")]}
    )
    created = await http.post(
        f"{base}/v1/schedules",
        json={"target_id": workflow_id, "cron": YEARLY, "input": {"text": "tick"}},
        headers=api.headers,
    )
    assert created.status_code == 201, created.text
    schedule_id = created.json()["id"]
    for _ in range(WORKERS):
        cluster.worker(**SWEEPS)

    slots: list[str] = []
    for _ in range(ROUNDS):
        slot = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
        slots.append(iso(slot))
        await store.execute(
            sa.update(schedules).where(schedules.c.id == schedule_id).values(next_fire_at=slot)
        )

        async def fired_and_done(slot: str = iso(slot)) -> bool:
            started = [
                task
                for task in (await store.tasks()).values()
                if task["request"].get("payload_extension", {}).get("slot") == slot
            ]
            return bool(started) and all(task["status"] in TERMINAL for task in started)

        await until(fired_and_done, within_s=30, what=f"slot {iso(slot)} fired and ran")
        # every worker has swept many times since the slot came: a duplicate would be here
        await until(
            lambda slot=slot: schedule_moved_on(store, schedule_id, slot),
            within_s=10,
            what="the schedule moved past the slot",
        )

    started = [
        task
        for task in (await store.tasks()).values()
        if task["request"].get("source") == "schedule"
    ]
    by_slot = sorted(task["request"]["payload_extension"]["slot"] for task in started)
    assert by_slot == sorted(slots)  # one task per slot, none twice
    assert all(task["status"] == "completed" for task in started)


async def schedule_moved_on(store: Store, schedule_id: str, slot: datetime) -> bool:
    row = await store.row(sa.select(schedules.c.next_fire_at).where(schedules.c.id == schedule_id))
    moved = row["next_fire_at"]
    if moved.tzinfo is None:
        moved = moved.replace(tzinfo=UTC)
    return bool(moved > slot)
