"""SQLite's write-ahead log is copied back into the database file by a checkpoint in a thread
every so many commits (store/wal.py), not inside a commit on the event loop: the writes are in
the file after it, and the log's own threshold is only a backstop."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from taskloom.store import tasks as task_store
from taskloom.store.database import Database
from taskloom.store.migrate import upgrade
from taskloom.store.tables import tasks
from taskloom.store.wal import CHECKPOINT_EVERY

T0 = datetime(2026, 12, 6, 1, 0, 0, tzinfo=UTC)


async def test_every_so_many_commits_a_thread_checkpoints_the_log(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    async with Database(f"sqlite:///{path}") as db:
        await upgrade(db)
        await db.wal.settled()
        before, ran = path.stat().st_size, db.wal.checkpoints
        for i in range(CHECKPOINT_EVERY):
            async with db.write() as conn:
                await task_store.create_task(
                    conn,
                    task_id=f"t-{i}",
                    organization_id="org",
                    agent_id="wf",
                    agent_version=1,
                    input={"text": "x" * 2000},
                    request={},
                    max_attempts=3,
                    now=T0,
                )
        await db.wal.settled()
        assert db.wal.checkpoints == ran + 1
        assert path.stat().st_size > before  # the rows reached the database file
        async with db.read() as conn:
            count = (await conn.execute(sa.select(sa.func.count()).select_from(tasks))).scalar()
        assert count == CHECKPOINT_EVERY
