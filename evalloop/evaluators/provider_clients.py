"""The two kinds of provider behind one small interface: ask once, read the JSON answer.

OpenAI-compatible endpoints get `response_format={"type": "json_schema", ...}` (strict) and
the schema spelt out in the system message as well, so a server that ignores
`response_format` (older local servers do) still knows what to answer. Anthropic gets the
schema as a tool's `input_schema`, with `tool_choice` forcing that tool. Failures are sorted
here into Transient (worth retrying) and CallFailed (final, with the provider's message).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any, Protocol

import anthropic
import openai

TOOL_NAME = "record_evaluation"
MAX_OUTPUT_TOKENS = 2048  # Anthropic requires a bound; a judgement is short
MAX_MESSAGE = 500  # characters of a provider's error message kept in a result
# Statuses worth a retry: timeout, conflict, too early, rate limit, and every 5xx
# (Anthropic's 529 "overloaded" among them).
TRANSIENT_STATUSES = frozenset({408, 409, 425, 429})

_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


class CallFailed(Exception):
    """A call that will not succeed by retrying; the message says why, for the result."""


class Transient(Exception):
    """A failure worth retrying, with the wait the provider asked for, if any."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Ask:
    """One question to a model: a system text, the rendered prompt, the output schema."""

    model: str
    system: str
    prompt: str
    schema: dict[str, Any]  # an output schema: {"fields": [...]}
    temperature: float | None = None


@dataclass(frozen=True)
class Answer:
    """A model's answer: the JSON value it gave, or why none could be read."""

    value: Any = None
    problem: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0


class Chat(Protocol):
    """A provider's client: asks one question (raising CallFailed or Transient)."""

    def ask(self, ask: Ask) -> Answer: ...


# What to ask for


def json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of an answer to an output schema: every field required, no other."""
    properties = {spec["name"]: _field_schema(spec) for spec in schema.get("fields", [])}
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _field_schema(spec: dict[str, Any]) -> dict[str, Any]:
    if spec["type"] == "number":
        bounds = {"minimum": spec.get("min"), "maximum": spec.get("max")}
        return {"type": "number", **{k: v for k, v in bounds.items() if v is not None}}
    if spec["type"] == "boolean":
        return {"type": "boolean"}
    if spec["type"] == "category":
        return {"type": "string", "enum": list(spec.get("choices") or [])}
    return {"type": "string"}


def describe_fields(schema: dict[str, Any]) -> str:
    """The output schema in words, one line per field, for the system message."""
    return "\n".join(f"- {spec['name']}: {_field_words(spec)}" for spec in schema["fields"])


def _field_words(spec: dict[str, Any]) -> str:
    if spec["type"] == "boolean":
        return "true or false"
    if spec["type"] == "category":
        return "one of " + ", ".join(json.dumps(choice) for choice in spec.get("choices") or [])
    if spec["type"] == "text":
        return "a string"
    low, high = spec.get("min"), spec.get("max")
    if low is not None and high is not None:
        return f"a number from {low:g} to {high:g}"
    if low is not None:
        return f"a number of at least {low:g}"
    return f"a number of at most {high:g}" if high is not None else "a number"


# Reading answers and failures


def read_json(text: str | None) -> Answer:
    """The JSON object in a model's text, tolerating a Markdown code fence around it."""
    if not text or not text.strip():
        return Answer(problem="the answer is empty")
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1)
    try:
        return Answer(value=json.loads(body))
    except ValueError:
        return Answer(problem=f"the answer is not JSON: {_clip(text, 200)!r}")


