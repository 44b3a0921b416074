"""Rendered Task replies, kept while the task does not change.

Polling is most of an API's traffic, and a polled task rarely changed since the last poll.
The task's event sequence moves with every change a client can see, so one indexed lookup
tells whether the bytes rendered last time still hold; only then are the task and its trace
read and rendered again.
"""

from __future__ import annotations

from collections import OrderedDict

from taskloom.api.responses import render_json
from taskloom.engine.wire import task_json
from taskloom.store import node_runs as node_run_store
from taskloom.store import tasks as task_store
from taskloom.store.database import Database


class TaskViews:
    def __init__(self, db: Database, *, size: int = 2048) -> None:
        self._db = db
        self._size = size
        self._rendered: OrderedDict[str, tuple[str, int, bytes]] = OrderedDict()

    async def render(self, *, organization_id: str, task_id: str) -> bytes:
        async with self._db.read() as conn:
            version = await task_store.version_of(
                conn, organization_id=organization_id, task_id=task_id
            )
            cached = self._rendered.get(task_id)
            if cached is not None and cached[:2] == (organization_id, version):
                self._rendered.move_to_end(task_id)
                return cached[2]
            task = await task_store.get_task(conn, organization_id=organization_id, task_id=task_id)
            trace = await node_run_store.list_node_runs(conn, task_id=task_id)
            children = await task_store.children_of(conn, task_id=task_id)
        body = render_json(task_json(task, trace, children))
        # keyed by what was read with the task, not by the first lookup: a change in between
        # is then simply a miss next time
        self._rendered[task_id] = (organization_id, task.event_seq, body)
        self._rendered.move_to_end(task_id)
        if len(self._rendered) > self._size:
            self._rendered.popitem(last=False)
        return body
