"""The fake model server speaks the real wire formats: the official SDKs read it unchanged."""

from __future__ import annotations

import json

import anthropic
import openai
import pytest

from tests.support.fake_llm import FakeLLM, Reply

TOOL = {
    "type": "function",
    "function": {
        "name": "pick",
        "parameters": {"type": "object", "properties": {"group_id": {"type": "string"}}},
    },
}


def openai_client(fake: FakeLLM) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="sk-x", base_url=fake.openai_base_url, max_retries=0)


def anthropic_client(fake: FakeLLM) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        api_key="sk-ant-x", base_url=fake.anthropic_base_url, max_retries=0
    )


async def test_openai_completion_text_and_usage(fake_llm: FakeLLM) -> None:
    fake_llm.script(Reply.say("hello there", input_tokens=12, output_tokens=3))
    async with openai_client(fake_llm) as client:
        completion = await client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "hi"}]
        )
    assert completion.choices[0].message.content == "hello there"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.total_tokens) == (12, 15)
    [request] = fake_llm.requests
    assert request.body["messages"] == [{"role": "user", "content": "hi"}]
    assert request.headers["authorization"] == "Bearer sk-x"


async def test_openai_completion_tool_call(fake_llm: FakeLLM) -> None:
    fake_llm.script(Reply.tool("pick", {"group_id": "a"}))
    async with openai_client(fake_llm) as client:
        completion = await client.chat.completions.create(
            model="gpt-test",
            messages=[{"role": "user", "content": "hi"}],
            tools=[TOOL],  # type: ignore[list-item]
        )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls or []
    assert call.function.name == "pick"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"group_id": "a"}  # type: ignore[union-attr]


async def test_openai_stream_text_tool_calls_and_usage(fake_llm: FakeLLM) -> None:
    fake_llm.script(
        Reply(text="streamed words", tool_calls=Reply.tool("pick", {"n": 1}).tool_calls)
    )
    text, arguments, usage = "", "", None
    async with openai_client(fake_llm) as client:
        stream = await client.chat.completions.create(
            model="gpt-test",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        async for chunk in stream:
            if chunk.usage is not None:
                usage = chunk.usage
            for choice in chunk.choices:
                text += choice.delta.content or ""
                for call in choice.delta.tool_calls or []:
                    arguments += (call.function.arguments if call.function else None) or ""
    assert text == "streamed words"
    assert json.loads(arguments) == {"n": 1}
    assert usage is not None
    assert usage.total_tokens == 18


async def test_openai_error_status_reaches_the_client(fake_llm: FakeLLM) -> None:
    fake_llm.script(Reply.error(429, "slow down", headers={"retry-after": "1"}))
    async with openai_client(fake_llm) as client:
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(
                model="gpt-test", messages=[{"role": "user", "content": "hi"}]
            )
    assert caught.value.status_code == 429
    assert "slow down" in str(caught.value)


async def test_anthropic_message_text_tool_and_usage(fake_llm: FakeLLM) -> None:
    fake_llm.script(
        Reply(text="thinking aloud", tool_calls=Reply.tool("pick", {"a": 1}).tool_calls)
    )
    async with anthropic_client(fake_llm) as client:
        message = await client.messages.create(
            model="claude-test", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        )
    assert [block.type for block in message.content] == ["text", "tool_use"]
    assert message.content[1].input == {"a": 1}  # type: ignore[union-attr]
    assert message.stop_reason == "tool_use"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (11, 7)
    assert fake_llm.requests[0].path == "/v1/messages"


async def test_anthropic_stream_accumulates_the_message(fake_llm: FakeLLM) -> None:
    fake_llm.script(Reply(text="in pieces", tool_calls=Reply.tool("pick", {"k": "v"}).tool_calls))
    async with (
        anthropic_client(fake_llm) as client,
        client.messages.stream(
            model="claude-test", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        ) as stream,
    ):
        text = "".join([piece async for piece in stream.text_stream])
        message = await stream.get_final_message()
    assert text == "in pieces"
    assert message.content[1].input == {"k": "v"}  # type: ignore[union-attr]
    assert message.usage.output_tokens == 7


async def test_anthropic_error_status_reaches_the_client(fake_llm: FakeLLM) -> None:
    fake_llm.script(Reply.error(529, "overloaded"))
    async with anthropic_client(fake_llm) as client:
        with pytest.raises(anthropic.APIStatusError) as caught:
            await client.messages.create(
                model="claude-test", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
            )
    assert caught.value.status_code == 529


async def test_no_reply_left_is_a_418(fake_llm: FakeLLM) -> None:
    async with openai_client(fake_llm) as client:
        with pytest.raises(openai.APIStatusError) as caught:
            await client.chat.completions.create(
                model="gpt-test", messages=[{"role": "user", "content": "hi"}]
            )
    assert caught.value.status_code == 418


async def test_delay_holds_the_reply(fake_llm: FakeLLM) -> None:
    fake_llm.script(Reply.hang(5.0))
    async with openai_client(fake_llm) as client:
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(
                model="gpt-test", messages=[{"role": "user", "content": "hi"}], timeout=0.2
            )
