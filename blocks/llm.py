"""The LLM block: what nightshift asks a language model, and its implementations.

`LLM` is the interface flows use. `OpenAICompatibleLLM` talks to any chat-completions endpoint
(OpenAI, Azure, vLLM, Ollama, LiteLLM) and asks for JSON; the embedded default is the rule-based
`OfflineLLM` in blocks/offline.py, built on the rule engine in blocks/rules/. Every implementation falls
back on the same rules when its own answer to a rescheduling or writing question is unusable.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from prefect.blocks.core import Block
from prefect.logging import get_logger
from pydantic import Field, SecretStr

from blocks.llm_types import (
    DailyEmailContext,
    LLMError,
    RescheduleContext,
    TodoContext,
)
from blocks.prompts import (
    DAILY_EMAIL_SYSTEM_PROMPT,
    JSON_REASK_PROMPT,
    RELEVANCE_SYSTEM_PROMPT,
    RESCHEDULE_SYSTEM_PROMPT,
    TODO_SYSTEM_PROMPT,
    TODO_USER_PROMPT,
)
from blocks.rules import mail_writer, reschedule


class LLM(Block):
    """Interface of every LLM block: one method per question nightshift asks."""

    _block_type_name = "nightshift LLM"

    def extract_todos(self, context: TodoContext) -> list[dict[str, Any]]:
        """Return raw todo items: dicts with description, due_date (ISO date) and mentioned_as_todo.

        Items are not validated here; the caller validates each one and skips the bad ones.
        """
        raise NotImplementedError

    def extractor_name(self) -> str:
        """How the extraction report names this extractor."""
        return self._block_type_name

    def propose_reschedule(self, context: RescheduleContext) -> dict[str, Any]:
        """Return {"reschedule_date": ISO date, "justification": text}; the caller validates the date."""
        raise NotImplementedError

    def write_daily_email(self, context: DailyEmailContext) -> dict[str, Any]:
        """Return {"subject": text, "body": plain text} in the user's language; never trusted as HTML."""
        raise NotImplementedError

    def relevant_chunks(self, title: str, chunks: list[str]) -> list[bool]:
        """One flag per chunk of the page `title`: True for content, False for boilerplate (menus, footers)."""
        raise NotImplementedError

    def fallback_reschedule(self, context: RescheduleContext) -> dict[str, Any]:
        """The rule's proposal (the quietest coming working day), used when this block's answer is unusable."""
        return reschedule.propose_reschedule(context)

    def fallback_daily_email(self, context: DailyEmailContext) -> dict[str, Any]:
        """The per-language template's subject and body, used when this block's answer is unusable."""
        return mail_writer.write_daily_email(context)


# --- OpenAI-compatible implementation -------------------------------------------------------------

logger = get_logger("nightshift.llm")

MAX_BACKOFF_SECONDS = 30.0
ERROR_EXCERPT_CHARS = 300
RETRYABLE_TRANSPORT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)

RELEVANCE_BATCH = 20
RELEVANCE_CHUNK_CHARS = 1500


