"""`taskloom workflows` and `taskloom agents`: the same commands on two kinds of definition.

`apply FILE` is declarative: the file names a workflow (by `id`, else by `name`); one that
does not exist yet is created, one that does has its draft updated with the file's fields.
`--deploy` then publishes the draft as a new version, unless nothing changed since the last.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
import yaml
from rich.table import Table

from taskloom.cli.connection import ConnectionOptions
from taskloom.cli.output import JsonFlag, console, print_json, when
from taskloom.client import Agent, Client, DeployedVersion, Kind, NotFound, Page, Workflow

Definition = Workflow | Agent


@dataclass(frozen=True, slots=True)
class Definitions:
    """A kind's operations on one client: what the commands below call."""

    kind: Kind
    page: Callable[..., Page[Any]]
    get: Callable[[str], Definition]
    create: Callable[[Mapping[str, Any]], Definition]
    update: Callable[..., Definition]
    deploy: Callable[[str], Definition]
    versions: Callable[[str], list[DeployedVersion]]
    delete: Callable[[str], None]

    @classmethod
    def of(cls, client: Client, kind: Kind) -> Definitions:
        if kind == "workflow":
            return cls(
                kind,
                client.list_workflows,
                client.get_workflow,
                client.create_workflow,
                client.update_workflow,
                client.deploy_workflow,
                client.workflow_versions,
                client.delete_workflow,
            )
        return cls(
            kind,
            client.list_agents,
            client.get_agent,
            client.create_agent,
            client.update_agent,
            client.deploy_agent,
            client.agent_versions,
            client.delete_agent,
        )

    def find(self, ref: str) -> Definition:
        """By id, else by exact name (NotFound if none, BadParameter if several share it)."""
        try:
            return self.get(ref)
        except NotFound:
            pass
        named = [d for d in self.all() if d.name == ref]
        if len(named) > 1:
            ids = ", ".join(d.id for d in named)
            raise typer.BadParameter(f"{len(named)} {self.kind}s are named {ref!r}: {ids}")
        if not named:
            raise NotFound(404, f"no {self.kind} with id or name {ref!r}")
        return named[0]

    def find_name(self, name: str) -> Definition | None:
        named = [d for d in self.all() if d.name == name]
        if len(named) > 1:
            raise typer.BadParameter(f"{len(named)} {self.kind}s are named {name!r}: give an id")
        return named[0] if named else None

    def all(self) -> list[Definition]:
        found: list[Definition] = []
        page = 1
        while True:
            batch = self.page(page=page, per_page=50)
            found += batch.items
            if page >= batch.total_pages:
                return found
            page += 1


