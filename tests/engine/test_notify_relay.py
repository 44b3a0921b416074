"""Wake-up hints between processes (PostgreSQL LISTEN/NOTIFY) survive the loss of the
listening connection: the relay is a supervised side task, started again after a back-off."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from taskloom.clock import ManualClock
from taskloom.engine.notify import CHANNEL, Notifier
from taskloom.engine.supervisor import SideTaskState, Supervisor
from taskloom.store.database import Database
from tests.support.databases import fresh_pg_database


async def _hint_arrives(sender: Notifier, receiver: Notifier, task_id: str) -> None:
    with receiver.watch(task_id) as watch:
        sender.task_changed(task_id)
        async with asyncio.timeout(10):  # a backstop: the hint comes in milliseconds
            await watch.event.wait()


async def test_a_lost_listen_connection_is_reopened_and_hints_flow_again() -> None:
    clock = ManualClock()
    async with Database(await fresh_pg_database()) as db:
        one, other = Notifier(clock), Notifier(clock)  # two processes' notifiers
        side = Supervisor(clock, owner="test")
        side.start("relay-one", lambda: one.relay(db))
        side.start("relay-other", lambda: other.relay(db))
        try:
            await one.listening.wait()
            await other.listening.wait()
            await _hint_arrives(one, other, "task-1")

            async with db.write() as conn:  # the database drops the listening connections
                await conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE query = :listen AND datname = current_database()"
                    ),
                    {"listen": f'LISTEN "{CHANNEL}"'},
                )
            # both must be down (waiting out their back-off) before time moves past it
            await side.wait_for("relay-one", SideTaskState.DOWN)
            await side.wait_for("relay-other", SideTaskState.DOWN)
            assert not side.healthy

            await clock.advance(60)  # past the back-off
            await one.listening.wait()
            await other.listening.wait()
            await _hint_arrives(one, other, "task-2")
            assert side.healthy
        finally:
            await side.stop()
