"""OpenAICompatibleLLM against a real loopback HTTP server that replays scripted chat completions."""

from __future__ import annotations

import datetime as dt
import logging
import socket
import time
from typing import Any

import pytest
from chat_server import FakeChatServer, Recorded, Reply, answer

from blocks import llm as llm_module
from blocks.llm import OpenAICompatibleLLM
from blocks.llm_types import ChatMessage, LLMError, TodoContext

API_KEY = "sk-test-0123456789abcdef"
TODO = {"description": "Send the signed offer to Anna", "due_date": "2025-03-14", "mentioned_as_todo": True}


@pytest.fixture
def server(chat_server: FakeChatServer) -> FakeChatServer:
    return chat_server


@pytest.fixture
def llm_logs():
    """Records of the block's logger (attached directly: Prefect may stop propagation to root)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(level=logging.DEBUG)
    handler.emit = records.append  # type: ignore[method-assign]
    llm_module.logger.addHandler(handler)
    try:
        yield records
    finally:
        llm_module.logger.removeHandler(handler)


def make_llm(server: FakeChatServer, **overrides: Any) -> OpenAICompatibleLLM:
    settings: dict[str, Any] = {
        "base_url": server.base_url,
        "api_key": API_KEY,
        "model": "test-model",
        "timeout_seconds": 5,
        "retry_backoff_seconds": 0.01,
    }
    return OpenAICompatibleLLM(**(settings | overrides))


def make_context(**overrides: Any) -> TodoContext:
    settings: dict[str, Any] = {
        "task_execution_id": 7,
        "user_name": "Marta",
        "user_goal": "Hire a sales lead",
        "company_description": "A bakery chain in Valencia",
        "language_code": "es",
        "timezone": "Europe/Madrid",
        "local_date": dt.date(2025, 3, 10),
        "weekday": "Monday",
        "task_name": "Hiring plan",
        "task_definition": "Plan the hiring of a sales lead",
        "execution_title": "Offer for Anna",
        "messages": [
            ChatMessage(sender="user", text="I will send Anna the signed offer by Friday."),
            ChatMessage(sender="assistant", text="Here is the offer letter."),
        ],
        "produced_text": "OFFER LETTER for Anna, sales lead",
        "known_todos": ["Call the recruiter"],
    }
    return TodoContext(**(settings | overrides))


def messages_of(request: Recorded) -> list[dict[str, str]]:
    return request.body["messages"]


# --- answers --------------------------------------------------------------------------------------


def test_valid_answer_returns_the_todos_list(server):
    server.script = [answer({"todos": [TODO, {"description": 3}]})]

    todos = make_llm(server).extract_todos(make_context())

    assert todos == [TODO, {"description": 3}]  # returned as is: the caller validates the items
    assert len(server.requests) == 1
    assert server.requests[0].path == "/v1/chat/completions"


def test_request_body_headers_and_prompts(server):
    server.script = [answer({"todos": []})]
    llm = make_llm(server, extra_headers={"X-Gateway-Route": "nightshift"})

    assert llm.extract_todos(make_context()) == []

    [request] = server.requests
    assert request.body["model"] == "test-model"
    assert request.body["temperature"] == 0
    assert request.body["response_format"] == {"type": "json_object"}
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["x-gateway-route"] == "nightshift"
    system, user = messages_of(request)
    assert (system["role"], user["role"]) == ("system", "user")
    assert '"es"' in system["content"] and "2025-03-10 (Monday)" in system["content"]
    assert "YYYY-MM-DD" in system["content"] and '"todos"' in system["content"]
    for expected in (
        "Marta",
        "Hire a sales lead",
        "A bakery chain in Valencia",
        "Hiring plan",
        "Plan the hiring of a sales lead",
        "Offer for Anna",
        "2025-03-10 (Monday)",
        "[user] I will send Anna the signed offer by Friday.",
        "[assistant] Here is the offer letter.",
        "OFFER LETTER for Anna, sales lead",
        "- Call the recruiter",
    ):
        assert expected in user["content"], expected


def test_no_authorization_header_without_a_key(server):
    server.script = [answer({"ok": True})]

    assert make_llm(server, api_key=None).chat_json("system", "user") == {"ok": True}

    assert "authorization" not in server.requests[0].headers


def test_base_url_with_trailing_slash(server):
    server.script = [answer({"ok": True})]

    make_llm(server, base_url=server.base_url + "/").chat_json("system", "user")

    assert server.requests[0].path == "/v1/chat/completions"


def test_code_fenced_json_is_accepted(server):
    server.script = [answer('```json\n{"todos": []}\n```')]

    assert make_llm(server).extract_todos(make_context()) == []
    assert len(server.requests) == 1


# --- re-asks after unusable JSON --------------------------------------------------------------------


def test_malformed_json_then_valid_reasks_with_the_bad_output(server):
    bad = '{"todos": [{"description": "Send the offer"'
    server.script = [answer(bad), answer({"todos": [TODO]})]

    assert make_llm(server).extract_todos(make_context()) == [TODO]

    first, second = server.requests
    assert messages_of(second)[:2] == messages_of(first)
    reask_assistant, reask_user = messages_of(second)[2:]
    assert reask_assistant == {"role": "assistant", "content": bad}
    assert reask_user["role"] == "user"
    assert "not valid JSON" in reask_user["content"] and "only the JSON object" in reask_user["content"]


def test_non_object_json_is_reasked(server):
    server.script = [answer("[1, 2, 3]"), answer({"answer": 42})]

    assert make_llm(server).chat_json("system", "user") == {"answer": 42}

    assert len(server.requests) == 2
    assert "not an object" in messages_of(server.requests[1])[-1]["content"]


def test_missing_todos_list_is_reasked(server):
    server.script = [answer({"items": [TODO]}), answer({"todos": "none"}), answer({"todos": [TODO]})]

    assert make_llm(server).extract_todos(make_context()) == [TODO]

    assert len(server.requests) == 3
    assert '"todos" list' in messages_of(server.requests[1])[-1]["content"]


def test_malformed_json_every_time_raises_after_bounded_reasks(server):
    server.script = [answer("Sure! Here are the todos: none")]
    llm = make_llm(server, max_json_retries=2)

    with pytest.raises(LLMError) as error:
        llm.extract_todos(make_context())

    assert len(server.requests) == 1 + 2
    assert len(messages_of(server.requests[-1])) == 2 + 2 * 2
    message = str(error.value)
    assert "test-model" in message and server.base_url in message and "Sure! Here are" in message


def test_chat_json_without_reasks(server):
    server.script = [answer("not json")]

    with pytest.raises(LLMError):
        make_llm(server, max_json_retries=0).chat_json("system", "user")

    assert len(server.requests) == 1


# --- HTTP-level retries -----------------------------------------------------------------------------


def test_429_with_retry_after_zero_then_success(server):
    server.script = [
        Reply(429, {"error": {"message": "Rate limit reached"}}, headers={"Retry-After": "0"}),
        answer({"todos": [TODO]}),
    ]
    llm = make_llm(server, retry_backoff_seconds=5)  # Retry-After wins over the backoff

    started = time.monotonic()
    assert llm.extract_todos(make_context()) == [TODO]

    assert time.monotonic() - started < 2
    assert len(server.requests) == 2
    assert server.requests[0].body == server.requests[1].body


def test_500_then_success(server):
    server.script = [Reply(500, "upstream exploded"), answer({"todos": [TODO]})]

    assert make_llm(server).extract_todos(make_context()) == [TODO]
    assert len(server.requests) == 2


def test_500_every_time_raises_after_max_attempts(server):
    server.script = [Reply(503, {"error": {"message": "model is overloaded"}})]

    with pytest.raises(LLMError) as error:
        make_llm(server, max_attempts=3).extract_todos(make_context())

    assert len(server.requests) == 3
    message = str(error.value)
    assert "HTTP 503" in message and "model is overloaded" in message
    assert "test-model" in message and server.base_url in message


def test_long_error_body_is_cut(server):
    server.script = [Reply(500, "x" * 10_000)]

    with pytest.raises(LLMError) as error:
        make_llm(server, max_attempts=1).chat_json("system", "user")

    assert len(str(error.value)) < 1000


def test_timeout_raises_after_max_attempts(server):
    server.script = [Reply(delay=3, body="{}")]
    llm = make_llm(server, timeout_seconds=0.3, max_attempts=2)

    started = time.monotonic()
    with pytest.raises(LLMError) as error:
        llm.extract_todos(make_context())

    assert time.monotonic() - started < 2.5
    assert len(server.requests) == 2
    assert "Timeout" in str(error.value) and "test-model" in str(error.value)


def test_connection_refused_raises_after_max_attempts():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    llm = OpenAICompatibleLLM(
        base_url=f"http://127.0.0.1:{port}/v1", max_attempts=2, retry_backoff_seconds=0.01
    )

    with pytest.raises(LLMError) as error:
        llm.chat_json("system", "user")

    assert "ConnectError" in str(error.value) and "2 attempts" in str(error.value)


@pytest.mark.parametrize("status", [400, 401, 404])
def test_other_4xx_fail_at_once_without_leaking_the_key(server, llm_logs, status):
    body = {"error": {"message": f"Incorrect API key provided: {API_KEY}", "code": "invalid_api_key"}}
    server.script = [Reply(status, body)]

    with pytest.raises(LLMError) as error:
        make_llm(server).extract_todos(make_context())

    assert len(server.requests) == 1
    message = str(error.value)
    assert f"HTTP {status}" in message and "Incorrect API key" in message
    assert API_KEY not in message
    assert all(API_KEY not in record.getMessage() for record in llm_logs)


def test_retry_logs_never_contain_the_key(server, llm_logs):
    server.script = [Reply(500, f"echo {API_KEY}"), answer("nope"), answer({"ok": 1})]

    assert make_llm(server).chat_json("system", "user") == {"ok": 1}

    assert len(llm_logs) == 2
    assert all(API_KEY not in record.getMessage() for record in llm_logs)


def test_200_that_is_not_a_chat_completion_raises(server):
    server.script = [Reply(200, "<html>gateway login</html>")]

    with pytest.raises(LLMError) as error:
        make_llm(server).chat_json("system", "user")

    assert len(server.requests) == 1
    assert "not a chat completion" in str(error.value) and "gateway login" in str(error.value)


# --- the block ----------------------------------------------------------------------------------------


def test_block_builds_without_a_prefect_server_and_hides_the_key():
    llm = OpenAICompatibleLLM(api_key=API_KEY)

    assert llm.base_url == "https://api.openai.com/v1" and llm.model == "gpt-4o-mini"
    assert (llm.max_attempts, llm.max_json_retries, llm.extra_headers) == (4, 2, {})
    assert API_KEY not in repr(llm) and API_KEY not in str(llm.model_dump())
    assert OpenAICompatibleLLM.get_block_type_slug() == "nightshift-openai-llm"
    assert OpenAICompatibleLLM.get_block_type_name() == "OpenAI-compatible LLM"
