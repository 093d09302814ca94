"""Calling LLM providers: one structured judgement per call, with retries, usage and cost.

The clients live in `provider_clients.py`; this module decides what to do with what they
answer. Both clients run with their own retries off (`max_retries=0`): transient failures
(rate limits, timeouts, 5xx, lost connections) are retried here, a bounded number of times
with exponential backoff and jitter, honouring `Retry-After`; a permanent failure (a bad
request, a wrong key, an unknown model) ends the evaluation at once with the provider's
message. An answer that is not the JSON the output schema asks for is asked for once more,
then becomes the evaluation's error.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import lru_cache, partial
from typing import Any, TypeVar

from django.conf import settings

from evalloop.evaluators.kinds.base import Outcome, Usage
from evalloop.evaluators.models import Provider, ProviderKind
from evalloop.evaluators.output_schema import output_problem
from evalloop.evaluators.provider_clients import (
    Answer,
    AnthropicChat,
    Ask,
    CallFailed,
    Chat,
    OpenAIChat,
    Transient,
)
from evalloop.lib import crypto

T = TypeVar("T")

MAX_ATTEMPTS = 4  # per call, transient failures included
RETRY_AFTER_CAP_SECONDS = 30.0  # the longest a provider's Retry-After makes a call wait
ANSWER_ATTEMPTS = 2  # an answer that breaks the schema is asked for once more
UNREADABLE_KEY = "the provider key cannot be decrypted; re-enter it"
# Someone waiting on a page (the test panel) gets one attempt per call within this many
# seconds, not the minutes a batch may spend riding out a provider's bad patch.
INTERACTIVE_TIMEOUT_SECONDS = 15.0

_interactive: ContextVar[bool] = ContextVar("interactive", default=False)

__all__ = [
    "UNREADABLE_KEY",
    "Answer",
    "Ask",
    "CallFailed",
    "Chat",
    "Endpoint",
    "Transient",
    "cost_of",
    "interactive",
    "judge",
    "judge_all",
    "open_chat",
    "with_retries",
]


@dataclass(frozen=True)
class Endpoint:
    """What a call needs of a provider, read from the database before any thread starts."""

    kind: str
    base_url: str
    api_key: str = field(repr=False)
    prices: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, provider: Provider) -> Endpoint:
        """The provider's endpoint with its key decrypted; crypto.Undecryptable if it cannot be."""
        key = crypto.decrypt(provider.encrypted_key)
        return cls(
            kind=provider.kind, base_url=provider.base_url, api_key=key, prices=provider.prices
        )


@contextmanager
def interactive() -> Iterator[None]:
    """Within the block, calls are made for someone waiting: one attempt, a short time limit."""
    token = _interactive.set(True)
    try:
        yield
    finally:
        _interactive.reset(token)


def open_chat(endpoint: Endpoint) -> Chat:
    """The endpoint's client, shared by every batch of this process (its connections stay warm)."""
    timeout = float(settings.EVALLOOP_LLM_TIMEOUT_SECONDS)
    if _interactive.get():
        timeout = min(timeout, INTERACTIVE_TIMEOUT_SECONDS)
    return _client(endpoint.kind, endpoint.base_url, endpoint.api_key, timeout)


@lru_cache(maxsize=32)
def _client(kind: str, base_url: str, api_key: str, timeout: float) -> Chat:
    # Clients are thread-safe; one evicted from the cache closes when it is collected.
    if kind == ProviderKind.ANTHROPIC:
        return AnthropicChat(api_key, base_url, timeout)
    return OpenAIChat(api_key, base_url, timeout)


# Retries


def pause(attempt: int, retry_after: float | None) -> float:
    """Seconds to wait before attempt `attempt + 1`: the provider's word, or backoff with jitter."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), RETRY_AFTER_CAP_SECONDS)
    ceiling = float(settings.EVALLOOP_LLM_RETRY_BASE_SECONDS) * 2 ** (attempt - 1)
    # "Equal jitter": at least half the backoff, so retries spread out but never bunch at 0.
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def with_retries(
    call: Callable[[], T],
    *,
    attempts: int = MAX_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Answer `call()`, retrying Transient failures; CallFailed once the attempts run out."""
    for attempt in range(1, attempts):
        try:
            return call()
        except Transient as exc:
            sleep(pause(attempt, exc.retry_after))
    try:
        return call()
    except Transient as exc:
        tries = f"{attempts} attempts" if attempts > 1 else "one attempt, as a test makes"
        raise CallFailed(f"{exc} (gave up after {tries})") from exc


