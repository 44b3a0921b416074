"""Rendered Task replies, kept while the task does not change.

Polling is most of an API's traffic, and a polled task rarely changed since the last poll.
The task's event sequence moves with every change a client can see, so one indexed lookup
tells whether the bytes rendered last time still hold; only then are the task and its trace
read and rendered again. The same number, with the task id, is the reply's ETag: a client
that sends it back in `If-None-Match` gets a bodiless 304 while nothing changed.

A running task's trace only grows (`node_runs_after`), so a changed task's poll reads just
the node runs recorded since its last render and splices their rendering after the ones
already in the cached body: a fan-out's twenty branches are read and rendered once, not at
every poll until the task ends.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from taskloom import errors
from taskloom.api.responses import render_json
from taskloom.engine.versions import DRAFT_KEY, DRAFT_VERSION
from taskloom.engine.wire import node_run_json, task_json
from taskloom.store import node_runs as node_run_store
from taskloom.store import tasks as task_store
from taskloom.store import workflows as workflow_store
from taskloom.store.database import Connection, Database
from taskloom.store.records import TaskRecord
from taskloom.workflows.graph import starts_sub_tasks


@dataclass(frozen=True, slots=True)
class TaskView:
    body: bytes
    etag: bytes


@dataclass(frozen=True, slots=True)
class _Trace:
    """Where a cached body's trace stands: the task it belongs to (an id can be reused once
    its task is deleted: the creation time tells them apart), its last node run's number, and
    where its rendered runs start in the body (they end just before its closing `]}`)."""

    created_at: datetime
    last_id: int
    start: int


_TRACE_KEY = b',"node_runs":['


def etag_of(task_id: str, version: int) -> bytes:
    return f'"{task_id}.{version}"'.encode()


def not_modified(if_none_match: bytes | None, etag: bytes) -> bool:
    """RFC 9110 §13.1.2: a weak comparison against each listed tag, or `*`."""
    if not if_none_match:
        return False
    for tag in if_none_match.split(b","):
        tag = tag.strip()
        if tag == b"*" or tag.removeprefix(b"W/") == etag:
            return True
    return False


class TaskViews:
    def __init__(self, db: Database, *, size: int = 2048) -> None:
        self._db = db
        self._size = size
        self._rendered: OrderedDict[str, tuple[str, int, TaskView, _Trace | None]] = OrderedDict()
        # deployed versions are immutable: whether one starts sub-tasks is known for good
        self._delegating: dict[tuple[str, int], bool] = {}

    async def current(self, *, organization_id: str, task_id: str) -> TaskView | None:
        """The view if the task has not changed since it was rendered (one indexed read on
        the driver's connection), else None: `render` it then (or answer its 404)."""
        cached = self._rendered.get(task_id)
        if cached is None or cached[0] != organization_id:
            return None
        version = await task_store.current_version(
            self._db, organization_id=organization_id, task_id=task_id
        )
        if version != cached[1]:
            return None
        self._rendered.move_to_end(task_id)
        return cached[2]

    async def render(self, *, organization_id: str, task_id: str) -> TaskView:
        return await self.current(
            organization_id=organization_id, task_id=task_id
        ) or await self.rendered(organization_id=organization_id, task_id=task_id)

    async def as_of(self, task: TaskRecord) -> TaskView:
        """The view of `task` as this record shows it, even when the task has moved on since
        (a sync invoke answers with its own turn, not a later one queued behind it)."""
        cached = self._rendered.get(task.id)
        if cached is not None and cached[0] == task.organization_id and cached[1] == task.event_seq:
            return cached[2]
        async with self._db.read() as conn:
            return await self._render(conn, task)

    async def rendered(self, *, organization_id: str, task_id: str) -> TaskView:
        """The task read and rendered afresh (raises NotFound), and kept for the next poll."""
        # most tasks are known to start no sub-task: their task row and trace are read with
        # prebuilt statements on the driver's connection (each poll of a changed task does)
        cached = self._rendered.get(task_id)
        known = cached[3] if cached is not None and cached[0] == organization_id else None
        async with self._db.hot_read() as conn:
            task = await task_store.get_task(conn, organization_id=organization_id, task_id=task_id)
            leaf = self._known_leaf(task)
            if leaf:
                if known is not None and known.created_at != task.created_at:
                    known = None  # another task under a reused id
                last_id, runs = await node_run_store.node_runs_after(
                    conn, task_id=task.id, after_id=known.last_id if known else 0
                )
        trace: _Trace | None = None
        if leaf:
            head = render_json(task_json(task))[:-1] + _TRACE_KEY
            rendered = b",".join(render_json(node_run_json(run)) for run in runs)
            if known is not None and cached is not None:
                before = cached[2].body[known.start : -2]
                rendered = b",".join(part for part in (before, rendered) if part)
            trace = _Trace(task.created_at, last_id, len(head))
            view = TaskView(head + rendered + b"]}", etag_of(task.id, task.event_seq))
        else:
            async with self._db.read() as conn:
                task = await task_store.get_task(
                    conn, organization_id=organization_id, task_id=task_id
                )
                view = await self._render(conn, task)
        # keyed by what was read with the task, not by the first lookup: a change in between
        # is then simply a miss next time
        self._rendered[task_id] = (organization_id, task.event_seq, view, trace)
        self._rendered.move_to_end(task_id)
        if len(self._rendered) > self._size:
            self._rendered.popitem(last=False)
        return view

    async def _render(self, conn: Connection, task: TaskRecord) -> TaskView:
        """`task` with its node runs and sub-tasks, as GET /v1/tasks/{id} shows it."""
        trace = await node_run_store.list_node_runs(conn, task_id=task.id)
        children = []
        if await self._may_have_children(conn, task):
            children = await task_store.children_of(conn, task_id=task.id)
        return TaskView(
            render_json(task_json(task, trace, children)), etag_of(task.id, task.event_seq)
        )

    def _known_leaf(self, task: TaskRecord) -> bool:
        """Whether the task is known, without a read, to start no sub-task."""
        draft = task.request.get(DRAFT_KEY)
        if task.agent_version == DRAFT_VERSION and isinstance(draft, dict):
            return not starts_sub_tasks(draft)
        return self._delegating.get((task.agent_id, task.agent_version)) is False

    async def _may_have_children(self, conn: Connection, task: TaskRecord) -> bool:
        """Most workflows have no agent node: their tasks skip the sub-task query."""
        draft = task.request.get(DRAFT_KEY)
        if task.agent_version == DRAFT_VERSION and isinstance(draft, dict):
            return starts_sub_tasks(draft)
        key = (task.agent_id, task.agent_version)
        known = self._delegating.get(key)
        if known is None:
            try:
                definition = await workflow_store.get_version(
                    conn, workflow_id=task.agent_id, version=task.agent_version
                )
            except errors.NotFound:  # deleted since: its tasks' children still count
                return True
            known = self._delegating[key] = starts_sub_tasks(definition)
            if len(self._delegating) > self._size:
                self._delegating.clear()
        return known
