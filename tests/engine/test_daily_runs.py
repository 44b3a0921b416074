"""`task_level_strategies.max_runs_per_day`, at accept, on a manual clock, on both stores."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from taskloom import errors
from taskloom.engine.intake import Invocation
from tests.conftest import test_settings as make_settings
from tests.support.engine import Engine, open_engine, summarizer_workflow


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[Engine]:
    async with open_engine(make_settings(database_url)) as engine:
        yield engine


async def test_a_workflow_runs_at_most_its_daily_limit_until_midnight_utc(engine: Engine) -> None:
    limited = {**summarizer_workflow(), "task_level_strategies": {"max_runs_per_day": 2}}
    workflow = await engine.deploy(limited)
    other = await engine.deploy(summarizer_workflow())
    await engine.clock.advance(23 * 3600)  # 23:00 UTC

    first = (await engine.invoke(workflow)).task
    await engine.invoke(workflow)
    with pytest.raises(errors.RateLimited, match="2 times a day") as refused:
        await engine.invoke(workflow)
    assert refused.value.retry_after_s == 3601
    await engine.invoke(other)  # another workflow has its own count

    engine.models.gate.set()
    assert await engine.worker.claim_once(10) == 3
    await engine.settled(first.id)
    next_turn = Invocation(
        organization_id=engine.organization_id,
        workflow_id=workflow,
        version=None,
        input={"text": "more"},
        request={},
        task_id=first.id,
    )
    await engine.intake.invoke(next_turn)  # a conversation going on is not a new run

    await engine.clock.advance(3600)  # a new day
    await engine.invoke(workflow)
