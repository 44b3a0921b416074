"""The client's event stream across a server killed and restarted mid-task: it reconnects
with Last-Event-ID to the new process and sees every event exactly once, to the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from taskloom.client import Client, TaskStatus
from tests.support.server import Process, create_key, free_port, process_env, wait_ready
from tests.support.workflows import code_node

SETTINGS = {"lease_s": "2", "heartbeat_s": "0.5", "sweep_s": "0.5", "poll_s": "0.2"}


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    try:
        yield started
    finally:
        for process in started:
            process.kill()


def test_events_resume_across_a_server_restart(tmp_path: Path, processes: list[Process]) -> None:
    database_url = f"sqlite:///{tmp_path / 'taskloom.db'}"
    key = create_key(database_url, "restart")
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    def serve(log: str) -> Process:
        process = Process(
            ["serve", "--port", str(port)], process_env(database_url, **SETTINGS), tmp_path / log
        )
        processes.append(process.start())
        wait_ready(base, process)
        return process

    first = serve("first.log")
    nodes = [
        code_node(
            f"n{k}",
            f"import time\ntime.sleep(0.3)\nreturn input + '{k}'",
            next_ids=[f"n{k + 1}"] if k < 3 else [],
        )
        for k in range(4)
    ]
    with Client(base, key) as client:
        workflow = client.create_workflow({"name": "restart", "orchestration_nodes": nodes})
        client.deploy_workflow(workflow.id)
        task = client.submit(workflow.id, "x")
        seen = []
        for event in client.events(task.id, max_retries=12):
            seen.append(event)
            if (
                event.type == "node_finished"
                and first.popen is not None
                and first.popen.poll() is None
            ):
                first.kill()  # mid-task: the stream breaks, the task's lease is left behind
                serve("second.log")
        finished = seen[-1].task()
    assert [e.id for e in seen] == list(range(1, len(seen) + 1))
    assert finished is not None
    assert (finished.status, finished.result) == (TaskStatus.COMPLETED, "x0123")