def _clip(text: str, limit: int = MAX_MESSAGE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _provider_message(exc: openai.APIStatusError | anthropic.APIStatusError) -> str:
    body = exc.body
    error = body.get("error", body) if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if not isinstance(message, str) or not message:
        message = body if isinstance(body, str) and body else exc.message
    return _clip(str(message))


def _retry_after(exc: openai.APIStatusError | anthropic.APIStatusError) -> float | None:
    headers = exc.response.headers
    try:
        if "retry-after-ms" in headers:
            return float(headers["retry-after-ms"]) / 1000
        if "retry-after" in headers:
            return float(headers["retry-after"])
    except ValueError:
        return None  # an HTTP date, or garbage: back off by our own rule
    return None


def _status_failure(exc: openai.APIStatusError | anthropic.APIStatusError) -> Exception:
    status = exc.status_code
    message = f"the provider answered {status}: {_provider_message(exc)}"
    if status in TRANSIENT_STATUSES or status >= 500:
        return Transient(message, _retry_after(exc))
    return CallFailed(message)


def classify(exc: Exception, timeout: float) -> Exception:
    """The failure of a call as Transient or CallFailed."""
    if isinstance(exc, openai.APIStatusError | anthropic.APIStatusError):
        return _status_failure(exc)
    if isinstance(exc, openai.APITimeoutError | anthropic.APITimeoutError):
        return Transient(f"the provider did not answer within {timeout:g} s")
    if isinstance(exc, openai.APIConnectionError | anthropic.APIConnectionError):
        cause = exc.__cause__ or exc
        return Transient(
            f"the provider cannot be reached: {_clip(str(cause) or type(cause).__name__)}"
        )
    return CallFailed(f"the provider's answer cannot be read: {_clip(str(exc))}")


# The two clients


class OpenAIChat:
    """Any OpenAI-compatible chat completions endpoint, through the official client."""

    def __init__(self, api_key: str, base_url: str, timeout: float) -> None:
        self.timeout = timeout
        self.client = openai.OpenAI(
            api_key=api_key, base_url=base_url or None, timeout=timeout, max_retries=0
        )

    def ask(self, ask: Ask) -> Answer:
        try:
            response = self.client.chat.completions.create(**self.request(ask))
        except (openai.OpenAIError, ValueError) as exc:
            raise classify(exc, self.timeout) from exc
        return self.answer(response)

    @staticmethod
    def request(ask: Ask) -> dict[str, Any]:
        system = (
            f"{ask.system}\n\nAnswer with one JSON object with exactly these fields:\n"
            f"{describe_fields(ask.schema)}\nAnswer with the JSON object only."
        )
        request: dict[str, Any] = {
            "model": ask.model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": ask.prompt},
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": "evaluation",
                    "schema": json_schema(ask.schema),
                    "strict": True,
                },
            },
        }
        if ask.temperature is not None:
            request["temperature"] = ask.temperature
        return request

    @staticmethod
    def answer(response: Any) -> Answer:
        usage = response.usage
        return replace(
            OpenAIChat.read(response),
            input_tokens=(usage.prompt_tokens or 0) if usage else 0,
            output_tokens=(usage.completion_tokens or 0) if usage else 0,
        )

    @staticmethod
    def read(response: Any) -> Answer:
        if not response.choices:
            return Answer(problem="the answer holds no choice")
        message = response.choices[0].message
        if getattr(message, "refusal", None):
            return Answer(problem=f"the model refused: {_clip(message.refusal, 200)}")
        return read_json(message.content)

    def close(self) -> None:
        self.client.close()


class AnthropicChat:
    """Anthropic's messages API, through the official client; the answer comes as a tool call."""

    def __init__(self, api_key: str, base_url: str, timeout: float) -> None:
        self.timeout = timeout
        self.client = anthropic.Anthropic(
            api_key=api_key, base_url=base_url or None, timeout=timeout, max_retries=0
        )

    def ask(self, ask: Ask) -> Answer:
        try:
            response = self.client.messages.create(**self.request(ask))
        except (anthropic.AnthropicError, ValueError) as exc:
            raise classify(exc, self.timeout) from exc
        return self.answer(response)

    @staticmethod
    def request(ask: Ask) -> dict[str, Any]:
        # No temperature: Anthropic's messages API takes none (judges refuse one when saved).
        return {
            "model": ask.model,
            "max_tokens": MAX_OUTPUT_TOKENS,
            "system": f"{ask.system}\n\nRecord your evaluation with the {TOOL_NAME} tool.",
            "messages": [{"role": "user", "content": ask.prompt}],
            "tools": [
                {
                    "name": TOOL_NAME,
                    "description": "Record the evaluation: every field, as described.\n"
                    + describe_fields(ask.schema),
                    "input_schema": json_schema(ask.schema),
                }
            ],
            "tool_choice": {"type": "tool", "name": TOOL_NAME},
        }

    @staticmethod
    def answer(response: Any) -> Answer:
        usage = response.usage
        return replace(
            AnthropicChat.read(response),
            input_tokens=(usage.input_tokens or 0) if usage else 0,
            output_tokens=(usage.output_tokens or 0) if usage else 0,
        )

    @staticmethod
    def read(response: Any) -> Answer:
        blocks = list(response.content or [])
        for block in blocks:
            if block.type == "tool_use" and block.name == TOOL_NAME:
                return Answer(value=block.input)
        texts = [block.text for block in blocks if block.type == "text"]
        if texts:  # no tool call: a compatible server may still have answered JSON as text
            return read_json("".join(texts))
        return Answer(problem=f"the answer holds no {TOOL_NAME} tool call")

    def close(self) -> None:
        self.client.close()