class OpenAICompatibleLLM(LLM):
    """An LLM behind any OpenAI chat-completions endpoint (OpenAI, Azure, vLLM, Ollama, LiteLLM)."""

    _block_type_name = "OpenAI-compatible LLM"
    _block_type_slug = "nightshift-openai-llm"

    base_url: str = Field(default="https://api.openai.com/v1", description="API root.")
    api_key: SecretStr | None = Field(default=None, description="Sent as a Bearer token when set.")
    model: str = "gpt-4o-mini"
    timeout_seconds: float = Field(default=60, gt=0)
    max_attempts: int = Field(default=4, ge=1, description="HTTP attempts per answer.")
    max_json_retries: int = Field(default=2, ge=0, description="Re-asks after bad JSON.")
    retry_backoff_seconds: float = Field(default=1.0, ge=0, description="Base of the exponential backoff.")
    extra_headers: dict[str, str] = Field(default_factory=dict, description="Sent with every request.")

    def extractor_name(self) -> str:
        return f"language model {self.model}"

    def chat_json(self, system: str, user: str) -> dict[str, Any]:
        """Ask the model and return its answer as a JSON object; raise LLMError when it cannot."""
        return self._ask_json(system, user, required_list=None)

    def extract_todos(self, context: TodoContext) -> list[dict[str, Any]]:
        """The model's raw `todos` list; the caller validates the items."""
        system = TODO_SYSTEM_PROMPT.format(
            language_code=context.language_code,
            local_date=context.local_date.isoformat(),
            weekday=context.weekday,
        )
        return self._ask_json(system, _todo_user_prompt(context), required_list="todos")["todos"]

    def relevant_chunks(self, title: str, chunks: list[str]) -> list[bool]:
        """Ask in batches; a batch whose answer has the wrong length keeps all its chunks (fail open)."""
        flags: list[bool] = []
        for start in range(0, len(chunks), RELEVANCE_BATCH):
            batch = chunks[start : start + RELEVANCE_BATCH]
            numbered = "\n\n".join(
                f"[{i}] {chunk[:RELEVANCE_CHUNK_CHARS]}" for i, chunk in enumerate(batch, start=1)
            )
            answer = self._ask_json(
                RELEVANCE_SYSTEM_PROMPT.format(count=len(batch)),
                f"Page title: {title or '(none)'}\n\nChunks:\n{numbered}",
                required_list="relevant",
            )["relevant"]
            if len(answer) != len(batch):
                logger.warning("%s: %d relevance flags for %d chunks; keeping the batch",
                               self._where(), len(answer), len(batch))
                answer = [True] * len(batch)
            flags += [value is not False and str(value).strip().lower() not in ("false", "no", "0")
                      for value in answer]
        return flags

    def propose_reschedule(self, context: RescheduleContext) -> dict[str, Any]:
        system = RESCHEDULE_SYSTEM_PROMPT.format(
            language_code=context.language_code, local_date=context.local_date.isoformat(), weekday=context.weekday
        )
        return self._ask_json(system, context.model_dump_json(indent=1), required_list=None)

    def write_daily_email(self, context: DailyEmailContext) -> dict[str, Any]:
        system = DAILY_EMAIL_SYSTEM_PROMPT.format(language_code=context.language_code)
        return self._ask_json(system, context.model_dump_json(indent=1), required_list=None)

    def _ask_json(self, system: str, user: str, required_list: str | None) -> dict[str, Any]:
        """Ask until the answer is a JSON object (holding a `required_list` list when given)."""
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        with httpx.Client(timeout=self.timeout_seconds) as client:
            for answer_number in range(1, self.max_json_retries + 2):
                content = self._complete(client, messages)
                answer, problem = _parse_answer(content, required_list)
                if problem is None:
                    return answer
                logger.warning("%s: unusable answer %d: %s", self._where(), answer_number, problem)
                messages.append({"role": "assistant", "content": content})
                messages.append({"role": "user", "content": JSON_REASK_PROMPT.format(problem=problem)})
        raise LLMError(
            f"{self._where()} gave no usable JSON in {self.max_json_retries + 1} answers: {problem}; "
            f"last answer: {self._excerpt(content)!r}"
        )

    def _complete(self, client: httpx.Client, messages: list[dict[str, str]]) -> str:
        """POST one chat completion, retrying 429, 5xx and transport errors; return the message content."""
        for attempt in range(1, self.max_attempts + 1):
            try:
                return self._post_once(client, messages, attempt)
            except _RetryableError as exc:
                if attempt >= self.max_attempts:
                    raise LLMError(f"{exc} (gave up after {attempt} attempts)") from None
                logger.warning("%s; retry %d in %.2fs", exc, attempt, exc.delay)
                time.sleep(exc.delay)
        raise LLMError(f"{self._where()}: max_attempts must be at least 1")

    def _post_once(self, client: httpx.Client, messages: list[dict[str, str]], attempt: int) -> str:
        """One HTTP attempt: the content, or _RetryableError, or LLMError when retrying cannot help."""
        try:
            response = client.post(self._url(), json=self._payload(messages), headers=self._headers())
        except RETRYABLE_TRANSPORT_ERRORS as exc:
            message = f"{self._where()}: {type(exc).__name__}: {exc}"
            raise _RetryableError(message, self._backoff(attempt)) from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise LLMError(f"{self._where()}: {type(exc).__name__}: {exc}") from None
        if response.is_success:
            return self._content(response)
        message = f"{self._where()}: HTTP {response.status_code}: {self._excerpt(response.text)!r}"
        if response.status_code == 429 or response.status_code >= 500:
            retry_after = self._retry_after(response)
            raise _RetryableError(message, self._backoff(attempt) if retry_after is None else retry_after)
        raise LLMError(message)

    def _content(self, response: httpx.Response) -> str:
        """choices[0].message.content of a chat completion ("" when null, e.g. a refusal)."""
        try:
            content = response.json()["choices"][0]["message"].get("content")
        except (ValueError, LookupError, TypeError, AttributeError):
            raise LLMError(
                f"{self._where()}: HTTP {response.status_code} but not a chat completion: "
                f"{self._excerpt(response.text)!r}"
            ) from None
        return content if isinstance(content, str) else ""

    def _payload(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": messages,
            "temperature": 0,
            "response_format": {"type": "json_object"},
        }

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", **self.extra_headers}
        if self.api_key is not None and self.api_key.get_secret_value():
            headers["Authorization"] = f"Bearer {self.api_key.get_secret_value()}"
        return headers

    def _url(self) -> str:
        return f"{self.base_url.rstrip('/')}/chat/completions"

    def _where(self) -> str:
        return f"model {self.model!r} at {self.base_url}"

    def _backoff(self, attempt: int) -> float:
        return min(self.retry_backoff_seconds * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)

    def _retry_after(self, response: httpx.Response) -> float | None:
        try:
            return min(max(float(response.headers["Retry-After"]), 0.0), MAX_BACKOFF_SECONDS)
        except (KeyError, ValueError):
            return None

    def _excerpt(self, text: str) -> str:
        """The start of a body or answer, with the API key masked in case a gateway echoes it."""
        text = " ".join(text.split())
        if self.api_key is not None and self.api_key.get_secret_value():
            text = text.replace(self.api_key.get_secret_value(), "***")
        return text if len(text) <= ERROR_EXCERPT_CHARS else text[:ERROR_EXCERPT_CHARS] + "..."


