"""Named secrets (a taskloom extension): provider keys an organization stores once, encrypted,
and agents name in `llm_credentials_key`. Values go in and are never given back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Response
from pydantic import BaseModel, Field

from taskloom.api.deps import Caller, State
from taskloom.api.guard import StrictJsonRoute
from taskloom.api.responses import COMMON_ERRORS, JSONBody
from taskloom.engine.wire import iso
from taskloom.store import secrets as secret_store

router = APIRouter(
    prefix="/v1/secrets", tags=["secrets"], responses=COMMON_ERRORS, route_class=StrictJsonRoute
)

SecretName = Annotated[str, Path(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_.\-]+$")]


class SecretValue(BaseModel):
    value: str = Field(min_length=1, max_length=16_384, repr=False)


@router.put("/{name}")
async def put_secret(
    name: SecretName, body: Annotated[SecretValue, Body()], caller: Caller, state: State
) -> JSONBody:
    await state.secrets.store(organization_id=caller.organization_id, name=name, value=body.value)
    return JSONBody({"name": name, "stored": True})


@router.get("")
async def list_secrets(caller: Caller, state: State) -> JSONBody:
    async with state.db.read() as conn:
        found = await secret_store.list_names(conn, organization_id=caller.organization_id)
    return JSONBody({"items": [{"name": name, "updated_at": iso(at)} for name, at in found]})


@router.delete("/{name}", status_code=204)
async def delete_secret(name: SecretName, caller: Caller, state: State) -> Response:
    async with state.db.write() as conn:
        await secret_store.delete_secret(conn, organization_id=caller.organization_id, name=name)
    return Response(status_code=204)
