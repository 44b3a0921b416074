"""`GET /v1/tasks/{task_id}/trace`: every node run of a task with its input and output.

taskloom's own (the xpander contract has no per-node trace). The Task reply's `node_runs`
carry timings, status, error and tokens; this read adds what went in and came out.
"""

from __future__ import annotations

from fastapi import APIRouter

from taskloom.api.deps import Caller, State
from taskloom.api.guard import StrictJsonRoute
from taskloom.api.responses import COMMON_ERRORS, JSONBody
from taskloom.api.trace import trace_json
from taskloom.engine.subtasks import child_id
from taskloom.store import node_runs as node_run_store
from taskloom.store import tasks as task_store
from taskloom.store import turns as turn_store

router = APIRouter(tags=["tasks"], responses=COMMON_ERRORS, route_class=StrictJsonRoute)


@router.get("/v1/tasks/{task_id}/trace")
async def task_trace(task_id: str, caller: Caller, state: State) -> JSONBody:
    """Node runs in the order they finished, each with `input` (derived from the walk; see
    `input_source`), `output`, and `sub_task_id` where an agent node ran a sub-task."""
    async with state.db.read() as conn:
        task = await task_store.get_task(
            conn, organization_id=caller.organization_id, task_id=task_id
        )
        runs = await node_run_store.list_node_runs(conn, task_id=task.id)
        turns = await turn_store.list_turns(conn, task_id=task.id)
        children = {child for child, _ in await task_store.children_of(conn, task_id=task.id)}
    texts = {turn.turn: str(turn.input.get("text", "")) for turn in turns}
    # the task row holds the latest turn's input, whether or not its turn row is there
    texts.setdefault(task.turn, str(task.input.get("text", "")))
    # an agent node's sub-task has an id fixed by the parent and the node
    sub_tasks = {
        run.node_id: child_id(task.id, run.node_id)
        for run in runs
        if child_id(task.id, run.node_id) in children
    }
    body = {"task_id": task.id, "turn": task.turn, "node_runs": trace_json(runs, texts, sub_tasks)}
    return JSONBody(body)
