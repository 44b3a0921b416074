"""/v1/schedules: create, read (with the next slots), list, change, delete; bad cron, time
zone or target get clear 4xx; another organization's schedule does not exist."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import httpx

from tests.conftest import DeployWorkflow
from tests.support.workflows import w1


async def test_a_schedule_shows_its_next_slots_and_can_be_changed_and_deleted(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    target = await deploy_workflow(w1())
    created = await client.post(
        "/v1/schedules",
        json={
            "target_id": target,
            "cron": "30 9 * * 1-5",
            "timezone": "Europe/Paris",
            "input": {"text": "daily report"},
            "catch_up": "catch_up_one",
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    schedule = created.json()
    upcoming = [datetime.fromisoformat(moment) for moment in schedule["upcoming"]]
    assert len(upcoming) == 5
    assert upcoming == sorted(upcoming)
    assert schedule["next_fire_at"] == schedule["upcoming"][0]
    assert all(moment.weekday() < 5 for moment in upcoming)

    listed = await client.get("/v1/schedules", headers=headers)
    assert [s["id"] for s in listed.json()["items"]] == [schedule["id"]]

    paused = await client.patch(
        f"/v1/schedules/{schedule['id']}", json={"enabled": False}, headers=headers
    )
    assert paused.status_code == 200, paused.text
    assert paused.json()["next_fire_at"] is None
    assert paused.json()["upcoming"] == []
    hourly = await client.patch(
        f"/v1/schedules/{schedule['id']}",
        json={"enabled": True, "cron": "0 * * * *", "timezone": "UTC"},
        headers=headers,
    )
    slots = [datetime.fromisoformat(moment) for moment in hourly.json()["upcoming"]]
    assert {b - a for a, b in itertools.pairwise(slots)} == {timedelta(hours=1)}
    assert all(moment.minute == 0 for moment in slots)

    deleted = await client.delete(f"/v1/schedules/{schedule['id']}", headers=headers)
    assert deleted.status_code == 204
    gone = await client.get(f"/v1/schedules/{schedule['id']}", headers=headers)
    assert gone.status_code == 404


async def test_bad_schedules_get_clear_answers(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    other_key: str,
    deploy_workflow: DeployWorkflow,
) -> None:
    target = await deploy_workflow(w1())

    async def create(**body: object) -> httpx.Response:
        return await client.post(
            "/v1/schedules", json={"target_id": target, **body}, headers=headers
        )

    assert (await create(cron="61 * * * *")).status_code == 422
    assert (await create(cron="* * * * *", timezone="Mars/Olympus")).status_code == 422
    assert (await create(cron="* * * * *", catch_up="all")).status_code == 422
    missing = await client.post(
        "/v1/schedules", json={"target_id": "nope", "cron": "* * * * *"}, headers=headers
    )
    assert missing.status_code == 404
    mine = await create(cron="* * * * *")
    theirs = await client.get(
        f"/v1/schedules/{mine.json()['id']}", headers={"x-api-key": other_key}
    )
    assert theirs.status_code == 404