# One judgement


def cost_of(
    prices: dict[str, Any], model: str, input_tokens: int, output_tokens: int
) -> Decimal | None:
    """What the tokens cost at the model's price per million tokens; None when unpriced."""
    price = prices.get(model)
    if not isinstance(price, dict):
        return None
    spent = (
        Decimal(str(price["input"])) * input_tokens + Decimal(str(price["output"])) * output_tokens
    )
    return spent / 1_000_000


def _retry_note(problem: str) -> str:
    return (
        f"\n\nYour previous answer was refused: {problem}. Answer again with only the JSON "
        "object described, with every field and nothing else."
    )


# The most tokens a result records for one evaluation (its columns hold 31-bit integers).
MAX_RESULT_TOKENS = 2**31 - 1


def _tokens(count: int) -> int:
    return min(count, MAX_RESULT_TOKENS)


@dataclass
class _Tally:
    """Tokens and time an evaluation spent, across its calls."""

    endpoint: Endpoint
    model: str
    started: float = field(default_factory=time.monotonic)
    input_tokens: int = 0
    output_tokens: int = 0

    def add(self, answer: Answer) -> None:
        # A provider's counts are taken as told, but never below zero nor beyond what a
        # result can store.
        self.input_tokens = _tokens(self.input_tokens + max(answer.input_tokens, 0))
        self.output_tokens = _tokens(self.output_tokens + max(answer.output_tokens, 0))

    def outcome(self, *, output: dict[str, Any] | None = None, error: str = "") -> Outcome:
        cost = cost_of(self.endpoint.prices, self.model, self.input_tokens, self.output_tokens)
        return Outcome(
            output=output,
            error=error,
            usage=Usage(self.input_tokens, self.output_tokens, cost),
            latency_ms=round((time.monotonic() - self.started) * 1000),
        )


def judge(chat: Chat, endpoint: Endpoint, ask: Ask, *, attempts: int = MAX_ATTEMPTS) -> Outcome:
    """Ask, check the answer against the schema, ask once more if it breaks it."""
    tally = _Tally(endpoint, ask.model)
    problem = ""
    for attempt in range(ANSWER_ATTEMPTS):
        this_ask = replace(ask, prompt=ask.prompt + _retry_note(problem)) if attempt else ask
        try:
            answer = with_retries(partial(chat.ask, this_ask), attempts=attempts)
        except CallFailed as exc:
            return tally.outcome(error=str(exc))
        tally.add(answer)
        problem = answer.problem or output_problem(ask.schema, answer.value) or ""
        if not problem:
            return tally.outcome(output=answer.value)
    return tally.outcome(
        error=f"the model's answer does not match the output schema, twice: {problem}"
    )


def _safely(chat: Chat, endpoint: Endpoint, ask: Ask, attempts: int) -> Outcome:
    try:
        return judge(chat, endpoint, ask, attempts=attempts)
    except Exception as exc:  # one row's failure must never sink its batch
        return Outcome(error=f"the call to the provider failed: {type(exc).__name__}: {exc}")


def judge_all(endpoint: Endpoint, asks: Sequence[Ask]) -> list[Outcome]:
    """Judge every ask, `EVALLOOP_LLM_CONCURRENCY` at a time; outcomes in the order of asks."""
    if not asks:
        return []
    workers = min(int(settings.EVALLOOP_LLM_CONCURRENCY), len(asks))
    chat = open_chat(endpoint)
    # Read here: the pool's threads do not see this thread's context variables.
    attempts = 1 if _interactive.get() else MAX_ATTEMPTS
    # Threads: each call waits on the network with the GIL released, so `workers` calls
    # really are in flight at once; one client (and its connection pool) serves them all.
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="llm") as pool:
        return list(pool.map(lambda ask: _safely(chat, endpoint, ask, attempts), asks))
