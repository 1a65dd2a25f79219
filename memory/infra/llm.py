"""The optional LLM: any OpenAI-compatible chat endpoint through the official SDK, asked for
JSON that must validate against a typed schema. Rate limits, server errors and timeouts
are retried with backoff, malformed output is asked again, and every call's tokens and
retries are counted for the run ledger."""

import asyncio
import copy
import logging
from dataclasses import dataclass, field
from typing import TypeVar

import openai
from openai import AsyncOpenAI
from pydantic import BaseModel, ValidationError

from memory.core.errors import BackendUnavailable, ConfigurationError, MemstrataError
from memory.core.settings import LLMSettings

log = logging.getLogger(__name__)

Schema = TypeVar("Schema", bound=BaseModel)

_RETRYABLE = (
    openai.RateLimitError,
    openai.APITimeoutError,
    openai.APIConnectionError,
    openai.InternalServerError,
)
_MAX_BACKOFF_S = 10.0


class MalformedOutput(MemstrataError):
    """The model kept answering with something that is not the JSON asked for."""

    code = "malformed_output"


@dataclass
class Usage:
    """What a piece of work cost: tokens, calls and retries (both kinds)."""

    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0
    retries: int = 0
    errors: list[str] = field(default_factory=list)


class LLM:
    def __init__(self, settings: LLMSettings, *, backoff_s: float = 0.5) -> None:
        if settings.base_url is None or settings.model is None:
            raise ConfigurationError("an LLM needs MEMSTRATA_LLM__BASE_URL and __MODEL")
        self.model = settings.model
        self._attempts = settings.max_retries + 1
        self._backoff_s = backoff_s
        key = settings.api_key.get_secret_value() if settings.api_key else "not-needed"
        # Our own loop retries, so that the ledger knows how many retries there were.
        self._client = AsyncOpenAI(
            base_url=settings.base_url, api_key=key, timeout=settings.timeout_s, max_retries=0
        )

    def using(self, model: str) -> "LLM":
        """The same endpoint and client, asking another model (a tenant's choice)."""
        other = copy.copy(self)
        other.model = model
        return other

    async def json(self, system: str, user: str, schema: type[Schema], usage: Usage) -> Schema:
        """Ask for one JSON object matching `schema`; `usage` accumulates the cost."""
        for attempt in range(self._attempts):
            if attempt:
                usage.retries += 1
            content = await self._complete(system, user, usage)
            if content is None:
                continue
            try:
                return schema.model_validate_json(content)
            except ValidationError as exc:
                usage.errors.append(f"malformed output: {exc.error_count()} errors")
                log.warning("LLM answer did not match %s", schema.__name__)
        raise MalformedOutput(
            f"no valid {schema.__name__} after {self._attempts} attempts: "
            + "; ".join(usage.errors[-3:])
        )

    async def _complete(self, system: str, user: str, usage: Usage) -> str | None:
        """One call, with backoff retries for rate limits, server errors and timeouts."""
        for attempt in range(self._attempts):
            if attempt:
                usage.retries += 1
            usage.calls += 1
            try:
                response = await self._client.chat.completions.create(
                    model=self.model,
                    messages=[
                        {"role": "system", "content": system},
                        {"role": "user", "content": user},
                    ],
                    response_format={"type": "json_object"},
                    temperature=0,
                )
            except _RETRYABLE as exc:
                usage.errors.append(type(exc).__name__)
                await asyncio.sleep(self._delay(exc, attempt))
                continue
            except openai.APIError as exc:
                raise BackendUnavailable(f"LLM endpoint refused the request: {exc}") from exc
            if response.usage is not None:
                usage.input_tokens += response.usage.prompt_tokens
                usage.output_tokens += response.usage.completion_tokens
            if not response.choices:
                usage.errors.append("no choices")
                return None
            return response.choices[0].message.content
        raise BackendUnavailable(
            f"LLM endpoint failed {self._attempts} times: {', '.join(usage.errors[-3:])}"
        )

    def _delay(self, exc: Exception, attempt: int) -> float:
        retry_after = None
        if isinstance(exc, openai.APIStatusError):
            retry_after = exc.response.headers.get("retry-after")
        if retry_after is not None:
            try:
                return min(float(retry_after), _MAX_BACKOFF_S)
            except ValueError:
                pass
        return float(min(self._backoff_s * 2**attempt, _MAX_BACKOFF_S))

    async def close(self) -> None:
        await self._client.close()
