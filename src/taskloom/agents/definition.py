"""The agent definition as users write it (docs/api.md `AIAgent`): instructions, model, tools."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from taskloom.workflows.definition import Name, OutputFormat

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
ReasoningEffort = Literal["low", "medium", "high", "xhigh"]


class _Model(BaseModel):
    # clients send fields we do not use; keep them so that nothing they stored is lost
    model_config = ConfigDict(extra="allow")


class Instructions(_Model):
    role: list[str] = Field(default_factory=list)
    goal: list[str] = Field(default_factory=list)
    general: str = ""


class HttpTool(_Model):
    """An HTTP action the agent may call: the model fills `parameters` (a JSON Schema object);
    GET and DELETE send them as the query string, the other methods as the JSON body."""

    name: Name = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    description: str = ""
    url: str = Field(min_length=1, max_length=2048)
    method: HttpMethod = "POST"
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    headers: dict[str, str] = Field(default_factory=dict, repr=False)
    # where a credential given inline went: `headers.<Name>` -> the named secret holding it
    # (bound to this URL's origin; see agents/credentials.py)
    credential_refs: dict[str, str] = Field(default_factory=dict)


class MCPServer(_Model):
    """`MCPServerDetails` (docs/api.md); taskloom connects to remote servers only."""

    id: str | None = None
    type: Literal["local", "remote"] = "remote"
    name: str = ""
    url: str | None = Field(default=None, max_length=2048)
    transport: Literal["stdio", "sse", "streamable-http"] = "streamable-http"
    auth_type: str | None = None
    api_key: str | None = Field(default=None, repr=False)
    headers: dict[str, str] = Field(default_factory=dict, repr=False)
    allowed_tools: list[str] = Field(default_factory=list)
    # `api_key`, `client_secret`, `headers.<Name>` -> the named secret holding it
    credential_refs: dict[str, str] = Field(default_factory=dict)


class HitlOptions(_Model):
    """Tools a person must approve before the agent calls them (`hitl_options`)."""

    enabled: bool = True
    tool_names: list[str] = Field(default_factory=list, max_length=128)
    # `continue`: the model hears "denied by <who>: <comment>" and goes on; `stop`: the
    # task ends `error` with reason `tool_denied`
    on_deny: Literal["continue", "stop"] = "continue"


class KnowledgeBaseRef(_Model):
    """A knowledge base the agent searches (`knowledge_bases` of `AIAgent`); a bare id is
    accepted for `{"id": ...}`."""

    id: str = Field(min_length=1, max_length=64)

    @model_validator(mode="before")
    @classmethod
    def _bare_id(cls, value: Any) -> Any:
        return {"id": value} if isinstance(value, str) else value


class Credentials(_Model):
    name: str | None = None
    value: str | None = Field(default=None, repr=False)
    description: str | None = None


class AgentSpec(_Model):
    """The editable part of an agent: what a draft holds and a version freezes."""

    name: Name = Field(min_length=1, max_length=255)
    description: str | None = None
    icon: str | None = None
    type: Literal["regular", "manager", "a2a", "curl"] = "regular"
    # `container`: the agent's code runs in the user's own worker (xpander-sdk `@on_task`)
    deployment_type: Literal["serverless", "container"] = "serverless"
    framework: str = "taskloom"
    instructions: Instructions = Field(default_factory=Instructions)
    expected_output: str | None = None
    model_provider: str | None = None
    model_name: str | None = None
    llm_api_base: str | None = None
    llm_reasoning_effort: ReasoningEffort | None = None
    llm_extra_headers: dict[str, str] | None = Field(default=None, repr=False)
    # the name of a stored secret holding the provider key; none: the server's own key
    llm_credentials_key: str | None = None
    llm_credentials_key_type: Literal["xpander", "custom"] | None = None
    llm_credentials: Credentials | None = Field(default=None, repr=False)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, gt=0)
    tools: list[HttpTool] = Field(default_factory=list, max_length=128)
    mcp_servers: list[MCPServer] = Field(default_factory=list, max_length=32)
    hitl_options: HitlOptions | None = None
    # toolkit operations the agent may call: `<toolkit>_<operation>`, or `<toolkit>` for all
    toolkit_tools: list[str] = Field(default_factory=list, max_length=128)
    knowledge_bases: list[KnowledgeBaseRef] = Field(default_factory=list, max_length=32)
    tool_call_limit: int | None = Field(default=None, ge=0, le=1000)
    output_format: OutputFormat = "text"
    output_schema: dict[str, Any] | None = None
