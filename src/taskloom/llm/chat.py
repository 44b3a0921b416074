"""A `ChatModel` over a pydantic-ai model: retries with backoff, timeouts, errors mapped."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal

from pydantic_ai.direct import model_request, model_request_stream
from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelConnectionError,
    ModelHTTPError,
    ModelQuotaExceededError,
    ModelRateLimitError,
    ModelRequestRejectedError,
    ModelRequestTimeout,
    ModelServerError,
    ModelTimeoutError,
    ModelUnavailableError,
    UnexpectedModelBehavior,
)
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelRequestPart,
    ModelResponse,
    ModelResponseStreamEvent,
    PartDeltaEvent,
    PartStartEvent,
    SystemPromptPart,
    TextPart,
    TextPartDelta,
    ToolCallPart,
    UserPromptPart,
)
from pydantic_ai.models import Model, ModelRequestParameters
from pydantic_ai.settings import ModelSettings
from pydantic_ai.tools import ToolDefinition

from taskloom.llm.base import Completion, Message, Usage
from taskloom.llm.errors import (
    InvalidModelOutput,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    redact,
)
from taskloom.llm.observe import CallObserver, ModelCall
from taskloom.llm.openai_chat import OpenAIChat
from taskloom.llm.retry import RetryPolicy, Sleep

logger = logging.getLogger(__name__)

OUTPUT_TOOL = "answer"

Verdict = Literal["retry", "timeout", "reject"]

_RETRYABLE_STATUS = frozenset({408, 409, 425, 429})


def classify(exc: ModelAPIError) -> Verdict:
    """`retry` for a failure that may pass (rate limit, 5xx, lost connection), `timeout` for
    one that ran out of time (also retried), `reject` for one a retry would repeat."""
    if isinstance(exc, ModelRequestTimeout | ModelTimeoutError):
        return "timeout"
    if isinstance(exc, ModelQuotaExceededError | ModelRequestRejectedError):
        return "reject"
    if isinstance(
        exc, ModelRateLimitError | ModelUnavailableError | ModelServerError | ModelConnectionError
    ):
        return "retry"
    if isinstance(exc, ModelHTTPError):
        status = exc.status_code
        return "retry" if status in _RETRYABLE_STATUS or status >= 500 else "reject"
    return "retry"


def to_model_messages(messages: Sequence[Message], system: str) -> list[ModelMessage]:
    """pydantic-ai's message history: the system prompt rides on the first request."""
    if not messages or messages[0].role != "user":
        raise ValueError("a conversation starts with a user message")
    history: list[ModelMessage] = []
    for index, message in enumerate(messages):
        if message.role == "assistant":
            history.append(ModelResponse(parts=[TextPart(message.content)]))
            continue
        parts: list[ModelRequestPart] = [UserPromptPart(message.content)]
        if index == 0 and system:
            parts.insert(0, SystemPromptPart(system))
        history.append(ModelRequest(parts=parts))
    return history


def output_parameters(output_schema: Mapping[str, Any] | None) -> ModelRequestParameters:
    """With a schema, the model must call the one `answer` tool whose arguments match it."""
    if output_schema is None:
        return ModelRequestParameters()
    tool = ToolDefinition(
        name=OUTPUT_TOOL,
        parameters_json_schema=dict(output_schema),
        description="Give your final answer.",
    )
    return ModelRequestParameters(output_mode="tool", output_tools=[tool], allow_text_output=False)


def to_completion(response: ModelResponse) -> Completion:
    texts = [part.content for part in response.parts if isinstance(part, TextPart)]
    data: dict[str, Any] | None = None
    for part in response.parts:
        if isinstance(part, ToolCallPart) and part.tool_name == OUTPUT_TOOL:
            try:
                data = part.args_as_dict(raise_if_invalid=True)
            except (ValueError, AssertionError):  # not a JSON object: let the node read the text
                texts.append(part.args if isinstance(part.args, str) else str(part.args))
            break
    return Completion(
        text="".join(texts).strip(),
        data=data,
        usage=usage_of(response),
        model=response.model_name or "",
    )


def usage_of(response: ModelResponse) -> Usage:
    """What the provider counted for `response`. pydantic-ai gives zero counts when the
    provider sent no usage at all; no real prompt is zero tokens long, so zero for both
    means "not reported", never "free"."""
    used = response.usage
    if used.input_tokens == 0 and used.output_tokens == 0:
        return Usage.unreported()
    return Usage(prompt_tokens=used.input_tokens, completion_tokens=used.output_tokens)


# receives each fragment of streamed answer text as it arrives
TextSink = Callable[[str], Awaitable[None]]


