"""The one settings tree: read from `MEMSTRATA_*` variables (nested with `__`) once, in the
composition root, and passed down. Every number carries its unit in its name."""

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import platformdirs
import re2
from pydantic import AfterValidator, BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("memstrata"))


class EmbeddingSettings(BaseModel):
    """How text becomes vectors. `dim` is fixed when the schema is first migrated."""

    provider: Literal["local", "openai"] = "local"
    model_path: str | None = None  # local: defaults to the packaged all-MiniLM-L6-v2
    model: str = "text-embedding-3-small"  # openai: the model name sent to the endpoint
    base_url: str | None = None  # openai: defaults to the LLM base_url
    api_key: SecretStr | None = None  # openai: defaults to the LLM api key
    dim: int = Field(default=384, ge=8, le=4000)
    batch_size: int = Field(default=64, ge=1, le=2048)
    # One torch thread keeps a single query at ~17 ms on a busy 2-core box instead of
    # ~240 ms with torch's default of one thread per core fighting the event loop.
    torch_threads: int = Field(default=1, ge=1, le=64)


class LLMSettings(BaseModel):
    """An optional OpenAI-compatible endpoint; without one, rule-based paths are used."""

    base_url: str | None = None
    model: str | None = None
    api_key: SecretStr | None = None
    timeout_s: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=2, ge=0, le=10)


_DAY_S = 24 * 60 * 60
_YEAR_S = 365 * _DAY_S


class LifecycleSettings(BaseModel):
    """Defaults of DESIGN §5; tenants may override the three windows (not the sweep
    interval). Every window has a sane upper bound: a tenant's setting is data, and data a
    tenant sends must not be able to break a sweep that serves every tenant."""

    soft_expiry_s: int = Field(default=30 * 60, ge=60, le=30 * _DAY_S)
    hard_expiry_s: int = Field(default=2 * 60 * 60, ge=120, le=_YEAR_S)
    retention_s: int = Field(default=30 * _DAY_S, ge=60, le=20 * _YEAR_S)
    sweep_interval_s: int = Field(default=5 * 60, ge=1, le=_DAY_S)


TENANT_LIFECYCLE_FIELDS = frozenset({"soft_expiry_s", "hard_expiry_s", "retention_s"})


class SessionSettings(BaseModel):
    """Hot session state."""

    window_messages: int = Field(default=20, ge=1, le=500)
    redis_timeout_s: float = Field(default=0.5, gt=0)  # a dead Redis costs this, then Postgres
    tenant_cache_s: float = Field(default=10.0, ge=0)  # how long tenant overrides are cached


RedactKind = Literal["email", "phone", "card", "national_id", "iban", "secret"]
REDACT_KINDS: tuple[RedactKind, ...] = ("email", "phone", "card", "national_id", "iban", "secret")
MAX_REDACT_PATTERNS = 20
MAX_PATTERN_CHARS = 1000
# What RE2 may spend on one pattern's program and its matching caches; a pattern whose
# program does not fit (e.g. `\pL{1,1000}`) is refused when it is set.
PATTERN_MAX_MEM_BYTES = 2 << 20


def compile_redact_pattern(pattern: str) -> Any:  # re2 ships no types
    """`pattern` compiled by RE2, which matches in time linear in the text whatever the
    pattern: no backtracking, hence no lookaround and no backreferences. Raises `re2.error`.
    Every redaction pattern, built-in or a tenant's, is compiled here."""
    options = re2.Options()
    options.log_errors = False  # a refused pattern is an answer to its sender, not a log line
    options.max_mem = PATTERN_MAX_MEM_BYTES
    return re2.compile(pattern, options)


# Texts on which a pattern must not match empty (`a*`, `\b`): an empty match hides nothing.
_EMPTY_PROBES = ("", "Aa a1-2.\n")


