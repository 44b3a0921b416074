"""The engine's side of the nodes' ToolkitCatalog port, and the toolkit credentials: a header
value given when a toolkit is created or edited is stored as an encrypted named secret, bound
to the toolkit's origin (as agents' tool credentials are), and put back only for a call."""

from __future__ import annotations

import re
from collections.abc import Sequence

from taskloom import errors
from taskloom.agents.credentials import bind, unbind
from taskloom.secrets import Secrets
from taskloom.store import toolkits as toolkit_store
from taskloom.store.database import Database
from taskloom.toolkits.definition import BoundOperation, ToolkitSpec, split_asset_id

_HEADER = "headers."
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9_.\-]")


def _secret_name(toolkit_id: str, header: str) -> str:
    return _UNSAFE_IN_NAME.sub("_", f"toolkit-{toolkit_id}-header-{header.lower()}")[:255]


async def stored_credentials(
    spec: ToolkitSpec, *, toolkit_id: str, organization_id: str, secrets: Secrets
) -> ToolkitSpec:
    """`spec` with every header value moved into a named secret and referred to by name."""
    refs = dict(spec.credential_refs)
    kept: dict[str, str] = {}
    for header, value in spec.headers.items():
        if not value:
            kept[header] = value
            continue
        name = _secret_name(toolkit_id, header)
        await secrets.store(
            organization_id=organization_id, name=name, value=bind(value, spec.base_url)
        )
        refs = {k: v for k, v in refs.items() if k.lower() != f"{_HEADER}{header.lower()}"}
        refs[f"{_HEADER}{header}"] = name
    return spec.model_copy(update={"headers": kept, "credential_refs": refs})


class ToolkitCatalog:
    """Toolkit operations, bound to their credentials, for a call about to be made."""

    def __init__(self, db: Database, secrets: Secrets) -> None:
        self._db = db
        self._secrets = secrets

    async def operations(
        self, *, organization_id: str, asset_ids: Sequence[str]
    ) -> list[BoundOperation]:
        """Each `<toolkit>_<operation>` named, and for a bare `<toolkit>` all of its
        operations; NodeFailed when one is not there (deleted since it was named)."""
        bound: list[BoundOperation] = []
        for asset in asset_ids:
            toolkit_id, operation_id = split_asset_id(asset)
            toolkit, spec = await self._spec(organization_id, toolkit_id)
            if operation_id is None:
                chosen = spec.operations
            else:
                found = spec.operation(operation_id)
                if found is None:
                    raise errors.NodeFailed(
                        f"toolkit {toolkit_id} has no operation {operation_id!r}"
                    )
                chosen = [found]
            headers = await self._headers(organization_id, spec)
            bound.extend(
                BoundOperation(toolkit_id, toolkit, spec.base_url, headers, op) for op in chosen
            )
        return bound

    async def operation(self, *, organization_id: str, asset_id: str) -> BoundOperation:
        if split_asset_id(asset_id)[1] is None:
            raise errors.NodeFailed(f"{asset_id!r} names no operation (`<toolkit>_<operation>`)")
        [one] = await self.operations(organization_id=organization_id, asset_ids=[asset_id])
        return one

    async def _spec(self, organization_id: str, toolkit_id: str) -> tuple[str, ToolkitSpec]:
        try:
            async with self._db.read() as conn:
                record = await toolkit_store.get_toolkit(
                    conn, organization_id=organization_id, toolkit_id=toolkit_id
                )
        except errors.NotFound as exc:
            raise errors.NodeFailed(str(exc)) from exc
        return record.name, ToolkitSpec.model_validate(record.spec)

    async def _headers(self, organization_id: str, spec: ToolkitSpec) -> dict[str, str]:
        headers = dict(spec.headers)
        for place, name in spec.credential_refs.items():
            if not place.startswith(_HEADER):
                continue
            stored = await self._secrets.reveal(organization_id=organization_id, name=name)
            header = place[len(_HEADER) :]
            headers[header] = unbind(stored, spec.base_url, what=f"toolkit {spec.name!r}")
        return headers