def load_definition(path: Path) -> dict[str, Any]:
    """A definition from a YAML or JSON file (JSON by its `.json` suffix; YAML reads both)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise typer.BadParameter(f"{path} is not valid {path.suffix[1:] or 'YAML'}: {exc}") from exc
    if not isinstance(data, dict):
        raise typer.BadParameter(f"{path} must hold one object (a mapping)")
    return data


Ref = Annotated[str, typer.Argument(help="its id or name")]

Action = Literal["created", "updated", "unchanged"]


def apply_definition(
    ops: Definitions, body: dict[str, Any], *, deploy: bool
) -> tuple[Action, Definition, bool]:
    """Create or update the draft; deploy it if asked and it differs from the last version.
    Returns what was done, the definition after it, and whether a version was deployed."""
    body = dict(body)
    target_id = body.pop("id", None)
    current = ops.get(str(target_id)) if target_id else None
    if current is None:
        if not isinstance(body.get("name"), str):
            raise typer.BadParameter("the definition needs a `name` (or an `id`)")
        current = ops.find_name(body["name"])
    if current is None:
        action: Action = "created"
        after = ops.create(body)
    else:
        after = ops.update(current.id, body)
        changed = after.has_pending_changes and not current.has_pending_changes
        action = "updated" if changed or after.definition() != current.definition() else "unchanged"
    deployed = deploy and (after.has_pending_changes or after.version == 0)
    if deployed:
        after = ops.deploy(after.id)
    return action, after, deployed


def definitions_app(kind: Kind) -> typer.Typer:
    noun = kind
    app = typer.Typer(no_args_is_help=True, help=f"Define, deploy and read {noun}s.")

    def ops_for(ctx: typer.Context) -> tuple[Client, Definitions]:
        options: ConnectionOptions = ctx.find_root().obj
        client = options.client()
        return client, Definitions.of(client, kind)

    @app.command("apply")
    def apply(
        ctx: typer.Context,
        file: Annotated[Path, typer.Argument(help="a YAML or JSON definition")],
        deploy: Annotated[bool, typer.Option(help="deploy the draft as a new version")] = False,
        as_json: JsonFlag = False,
    ) -> None:
        """Create the definition, or update its draft; `--deploy` publishes it."""
        body = load_definition(file)
        client, ops = ops_for(ctx)
        with client:
            action, after, deployed = apply_definition(ops, body, deploy=deploy)
        if as_json:
            print_json({"action": action, "deployed": deployed, noun: after})
            return
        line = f"{noun} {after.name} ({after.id}) {action}"
        if deployed:
            line += f", deployed as version {after.version}"
        elif after.has_pending_changes:
            line += ", draft not deployed"
        console().print(line)

    @app.command("ls")
    def list_(
        ctx: typer.Context,
        page: Annotated[int, typer.Option(min=1)] = 1,
        per_page: Annotated[int, typer.Option(min=1, max=50)] = 20,
        as_json: JsonFlag = False,
    ) -> None:
        """List them, newest first."""
        client, ops = ops_for(ctx)
        with client:
            found = ops.page(page=page, per_page=per_page)
        if as_json:
            print_json(found)
            return
        table = Table(box=None, pad_edge=False)
        for column in ("id", "name", "status", "version", "draft", "updated"):
            table.add_column(column)
        for item in found.items:
            draft = "changed" if item.has_pending_changes else "-"
            version = str(item.version) if item.version else "-"
            table.add_row(item.id, item.name, item.status, version, draft, when(item.updated_at))
        out = console()
        out.print(table)
        out.print(f"page {found.page} of {max(found.total_pages, 1)} ({found.total} {noun}s)")

    @app.command("get")
    def get(ctx: typer.Context, ref: Ref, as_json: JsonFlag = False) -> None:
        """Show one, as the server returns it."""
        client, ops = ops_for(ctx)
        with client:
            found = ops.find(ref)
        if as_json:
            print_json(found)
            return
        out = console()
        out.print(f"{noun} {found.name} ({found.id})", style="bold")
        version = found.version or "none deployed"
        pending = "  draft has changes" if found.has_pending_changes else ""
        out.print(f"status {found.status}  version {version}{pending}")
        out.print(yaml.safe_dump(found.definition(), sort_keys=False, allow_unicode=True))

    @app.command("export")
    def export(
        ctx: typer.Context,
        ref: Ref,
        format: Annotated[str, typer.Option(help="yaml or json")] = "yaml",
        as_json: JsonFlag = False,
    ) -> None:
        """Print the draft's definition, ready for `apply` (here or on another server)."""
        client, ops = ops_for(ctx)
        with client:
            definition = ops.find(ref).definition()
        if as_json or format == "json":
            print_json(definition)
        elif format == "yaml":
            typer.echo(yaml.safe_dump(definition, sort_keys=False, allow_unicode=True), nl=False)
        else:
            raise typer.BadParameter("--format is yaml or json")

    @app.command("versions")
    def versions(ctx: typer.Context, ref: Ref, as_json: JsonFlag = False) -> None:
        """The deployed versions, when each was deployed, and whether the draft differs."""
        client, ops = ops_for(ctx)
        with client:
            found = ops.find(ref)
            deployed = ops.versions(found.id)
        if as_json:
            print_json(
                {
                    "id": found.id,
                    "versions": deployed,
                    "latest": found.version or None,
                    "draft_has_changes": found.has_pending_changes,
                }
            )
            return
        out = console()
        if not deployed:
            out.print(f"{noun} {found.name} has no deployed version yet")
        for item in deployed:
            latest = "  latest (invoked by default)" if item.is_latest else ""
            out.print(f"v{item.version}  deployed {when(item.created_at)}{latest}")
        if found.has_pending_changes:
            out.print("draft  changed since the latest version")

    @app.command("deploy")
    def deploy_(ctx: typer.Context, ref: Ref, as_json: JsonFlag = False) -> None:
        """Publish the draft as a new version."""
        client, ops = ops_for(ctx)
        with client:
            deployed = ops.deploy(ops.find(ref).id)
        if as_json:
            print_json(deployed)
        else:
            console().print(f"{noun} {deployed.name} deployed as version {deployed.version}")

    @app.command("rm")
    def delete(ctx: typer.Context, ref: Ref, as_json: JsonFlag = False) -> None:
        """Delete it."""
        client, ops = ops_for(ctx)
        with client:
            found = ops.find(ref)
            ops.delete(found.id)
        if as_json:
            print_json({"id": found.id, "deleted": True})
        else:
            console().print(f"{noun} {found.name} ({found.id}) deleted")

    return app