def _patterns(value: dict[str, str]) -> dict[str, str]:
    """A tenant's or the service's own sensitive patterns, name -> regex, checked here so a
    bad one is refused when it is set, never when a message is being processed."""
    if len(value) > MAX_REDACT_PATTERNS:
        raise ValueError(f"at most {MAX_REDACT_PATTERNS} patterns")
    for name, pattern in value.items():
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", name):
            raise ValueError(f"bad pattern name {name!r}: use [a-z][a-z0-9_]*, at most 32")
        if len(pattern) > MAX_PATTERN_CHARS:
            raise ValueError(f"{name}: longer than {MAX_PATTERN_CHARS} characters")
        compiled = _compiled(name, pattern)
        if any(m.start() == m.end() for probe in _EMPTY_PROBES for m in compiled.finditer(probe)):
            raise ValueError(f"{name}: matches the empty string")
    return value


def _compiled(name: str, pattern: str) -> Any:
    try:
        return compile_redact_pattern(pattern)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "invalid"
        if isinstance(reason, bytes):
            reason = reason.decode(errors="replace")
        raise ValueError(
            f"{name}: not a pattern RE2 can run ({reason}); RE2 matches in linear time, so it"
            " has no lookahead, lookbehind, backreferences or possessive quantifiers"
        ) from None


RedactPatterns = Annotated[dict[str, str], AfterValidator(_patterns)]


class ReflectionSettings(BaseModel):
    """The worker: what it extracts and synthesizes, and how often."""

    extraction: Literal["auto", "rules", "llm"] = "auto"  # auto: the LLM when one is set
    extract_idle_s: int = Field(default=60, ge=0)  # a session quiet this long is extracted
    extract_batch_messages: int = Field(default=40, ge=1, le=500)
    near_duplicate_cosine: float = Field(default=0.9, gt=0, le=1)
    reflect_min_new_facts: int = Field(default=5, ge=1)
    reflect_interval_s: int = Field(default=600, gt=0)
    nightly_reflect_hour_utc: int = Field(default=3, ge=0, le=23)
    embed_interval_s: int = Field(default=30, gt=0)
    extract_interval_s: int = Field(default=60, gt=0)
    journal_budget_chars: int = Field(default=8000, ge=500)
    batch_sessions: int = Field(default=50, ge=1)  # sessions handled per job pass
    # Replaced by a placeholder before any extractor reads a message (DESIGN: facts never
    # hold them); tenants may choose other kinds and add patterns of their own.
    redact: list[RedactKind] = Field(default_factory=lambda: list(REDACT_KINDS))
    redact_patterns: RedactPatterns = Field(default_factory=dict)
    # A message yields at most this many facts, the most important ones: a pasted log or an
    # adversarial message cannot flood the tiers.
    max_facts_per_message: int = Field(default=12, ge=1, le=200)


class TenantReflection(BaseModel):
    """What a tenant may choose about its extraction: rules, the LLM, or the service's
    default (None), and which model the LLM path uses."""

    extraction: Literal["auto", "rules", "llm"] | None = None
    model: str | None = Field(default=None, min_length=1, max_length=200)
    redact: list[RedactKind] | None = None  # None: the service's kinds
    redact_patterns: RedactPatterns | None = None  # added to the service's patterns


class ResumptionSettings(BaseModel):
    """Defaults of DESIGN §6: the time gaps that pick full restore, primed or fresh."""

    full_restore_max_gap_s: int = Field(default=2 * 60 * 60, ge=60, le=_YEAR_S)
    primed_max_gap_s: int = Field(default=14 * _DAY_S, ge=120, le=20 * _YEAR_S)
    outdated_after_s: int = Field(default=90 * _DAY_S, ge=60, le=20 * _YEAR_S)  # fresh: flag older
    budget_tokens: int = Field(default=1500, ge=50, le=200_000)
    memories: int = Field(default=8, ge=0, le=50)  # recalled memories per query