class ProviderModel:
    """One model at one endpoint. Each attempt gets `timeout_s`; a 429, 5xx, lost connection
    or timed-out attempt is retried with backoff up to the policy's bound; a 4xx is not.

    `complete` serves single-answer nodes; `request` is one turn of an agent's conversation
    (history and tool definitions in, the model's response out, text streamed as it comes).
    Both go through `_with_retries`, the one place where failures are retried and mapped,
    and `request` is where the observer (metrics, traces) sees each call."""

    def __init__(
        self,
        model: Model,
        *,
        provider: str,
        model_name: str,
        policy: RetryPolicy,
        settings: ModelSettings,
        secrets: Sequence[str] = (),
        sleep: Sleep = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        observer: CallObserver | None = None,
        lean: OpenAIChat | None = None,
    ) -> None:
        self._model = model
        self._lean = lean  # plain OpenAI-compatible requests skip the SDK (openai_chat.py)
        self._provider = provider
        self._model_name = model_name
        self._name = f"{provider}:{model_name}"
        self._observer = observer
        self._policy = policy
        self._settings = settings
        self._secrets = tuple(secrets)
        self._sleep = sleep
        self._jitter = jitter

    @property
    def name(self) -> str:
        return self._name

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        system: str,
        output_schema: Mapping[str, Any] | None = None,
        idempotency_key: str,
        timeout_s: float,
    ) -> Completion:
        response = await self.request(
            to_model_messages(messages, system),
            output_parameters(output_schema),
            idempotency_key=idempotency_key,
            timeout_s=timeout_s,
        )
        return to_completion(response)

    async def request(
        self,
        history: Sequence[ModelMessage],
        parameters: ModelRequestParameters,
        *,
        idempotency_key: str,
        timeout_s: float,
        on_text: TextSink | None = None,
    ) -> ModelResponse:
        """One model response to `history`. With `on_text`, the response is streamed and each
        text fragment handed to it as it arrives; an attempt that already handed some out is
        not retried, since its fragments cannot be taken back."""
        settings = self._attempt_settings(idempotency_key, timeout_s)
        streamed = False

        async def sink(fragment: str) -> None:
            nonlocal streamed
            streamed = True
            assert on_text is not None  # a sink is only handed on with on_text
            await on_text(fragment)

        text_sink = None if on_text is None else sink
        lean = self._lean
        attempt: Callable[[], Awaitable[ModelResponse]]
        if lean is not None and lean.accepts(history, parameters, settings):

            async def attempt() -> ModelResponse:
                return await lean.request(history, parameters, settings, on_text=text_sink)

        else:

            async def attempt() -> ModelResponse:
                if text_sink is None:
                    return await model_request(
                        self._model,
                        history,
                        model_settings=settings,
                        model_request_parameters=parameters,
                    )
                async with model_request_stream(
                    self._model,
                    history,
                    model_settings=settings,
                    model_request_parameters=parameters,
                ) as stream:
                    async for event in stream:
                        fragment = text_fragment(event)
                        if fragment:
                            await text_sink(fragment)
                    return stream.get()

        observer = self._observer
        if observer is None:
            return await self._with_retries(
                attempt,
                idempotency_key=idempotency_key,
                timeout_s=timeout_s,
                may_retry=lambda: not streamed,
            )
        call = ModelCall(operation="chat", provider=self._provider, model=self._model_name)
        with observer.model_call(call):
            response = await self._with_retries(
                attempt,
                idempotency_key=idempotency_key,
                timeout_s=timeout_s,
                may_retry=lambda: not streamed,
                call=call,
            )
            call.response_model = response.model_name
            used = usage_of(response)  # unreported stays unknown, never 0
            if used.known:
                call.input_tokens, call.output_tokens = used.prompt_tokens, used.completion_tokens
        return response

    def _attempt_settings(self, idempotency_key: str, timeout_s: float) -> ModelSettings:
        headers = {**self._settings.get("extra_headers", {}), "Idempotency-Key": idempotency_key}
        return {
            **self._settings,
            "extra_headers": headers,
            "timeout": timeout_s,
            "max_retries": 0,  # retries are ours: bounded, logged, same key every time
        }

    async def _with_retries(
        self,
        attempt: Callable[[], Awaitable[ModelResponse]],
        *,
        idempotency_key: str,
        timeout_s: float,
        may_retry: Callable[[], bool],
        call: ModelCall | None = None,
    ) -> ModelResponse:
        verdict: Verdict = "retry"
        failure: BaseException | None = None
        attempts = self._policy.attempts
        for number in range(1, attempts + 1):
            if call is not None:
                call.attempts = number
            retry_after: float | None = None
            try:
                async with asyncio.timeout(timeout_s):
                    return await attempt()
            except TimeoutError as exc:
                verdict, failure = "timeout", exc
            except ModelAPIError as exc:
                verdict, failure, retry_after = classify(exc), exc, exc.retry_after
                if verdict == "reject":
                    raise ProviderRejected(self._describe(exc)) from exc
            except UnexpectedModelBehavior as exc:
                raise InvalidModelOutput(
                    f"{self._name} answered unexpectedly: {redact(str(exc), self._secrets)}"
                ) from exc
            logger.warning(
                "model call failed",
                extra={
                    "event": "llm_attempt_failed",
                    "model": self._name,
                    "attempt": number,
                    "verdict": verdict,
                    "status": getattr(failure, "status_code", None),
                    "idempotency_key": idempotency_key,
                },
            )
            if not may_retry():
                attempts = number
                break
            if number < attempts:
                await self._sleep(
                    self._policy.delay_s(
                        number - 1, retry_after_s=retry_after, jitter=self._jitter()
                    )
                )
        if verdict == "timeout":
            raise ProviderTimeout(
                f"{self._name} did not answer within {timeout_s:g} s ({attempts} attempts)"
            ) from failure
        raise ProviderUnavailable(
            f"{self._name} is unavailable after {attempts} attempts: {self._describe(failure)}"
        ) from failure

    def _describe(self, exc: BaseException | None) -> str:
        if isinstance(exc, ModelHTTPError):
            detail = _provider_message(exc.body) or exc.provider_error_type or ""
            text = f"HTTP {exc.status_code}" + (f": {detail}" if detail else "")
        elif isinstance(exc, ModelAPIError):
            text = str(exc)
        else:
            text = type(exc).__name__
        return redact(text, self._secrets)


def text_fragment(event: ModelResponseStreamEvent) -> str:
    """The answer text a stream event adds, if any (thinking and tool arguments are not)."""
    if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
        return event.part.content
    if isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
        return event.delta.content_delta
    return ""


def _provider_message(body: object) -> str | None:
    """The human part of a provider's error body, in the OpenAI or Anthropic shape."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        if isinstance(body.get("message"), str):
            return str(body["message"])
    return None
