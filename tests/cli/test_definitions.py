"""`taskloom workflows ...` and `taskloom agents ...` against a real server."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.cli.conftest import Run, Server, json_of, ok

WORKFLOW_YAML = """\
name: {name}
output_format: json
orchestration_nodes:
  - id: up
    type: code
    next_node_ids: [count]
    definition:
      code: |
        def main(input):
            return input.upper()
  - id: count
    type: code
    definition:
      code: |
        def main(input):
            return {{"text": input, "chars": len(input)}}
"""


def write_workflow(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(WORKFLOW_YAML.format(name=name))
    return path


def test_apply_creates_then_updates_then_deploys(cli: Run, tmp_path: Path) -> None:
    path = write_workflow(tmp_path, "apply-me")
    created = ok(cli("workflows", "apply", str(path)))
    assert "apply-me" in created.stdout
    assert "created, draft not deployed" in created.stdout
    again = json_of(cli("workflows", "apply", str(path), "--json"))
    assert (again["action"], again["deployed"]) == ("unchanged", False)
    deployed = json_of(cli("workflows", "apply", str(path), "--deploy", "--json"))
    assert deployed["deployed"] is True
    assert deployed["workflow"]["version"] == 1
    # nothing changed since version 1: --deploy makes no version 2
    still = json_of(cli("workflows", "apply", str(path), "--deploy", "--json"))
    assert (still["action"], still["deployed"], still["workflow"]["version"]) == (
        "unchanged",
        False,
        1,
    )


def test_apply_reads_json_and_targets_an_id(cli: Run, tmp_path: Path) -> None:
    first = json_of(cli("workflows", "apply", str(write_workflow(tmp_path, "by-id")), "--json"))
    body = {"id": first["workflow"]["id"], "name": "by-id-renamed", "description": "new"}
    path = tmp_path / "patch.json"
    path.write_text(json.dumps(body))
    applied = json_of(cli("workflows", "apply", str(path), "--json"))
    assert applied["action"] == "updated"
    assert applied["workflow"]["id"] == first["workflow"]["id"]
    assert applied["workflow"]["name"] == "by-id-renamed"


def test_apply_refuses_a_bad_file(cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("- just\n- a list\n")
    assert "one object" in ok(cli("workflows", "apply", str(path)), 2).output
    path.write_text("name: broken\norchestration_nodes: 3\n")
    refused = ok(cli("workflows", "apply", str(path)), 1)
    assert "error: 422" in refused.stderr
    assert "orchestration_nodes" in refused.stderr


def test_export_round_trips_through_apply(cli: Run, tmp_path: Path) -> None:
    ok(cli("workflows", "apply", str(write_workflow(tmp_path, "exported")), "--deploy"))
    exported = ok(cli("workflows", "export", "exported")).stdout
    definition = yaml.safe_load(exported)
    assert definition["name"] == "exported"
    assert "id" not in definition
    assert "version" not in definition
    path = tmp_path / "exported-again.yaml"
    path.write_text(exported)
    assert json_of(cli("workflows", "apply", str(path), "--json"))["action"] == "unchanged"
    as_json = json_of(cli("workflows", "export", "exported", "--format", "json"))
    assert as_json == definition


def test_ls_get_versions_deploy_rm(cli: Run, tmp_path: Path) -> None:
    applied = json_of(
        cli("workflows", "apply", str(write_workflow(tmp_path, "listed")), "--deploy", "--json")
    )
    workflow_id = applied["workflow"]["id"]
    listed = json_of(cli("workflows", "ls", "--per-page", "50", "--json"))
    assert workflow_id in [w["id"] for w in listed["items"]]
    table = ok(cli("workflows", "ls", "--per-page", "50")).stdout
    assert "listed" in table
    assert json_of(cli("workflows", "get", workflow_id, "--json"))["name"] == "listed"
    assert "version 1" in ok(cli("workflows", "get", "listed")).stdout
    redeployed = json_of(cli("workflows", "deploy", "listed", "--json"))
    assert redeployed["version"] == 2
    versions = json_of(cli("workflows", "versions", "listed", "--json"))
    assert [v["version"] for v in versions["versions"]] == [1, 2]
    assert [v["is_latest"] for v in versions["versions"]] == [False, True]
    assert versions["latest"] == 2
    lines = ok(cli("workflows", "versions", "listed")).stdout.splitlines()
    assert lines[0].startswith("v1  deployed ")
    assert lines[1].endswith("latest (invoked by default)")
    ok(cli("workflows", "rm", "listed"))
    gone = ok(cli("workflows", "get", workflow_id), 1)
    assert "404" in gone.stderr


def test_agents_apply_ls_get_export(cli: Run, server: Server, tmp_path: Path) -> None:
    path = tmp_path / "agent.json"
    agent = {
        "name": "helper",
        "instructions": {"role": ["You answer briefly."]},
        "model_provider": "local",
        "model_name": "m",
        "llm_api_base": server.model_base,
    }
    path.write_text(json.dumps(agent))
    applied = json_of(cli("agents", "apply", str(path), "--deploy", "--json"))
    assert applied["action"] == "created"
    assert applied["agent"]["version"] == 1
    listed = json_of(cli("agents", "ls", "--json"))
    assert "helper" in [a["name"] for a in listed["items"]]
    assert json_of(cli("agents", "get", "helper", "--json"))["model_name"] == "m"
    exported = yaml.safe_load(ok(cli("agents", "export", "helper")).stdout)
    assert exported["instructions"]["role"] == ["You answer briefly."]
    (tmp_path / "again.yaml").write_text(yaml.safe_dump(exported))
    # the first apply of an export may write the defaults the server filled in; from then on
    # the export is a fixed point
    ok(cli("agents", "apply", str(tmp_path / "again.yaml")))
    again = json_of(cli("agents", "apply", str(tmp_path / "again.yaml"), "--json"))
    assert again["action"] == "unchanged"
