"""A toolkit as it is stored: where its API lives, the headers every call carries, and its
operations, each with the parameters it takes (path, query, header) and its JSON body.

A call's arguments have one shape wherever they come from (the invoke route, an agent's
model, an action node): `{"path_params", "query_params", "headers", "body_params"}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
Location = Literal["path", "query", "header"]
OPERATION_ID = r"^[A-Za-z0-9_.\-]+$"
ARGUMENT_GROUPS = {"path": "path_params", "query": "query_params", "header": "headers"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Parameter(_Model):
    name: str = Field(min_length=1, max_length=255)
    location: Location = "query"
    required: bool = False
    description: str = ""
    json_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "string"})


class Operation(_Model):
    id: str = Field(min_length=1, max_length=128, pattern=OPERATION_ID)
    name: str = ""
    description: str = ""
    method: HttpMethod = "GET"
    path: str = Field(default="/", max_length=2048)
    parameters: list[Parameter] = Field(default_factory=list)
    body_schema: dict[str, Any] | None = None  # the JSON body's schema; None: no body
    body_required: bool = False

    @field_validator("path")
    @classmethod
    def _rooted(cls, path: str) -> str:
        if not path.startswith("/"):
            raise ValueError("must start with /")
        return path


class ToolkitSpec(_Model):
    """The editable part of a toolkit."""

    name: str = Field(min_length=1, max_length=255)
    description: str = ""
    base_url: str = Field(min_length=1, max_length=2048)
    # sent with every call; a value given here is moved into a named secret when stored
    headers: dict[str, str] = Field(default_factory=dict, repr=False)
    # `headers.<Name>` -> the named secret holding that header's value
    credential_refs: dict[str, str] = Field(default_factory=dict)
    operations: list[Operation] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _printable(cls, name: str) -> str:
        if "\x00" in name:
            raise ValueError("must not contain NUL characters")
        return name

    @field_validator("base_url")
    @classmethod
    def _http(cls, url: str) -> str:
        if not url.lower().startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return url.rstrip("/")

    def operation(self, operation_id: str) -> Operation | None:
        return next((op for op in self.operations if op.id == operation_id), None)


@dataclass(frozen=True, slots=True)
class BoundOperation:
    """One operation ready to call: its toolkit's base URL and headers, credentials included."""

    toolkit_id: str
    toolkit_name: str
    base_url: str
    headers: dict[str, str]
    operation: Operation

    @property
    def asset_id(self) -> str:
        return asset_id(self.toolkit_id, self.operation.id)


def asset_id(toolkit_id: str, operation_id: str) -> str:
    """`<toolkit>_<operation>`: how agents and action nodes name an operation."""
    return f"{toolkit_id}_{operation_id}"


def split_asset_id(asset: str) -> tuple[str, str | None]:
    """(toolkit id, operation id or None). Toolkit ids hold no `_`, so the first one splits."""
    toolkit_id, sep, operation_id = asset.partition("_")
    return toolkit_id, (operation_id if sep else None)


def arguments_schema(operation: Operation) -> dict[str, Any]:
    """The JSON Schema of a call's arguments: what a model fills for this operation."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for location, group in ARGUMENT_GROUPS.items():
        params = [p for p in operation.parameters if p.location == location]
        if not params:
            continue
        needed = [p.name for p in params if p.required]
        properties[group] = {
            "type": "object",
            "properties": {
                p.name: {
                    **p.json_schema,
                    **({"description": p.description} if p.description else {}),
                }
                for p in params
            },
            **({"required": needed} if needed else {}),
        }
        if needed:
            required.append(group)
    if operation.body_schema is not None:
        properties["body_params"] = operation.body_schema
        if operation.body_required:
            required.append("body_params")
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema
