"""Embedders: the packaged MiniLM offline, and an OpenAI-compatible endpoint through the
real SDK against a local stand-in server."""

import math

import pytest
from pydantic import SecretStr

from memory.core.errors import BackendUnavailable, ConfigurationError
from memory.core.settings import EmbeddingSettings, LLMSettings
from memory.infra.embedder import OpenAIEmbedder, SentenceTransformerEmbedder, make_embedder
from tests.openai_standin import Reply, StandIn, serve


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


async def test_local_model_makes_unit_vectors_that_capture_meaning(
    embedder: SentenceTransformerEmbedder,
) -> None:
    cat, kitten, invoice = await embedder.embed(
        ["the cat sleeps", "a kitten is napping", "quarterly invoice overdue"]
    )
    assert len(cat) == 384
    assert math.isclose(math.sqrt(sum(x * x for x in cat)), 1.0, rel_tol=1e-4)
    assert cosine(cat, kitten) > cosine(cat, invoice) + 0.2
    (alone,) = await embedder.embed(["the cat sleeps"])
    assert cosine(alone, cat) > 0.9999, "batching must not change a vector"
    assert await embedder.embed([]) == []


def settings_for(standin: StandIn, **overrides: object) -> EmbeddingSettings:
    values: dict[str, object] = {
        "provider": "openai",
        "base_url": standin.base_url,
        "dim": standin.dim,
        "batch_size": 2,
        "api_key": SecretStr("test-key"),
    }
    return EmbeddingSettings.model_validate(values | overrides)


async def test_openai_embedder_batches_and_normalizes() -> None:
    with serve(StandIn(dim=8)) as standin:
        embedder = make_embedder(settings_for(standin), LLMSettings(max_retries=0))
        assert isinstance(embedder, OpenAIEmbedder)
        vectors = await embedder.embed(["a", "b", "c"])
        await embedder.close()
    assert len(standin.requests) == 2, "three texts in batches of two"
    assert all(math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-6) for v in vectors)
    expected = standin.vector("c")
    norm = math.sqrt(sum(x * x for x in expected))
    assert vectors[2] == pytest.approx([x / norm for x in expected])


async def test_openai_embedder_retries_then_reports_the_endpoint_down() -> None:
    failures = [Reply(status=500, body={"error": {"message": "boom"}}) for _ in range(2)]
    with serve(StandIn(script=failures)) as standin:
        embedder = OpenAIEmbedder(settings_for(standin), LLMSettings(max_retries=1))
        with pytest.raises(BackendUnavailable, match="embedding endpoint failed"):
            await embedder.embed(["x"])
        assert len(standin.requests) == 2
        assert len(await embedder.embed(["x"])) == 1, "recovers once the endpoint does"
        await embedder.close()


async def test_openai_embedder_refuses_vectors_of_the_wrong_size() -> None:
    with serve(StandIn(dim=8)) as standin:
        embedder = OpenAIEmbedder(settings_for(standin, dim=16), LLMSettings(max_retries=0))
        with pytest.raises(ConfigurationError, match="8-dimensional"):
            await embedder.embed(["x"])
        await embedder.close()


def test_openai_embedder_needs_an_endpoint() -> None:
    with pytest.raises(ConfigurationError, match="BASE_URL"):
        make_embedder(EmbeddingSettings(provider="openai"), LLMSettings())