class _RetryableError(LLMError):
    """A failure worth another HTTP attempt after `delay` seconds."""

    def __init__(self, message: str, delay: float) -> None:
        super().__init__(message)
        self.delay = delay


def _parse_answer(content: str, required_list: str | None) -> tuple[dict[str, Any], str | None]:
    """The answer as a JSON object and None, or an empty dict and what is wrong with it."""
    try:
        answer = json.loads(_strip_code_fence(content))
    except ValueError as exc:
        return {}, f"it is not valid JSON ({exc})"
    if not isinstance(answer, dict):
        return {}, f"it is JSON but a {type(answer).__name__}, not an object"
    if required_list is not None and not isinstance(answer.get(required_list), list):
        return {}, f'the object has no "{required_list}" list'
    return answer, None


def _strip_code_fence(content: str) -> str:
    """Some servers ignore response_format and wrap the JSON in a Markdown code fence."""
    text = content.strip()
    if text.startswith("```") and text.endswith("```") and len(text) >= 6:
        text = text[3:-3]
        return text[4:] if text.startswith("json") else text
    return text


def _todo_user_prompt(context: TodoContext) -> str:
    conversation = "\n".join(f"[{m.sender}] {m.text}" for m in context.messages) or "(no messages)"
    known = "\n".join(f"- {todo}" for todo in context.known_todos) or "(none)"
    return TODO_USER_PROMPT.format(
        user_name=context.user_name,
        user_goal=context.user_goal or "(not given)",
        company_description=context.company_description or "(not given)",
        task_name=context.task_name,
        task_definition=context.task_definition or "(not given)",
        execution_title=context.execution_title,
        local_date=context.local_date.isoformat(),
        weekday=context.weekday,
        timezone=context.timezone,
        conversation=conversation,
        produced_text=context.produced_text or "(none)",
        known_todos=known,
    )
