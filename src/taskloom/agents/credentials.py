"""Credentials inside definitions: stored as encrypted named secrets, shown masked, put back
only for a run.

A definition may carry secrets in a few known places: `llm_credentials.value`, an MCP
server's `api_key`, `client_secret` and `headers`, an HTTP tool's `headers`. On create and
PATCH (`stored_credentials`) each one given inline is moved into a named secret (encrypted
with TASKLOOM_SECRET_KEY, `secrets.py`) and the definition keeps a reference: the provider key
in `llm_credentials_key`, a tool's or MCP server's in its `credential_refs` (`headers.<Name>`,
`api_key`, `client_secret` -> secret name). A run puts the values back (`with_credentials`)
just before it builds the tools.

A tool credential is sent to a URL the definition names, and whoever may edit the agent may
change that URL. So its secret is bound, inside the ciphertext, to the origin (scheme, host,
port) it was given for: a run refuses it for another origin, and refuses a secret that was not
stored as a tool credential (a provider key put with `PUT /v1/secrets/...`). Secrets stay
write-only, also for those who may edit agents.

Replies mask what is still inline (definitions stored before, workflow node settings) as
REDACTED (`redacted`); a client that sends a definition back with REDACTED in those places
keeps the stored value (`restored`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from taskloom.agents.definition import AgentSpec, HttpTool, MCPServer
from taskloom.errors import NodeFailed

REDACTED = "********"
_SECRET_KEYS = frozenset({"value", "api_key", "client_secret"})
_HOLDERS = frozenset({"llm_credentials", "mcp_servers", "tools"})
_BOUND = "taskloom/tool-credential/1"  # marks a secret stored by `stored_credentials`
_HEADER = "headers."
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9_.\-]")

StoreSecret = Callable[[str, str], Awaitable[None]]  # (name, value)
RevealSecret = Callable[[str], Awaitable[str]]  # name -> value


class CredentialsRefused(NodeFailed):
    """A tool's stored credential cannot be used where the tool points now."""

    reason = "credentials_missing"


# -- masking ---------------------------------------------------------------------------------


def redacted(value: Any, *, holder: str = "") -> Any:
    """`value` with every credential in it masked, at any depth (workflow node settings
    included)."""
    if isinstance(value, list):
        return [redacted(item, holder=holder) for item in value]
    if not isinstance(value, dict):
        return value
    masked: dict[str, Any] = {}
    for key, item in value.items():
        if holder in _HOLDERS and item and (key in _SECRET_KEYS or key == "headers"):
            masked[key] = _mask(item)
        else:
            masked[key] = redacted(item, holder=key if key in _HOLDERS else "")
    return masked


def _mask(item: Any) -> Any:
    if isinstance(item, dict):  # headers: names are not secret, values may be
        return dict.fromkeys(item, REDACTED)
    return REDACTED


def restored(sent: Any, stored: Any) -> Any:
    """What a client sent, with each REDACTED put back to the stored value at the same place
    (list items matched by `name`, else `url`, else position). A REDACTED with nothing stored
    behind it (the value has since moved into a secret) is dropped."""
    if sent == REDACTED:
        return stored
    if isinstance(sent, dict) and isinstance(stored, dict):
        return {
            key: restored(item, stored.get(key))
            for key, item in sent.items()
            if not (item == REDACTED and stored.get(key) is None)
        }
    if isinstance(sent, list) and isinstance(stored, list):
        return [
            restored(item, _counterpart(item, index, stored)) for index, item in enumerate(sent)
        ]
    return sent


def _counterpart(item: Any, index: int, stored: list[Any]) -> Any:
    if isinstance(item, dict):
        for key in ("name", "url", "id"):
            if item.get(key):
                for candidate in stored:
                    if isinstance(candidate, dict) and candidate.get(key) == item[key]:
                        return candidate
    return stored[index] if index < len(stored) else None


# -- binding a tool credential to its origin ---------------------------------------------------