class RecallSettings(BaseModel):
    """Weights of hybrid recall: standardised cosine plus weighted standardised BM25 (a raw
    message's own plus `context_weight` times its session neighbours'), then recency and
    importance, all in standard deviations of the candidate pool."""

    candidates: int = Field(default=50, ge=1, le=1000)  # per tier and per ranker
    vector_weight: float = Field(default=1.0, ge=0)
    lexical_weight: float = Field(default=1.0, ge=0)
    context_weight: float = Field(default=0.5, ge=0)
    bm25_k1: float = Field(default=1.2, ge=0)
    bm25_b: float = Field(default=0.75, ge=0, le=1)
    recency_weight: float = Field(default=0.2, ge=0)
    recency_half_life_s: int = Field(default=30 * 24 * 60 * 60, gt=0)
    importance_weight: float = Field(default=0.3, ge=0)
    default_importance: float = Field(default=0.5, ge=0, le=1)  # tiers that carry none
    hnsw_ef_search: int = Field(default=100, ge=1, le=1000)
    # Scan every vector of the user's rows instead of walking the HNSW graph: exact and the
    # same on every run (a graph's shape depends on random levels drawn as rows arrive),
    # slower for large users. The evals set it so that two runs compare.
    exact_scan: bool = False


class EncryptionSettings(BaseModel):
    """Encryption at rest of raw message content and session state (AES-256-GCM). `keys`
    maps a key id to 32 bytes in base64, e.g. MEMSTRATA_ENCRYPTION__KEYS='{"k1": "…"}';
    `active` (default: the last key listed) seals new data, every listed key opens."""

    keys: dict[str, SecretStr] = Field(default_factory=dict)
    active: str | None = None


class ApiSettings(BaseModel):
    """The HTTP edge. Rate limits are token buckets in each process: one per API key (the
    bearer token, normalised and hashed) or, for requests without one, per client address;
    refused keys (401) drain a separate, slower bucket per client address, which once empty
    refuses (429) the address's requests before any key lookup. Health probes are exempt."""

    host: str = "127.0.0.1"
    port: int = Field(default=8421, ge=1, le=65535)
    admin_key: SecretStr | None = None  # creates tenants and their API keys
    auth: bool = True  # off only for local experiments; refused on a non-loopback host
    max_body_bytes: int = Field(default=1_000_000, ge=1024)  # bytes read, chunked or not
    rate_per_s: float = Field(default=50.0, gt=0)  # per API key, or per address without one
    rate_burst: int = Field(default=200, ge=1)
    auth_failure_rate_per_s: float = Field(default=0.5, gt=0)  # refused keys per address
    auth_failure_burst: int = Field(default=20, ge=1)
    rate_buckets_max: int = Field(default=10_000, ge=100)  # buckets kept per table
    # /metrics reads its database-backed gauges (backlogs, last hour's jobs and tokens) at
    # most once per this many seconds (0: every scrape); scrapes in between get the last values.
    metrics_refresh_s: float = Field(default=15.0, ge=0)


class McpSettings(BaseModel):
    """The MCP server speaks for one user of one tenant."""

    tenant: str = "default"
    user: str = "default"


class Settings(BaseSettings):
    """Everything memstrata can be told. Build it once with `Settings()`."""

    model_config = SettingsConfigDict(
        env_prefix="MEMSTRATA_", env_nested_delimiter="__", extra="ignore"
    )

    database_url: str | None = None  # None: the embedded Postgres in data_dir
    data_dir: Path = Field(default_factory=_default_data_dir)
    redis_url: str | None = None
    log_format: Literal["json", "text"] = "json"
    # Run `memstrata worker` as a supervised child process of `memstrata serve`; None: only
    # on the embedded default.
    serve_worker: bool | None = None
    db_pool_size: int = Field(default=10, ge=1, le=200)
    max_content_chars: int = Field(default=32_000, ge=1)  # messages, facts, knowledge, summaries
    max_journal_chars: int = Field(default=200_000, ge=1)
    embedding: EmbeddingSettings = EmbeddingSettings()
    llm: LLMSettings = LLMSettings()
    lifecycle: LifecycleSettings = LifecycleSettings()
    session: SessionSettings = SessionSettings()
    reflection: ReflectionSettings = ReflectionSettings()
    resumption: ResumptionSettings = ResumptionSettings()
    recall: RecallSettings = RecallSettings()
    api: ApiSettings = ApiSettings()
    encryption: EncryptionSettings = EncryptionSettings()
    mcp: McpSettings = McpSettings()
