"""A lean client for OpenAI-compatible chat completions, for the plain requests agents make.

Profiled under load (bench W2: hundreds of agent calls at once), the `openai` SDK and
pydantic-ai's request path cost more server CPU per call than everything else an agent task
does: the SDK builds resource objects and validates every streamed chunk into models, and
hands part of each request to a thread. A plain request (text and tool-call turns, the
settings a node can give) needs none of that: its JSON body is built here, sent over the
same checked `httpx2` client the SDK uses, and the answer read into the pydantic-ai
`ModelResponse` the agent loop expects.

`accepts` decides which requests take this path. Anything it does not know (another message
part, thinking settings, multimodal content, text that holds chat-template special tokens,
which pydantic-ai escapes) goes through the SDK as before, so both paths answer the same
history with the same wire request. Tool definitions and `tool_choice` come from the SDK
model's own preparation, since they depend on its JSON-schema rules. Failures are raised as
the pydantic-ai errors the SDK path raises (`map_api_errors` maps httpx2's own), so retries
and error messages do not depend on the path taken.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from importlib.metadata import version
from typing import Any, cast

import httpx2
from pydantic_ai import _model_errors
from pydantic_ai._special_tokens import break_special_tokens, restore_special_tokens
from pydantic_ai.exceptions import UnexpectedModelBehavior
from pydantic_ai.messages import (
    FinishReason,
    ModelMessage,
    ModelRequest,
    ModelResponse,
    ModelResponsePart,
    SystemPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.models.openai import OpenAIChatModel, OpenAIChatModelSettings
from pydantic_ai.models.openai._errors import map_api_errors
from pydantic_ai.settings import ModelSettings
from pydantic_ai.usage import RequestUsage

TextSink = Callable[[str], Awaitable[None]]

# the settings `ProviderModel` may pass that this client sends itself; any other goes the SDK way
_PLAIN_SETTINGS = frozenset(
    {"extra_headers", "temperature", "max_tokens", "timeout", "max_retries"}
)
_FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_call",
    "function_call": "tool_call",
    "content_filter": "content_filter",
}
_USER_AGENT = f"taskloom/{version('taskloom')}"


def _plain_text(text: str) -> bool:
    """Whether pydantic-ai would send `text` unchanged (no special token to break)."""
    return break_special_tokens(text) == text


class OpenAIChat:
    """Chat completions at one endpoint for one model, over a client the caller owns."""

    def __init__(
        self,
        http: httpx2.AsyncClient,
        *,
        base_url: str,
        api_key: str,
        sdk_model: OpenAIChatModel,
    ) -> None:
        self._http = http
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": _USER_AGENT,
        }
        self._sdk = sdk_model
        self._model_name = sdk_model.model_name
        self._system = sdk_model.system
        # the provider's namespace and tool mapping are the SDK path's own (private, pinned)
        self._namespace: str = getattr(sdk_model._provider, "model_id_namespace", "openai")
        profile = sdk_model.profile
        self._max_tokens_field = (
            "max_completion_tokens"
            if profile.get("openai_chat_supports_max_completion_tokens", True)
            else "max_tokens"
        )
        # a profile that renames or merges system messages maps them its own way
        self._plain_profile = profile.get("openai_system_prompt_role", None) in (
            None,
            "system",
        ) and profile.get("openai_chat_supports_multiple_system_messages", True)

    def accepts(
        self,
        history: Sequence[ModelMessage],
        parameters: ModelRequestParameters,
        settings: Mapping[str, Any],
    ) -> bool:
        """Whether this request is one this client sends exactly as the SDK path would."""
        if not self._plain_profile or not _PLAIN_SETTINGS.issuperset(settings):
            return False
        if parameters.output_mode not in ("text", "tool") or parameters.native_tools:
            return False
        return all(_plain_message(message) for message in history)

    async def request(
        self,
        history: Sequence[ModelMessage],
        parameters: ModelRequestParameters,
        settings: ModelSettings,
        *,
        on_text: TextSink | None = None,
    ) -> ModelResponse:
        """One completion; streamed when `on_text` is given, each text fragment handed to it."""
        body = self._body(history, parameters, settings, stream=on_text is not None)
        timeout = settings.get("timeout")
        if not isinstance(timeout, int | float):  # ProviderModel always gives seconds
            raise TypeError(f"timeout must be seconds, got {timeout!r}")
        # The request is built here rather than by `client.post`: merging per-request headers
        # into the client's took a quarter of this client's CPU under load (httpx2 rebuilds
        # and re-checks both header lists each time), and none of the client's are wanted.
        request = httpx2.Request(
            "POST",
            self._url,
            headers={**self._headers, **settings.get("extra_headers", {})},
            content=json.dumps(body).encode(),
            extensions={"timeout": httpx2.Timeout(timeout).as_dict()},
        )
        with map_api_errors(self._model_name, self._namespace):
            response = await self._http.send(request, stream=True)
            try:
                if response.status_code >= 400:
                    await response.aread()
                response.raise_for_status()
                if on_text is None:
                    await response.aread()
                    return self._completion(response)
                return await self._chunks(response, on_text)
            finally:
                await response.aclose()

    def _body(
        self,
        history: Sequence[ModelMessage],
        parameters: ModelRequestParameters,
        settings: ModelSettings,
        *,
        stream: bool,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self._model_name,
            "messages": [mapped for message in history for mapped in _mapped(message)],
            "stream": stream,
        }
        if stream:
            body["stream_options"] = {"include_usage": True}
        if "max_tokens" in settings:
            body[self._max_tokens_field] = settings["max_tokens"]
        if "temperature" in settings:
            body["temperature"] = settings["temperature"]
        if parameters.function_tools or parameters.output_tools:
            # the tools' schemas as the SDK model prepares them (strict mode and its rules)
            prepared_settings, prepared = self._sdk.prepare_request(settings, parameters)
            chat_settings = cast("OpenAIChatModelSettings", prepared_settings or {})
            tools, tool_choice = self._sdk._get_tool_choice(chat_settings, prepared)
            if tools:
                body["tools"] = tools
                if tool_choice is not None:
                    body["tool_choice"] = tool_choice
        return body

    def _completion(self, response: httpx2.Response) -> ModelResponse:
        try:
            data = response.json()
            choice = data["choices"][0]
            message = choice["message"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise UnexpectedModelBehavior(
                f"invalid chat completion from {self._system}: {exc!r}"
            ) from exc
        calls = [
            (call.get("id") or "", call["function"]["name"], call["function"].get("arguments"))
            for call in message.get("tool_calls") or ()
        ]
        return self._response(
            data, text=message.get("content") or "", calls=calls, finish=choice.get("finish_reason")
        )

    async def _chunks(self, response: httpx2.Response, on_text: TextSink) -> ModelResponse:
        text: list[str] = []
        calls: dict[int, list[str]] = {}  # index -> [id, name, arguments]
        last: dict[str, Any] = {}
        usage: Any = None
        finish: str | None = None
        done = False
        # read to the end even after [DONE]: a response closed before its last byte takes its
        # connection down with it, and the next call would dial a new one
        async for line in response.aiter_lines():
            if done or not line.startswith("data:"):
                continue
            payload = line[5:].strip()
            if payload == "[DONE]":
                done = True
                continue
            chunk = json.loads(payload)
            error = chunk.get("error")
            if error is not None:
                message = error.get("message") if isinstance(error, dict) else None
                raise _model_errors.stream_error(
                    self._model_name, str(message or "error in stream"), error
                )
            last = chunk
            if chunk.get("usage"):
                usage = chunk["usage"]
            for choice in chunk.get("choices") or ():
                finish = choice.get("finish_reason") or finish
                delta = choice.get("delta") or {}
                piece = delta.get("content")
                if piece:
                    text.append(piece)
                    await on_text(restore_special_tokens(piece))
                for call in delta.get("tool_calls") or ():
                    entry = calls.setdefault(int(call.get("index", 0)), ["", "", ""])
                    entry[0] = call.get("id") or entry[0]
                    function = call.get("function") or {}
                    entry[1] += function.get("name") or ""
                    entry[2] += function.get("arguments") or ""
        last = {**last, "usage": usage}
        ordered = [(c[0], c[1], c[2]) for _, c in sorted(calls.items())]
        return self._response(last, text="".join(text), calls=ordered, finish=finish)

    def _response(
        self,
        data: Mapping[str, Any],
        *,
        text: str,
        calls: Sequence[tuple[str, str, str | None]],
        finish: str | None,
    ) -> ModelResponse:
        parts: list[ModelResponsePart] = []
        if text:
            parts.append(TextPart(restore_special_tokens(text)))
        for call_id, name, arguments in calls:
            args = restore_special_tokens(arguments) if arguments else None
            parts.append(ToolCallPart(name, args, tool_call_id=call_id))
        used = data.get("usage") or {}
        return ModelResponse(
            parts=parts,
            usage=RequestUsage(
                input_tokens=int(used.get("prompt_tokens") or 0),
                output_tokens=int(used.get("completion_tokens") or 0),
            ),
            model_name=data.get("model") or self._model_name,
            provider_name=self._system,
            provider_response_id=data.get("id"),
            finish_reason=_FINISH_REASONS.get(finish or ""),
        )


def _plain_message(message: ModelMessage) -> bool:
    if isinstance(message, ModelRequest):
        for part in message.parts:
            if isinstance(part, SystemPromptPart | UserPromptPart):
                if not isinstance(part.content, str) or not _plain_text(part.content):
                    return False
            elif isinstance(part, ToolReturnPart):
                if part.outcome not in ("success", "failed") or not part.tool_call_id:
                    return False
                if not isinstance(part.content, str) or not _plain_text(part.content):
                    return False
            else:
                return False
        return True
    texts = 0
    for answered in message.parts:
        if isinstance(answered, TextPart):
            texts += 1
            if not _plain_text(answered.content):
                return False
        elif isinstance(answered, ToolCallPart):
            if not answered.tool_call_id or not _plain_text(answered.args_as_json_str()):
                return False
        else:
            return False
    return texts <= 1


def _mapped(message: ModelMessage) -> list[dict[str, Any]]:
    """The wire messages of one history entry (only those `_plain_message` lets through)."""
    if isinstance(message, ModelRequest):
        mapped: list[dict[str, Any]] = []
        for part in message.parts:
            if isinstance(part, SystemPromptPart):
                mapped.append({"role": "system", "content": part.content})
            elif isinstance(part, UserPromptPart):
                mapped.append({"role": "user", "content": part.content})
            elif isinstance(part, ToolReturnPart):
                mapped.append(
                    {
                        "role": "tool",
                        "tool_call_id": part.tool_call_id,
                        "content": part.model_response_str(),
                    }
                )
        return mapped
    text = "".join(part.content for part in message.parts if isinstance(part, TextPart))
    calls = [
        {
            "id": part.tool_call_id,
            "type": "function",
            "function": {"name": part.tool_name, "arguments": part.args_as_json_str()},
        }
        for part in message.parts
        if isinstance(part, ToolCallPart)
    ]
    assistant: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        assistant["tool_calls"] = calls
    return [assistant]