def origin(url: str | None) -> str:
    """`scheme://host:port` of `url`, the default port spelled out."""
    parts = urlsplit(url or "")
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    port = port or {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


def bind(value: str, url: str | None) -> str:
    """What is stored for a tool credential: the value and the origin it may be sent to."""
    return json.dumps({"kind": _BOUND, "origin": origin(url), "value": value})


def unbind(stored: str, url: str | None, *, what: str) -> str:
    """The value of a bound credential, if `url` is on the origin it was given for."""
    try:
        data = json.loads(stored)
    except ValueError:
        data = None
    if not (isinstance(data, dict) and data.get("kind") == _BOUND and "value" in data):
        raise CredentialsRefused(
            f"{what}: the secret it names was not stored as a tool credential; "
            "give the value inline in the definition"
        )
    if data.get("origin") != origin(url):
        raise CredentialsRefused(
            f"{what}: its credentials were given for {data.get('origin')}, not {origin(url)}; "
            "give them again with the new URL"
        )
    return str(data["value"])


# -- inline values in, references out ----------------------------------------------------------


def _secret_name(*parts: str) -> str:
    return _UNSAFE_IN_NAME.sub("_", "-".join(parts))[:255]


async def stored_credentials(spec: AgentSpec, *, agent_id: str, store: StoreSecret) -> AgentSpec:
    """`spec` with every credential given inline stored as a named secret (through `store`)
    and replaced by a reference: the stored definition, and so every reply, never holds it."""
    prefix = f"agent-{agent_id}"
    update: dict[str, Any] = {}
    credentials = spec.llm_credentials
    if credentials is not None and credentials.value:
        name = credentials.name or f"{prefix}-llm"
        await store(name, credentials.value)
        update["llm_credentials"] = credentials.model_copy(update={"value": None, "name": name})
        update["llm_credentials_key"] = name
        update["llm_credentials_key_type"] = "custom"
    update["tools"] = [await _stored_tool(tool, prefix, store) for tool in spec.tools]
    update["mcp_servers"] = [
        await _stored_server(server, index, prefix, store)
        for index, server in enumerate(spec.mcp_servers)
    ]
    return spec.model_copy(update=update)


async def _moved_headers(
    headers: dict[str, str],
    refs: dict[str, str],
    url: str | None,
    name: Callable[[str], str],
    store: StoreSecret,
) -> tuple[dict[str, str], dict[str, str]]:
    """`headers` less those with a value, and `refs` naming the secrets that now hold them."""
    kept: dict[str, str] = {}
    refs = dict(refs)
    for header, value in headers.items():
        if not value:
            kept[header] = value
            continue
        secret = name(header.lower())
        await store(secret, bind(value, url))
        refs = {k: v for k, v in refs.items() if k.lower() != f"{_HEADER}{header.lower()}"}
        refs[f"{_HEADER}{header}"] = secret
    return kept, refs


async def _stored_tool(tool: HttpTool, prefix: str, store: StoreSecret) -> HttpTool:
    if not any(tool.headers.values()):
        return tool
    headers, refs = await _moved_headers(
        tool.headers,
        tool.credential_refs,
        tool.url,
        lambda header: _secret_name(prefix, "tool", tool.name, "header", header),
        store,
    )
    return tool.model_copy(update={"headers": headers, "credential_refs": refs})


async def _stored_server(
    server: MCPServer, index: int, prefix: str, store: StoreSecret
) -> MCPServer:
    label = server.name or server.id or str(index)
    extra = server.model_extra or {}
    update: dict[str, Any] = {}
    refs = dict(server.credential_refs)
    for place, value in (
        ("api_key", server.api_key),
        ("client_secret", extra.get("client_secret")),
    ):
        if isinstance(value, str) and value:
            refs[place] = _secret_name(prefix, "mcp", label, place)
            await store(refs[place], bind(value, server.url))
            update[place] = None
    if any(server.headers.values()):
        update["headers"], refs = await _moved_headers(
            server.headers,
            refs,
            server.url,
            lambda header: _secret_name(prefix, "mcp", label, "header", header),
            store,
        )
    if not update:
        return server
    return server.model_copy(update={**update, "credential_refs": refs})


# -- references in, values out (for a run) -----------------------------------------------------


async def with_credentials(spec: AgentSpec, reveal: RevealSecret) -> AgentSpec:
    """`spec` with every `credential_refs` entry's value put back in its place, for a run;
    `CredentialsRefused` (or the secret store's own failure) when one cannot be used."""
    referring = [tool for tool in spec.tools if tool.credential_refs]
    if not referring and not any(server.credential_refs for server in spec.mcp_servers):
        return spec
    tools = [await _tool_with(tool, reveal) for tool in spec.tools]
    servers = [await _server_with(server, reveal) for server in spec.mcp_servers]
    return spec.model_copy(update={"tools": tools, "mcp_servers": servers})


async def _values(
    refs: dict[str, str], url: str | None, reveal: RevealSecret, what: str
) -> dict[str, str]:
    return {place: unbind(await reveal(name), url, what=what) for place, name in refs.items()}


def _with_headers(headers: dict[str, str], values: dict[str, str]) -> dict[str, str]:
    named = {place[len(_HEADER) :]: v for place, v in values.items() if place.startswith(_HEADER)}
    lower = {name.lower() for name in named}
    return {**{k: v for k, v in headers.items() if k.lower() not in lower}, **named}


async def _tool_with(tool: HttpTool, reveal: RevealSecret) -> HttpTool:
    if not tool.credential_refs:
        return tool
    values = await _values(tool.credential_refs, tool.url, reveal, f"tool {tool.name!r}")
    return tool.model_copy(update={"headers": _with_headers(tool.headers, values)})


async def _server_with(server: MCPServer, reveal: RevealSecret) -> MCPServer:
    if not server.credential_refs:
        return server
    what = f"MCP server {server.name or server.id or server.url!r}"
    values = await _values(server.credential_refs, server.url, reveal, what)
    update: dict[str, Any] = {"headers": _with_headers(server.headers, values)}
    for place in ("api_key", "client_secret"):
        if place in values:
            update[place] = values[place]
    return server.model_copy(update=update)
