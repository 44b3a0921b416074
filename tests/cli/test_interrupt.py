"""Ctrl-C while following a task asks whether to stop it (real server, a real running task;
the interrupt itself is raised by the event iterator, where a terminal's would land)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from taskloom.cli.output import ExitCode
from taskloom.cli.watching import follow
from taskloom.client import Client, Event, TaskStatus
from tests.cli.conftest import Server
from tests.support.workflows import code_node


class InterruptedClient(Client):
    """A real client whose event stream is interrupted after its first event."""

    def events(self, task_id: str, **kwargs: object) -> Iterator[Event]:  # type: ignore[override]  # kwargs passed through
        for event in super().events(task_id, **kwargs):  # type: ignore[arg-type]  # the same kwargs
            yield event
            raise KeyboardInterrupt


@pytest.fixture
def running(server: Server) -> Iterator[tuple[InterruptedClient, str]]:
    with InterruptedClient(server.base, server.key) as client:
        body = {
            "name": "nap",
            "orchestration_nodes": [code_node("nap", "import time\ntime.sleep(30)")],
        }
        workflow = client.deploy_workflow(client.create_workflow(body).id)
        task = client.submit(workflow.id, "x")
        yield client, task.id
        client.stop_task(task.id)


@pytest.mark.parametrize("as_json", [False, True])
def test_ctrl_c_then_yes_stops_the_task(
    running: tuple[InterruptedClient, str], as_json: bool
) -> None:
    client, task_id = running
    with CliRunner().isolation(input="y\n"):
        code = follow(client, task_id, from_turn=None, as_json=as_json)
    assert code is ExitCode.TASK_STOPPED
    assert client.get_task(task_id).status is TaskStatus.STOPPED


def test_ctrl_c_then_no_leaves_it_running(running: tuple[InterruptedClient, str]) -> None:
    client, task_id = running
    with CliRunner().isolation(input="n\n") as (_, err, *__):
        code = follow(client, task_id, from_turn=None, as_json=False)
        message = err.getvalue().decode()
    assert code is ExitCode.INTERRUPTED
    assert f"taskloom tasks watch {task_id}" in message
    assert not client.get_task(task_id).status.is_terminal
