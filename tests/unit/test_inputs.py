"""What the first node of a run gets."""

from __future__ import annotations

from taskloom.workflows.inputs import first_node_input


def test_text_alone_is_given_as_text() -> None:
    assert first_node_input({"text": "hi", "files": []}) == "hi"
    assert first_node_input({"text": "hi", "user": None}) == "hi"
    # who asks is not what is asked: the xpander-sdk attaches a user to most calls
    assert first_node_input({"text": "hi", "user": {"email": "a@b.c"}}) == "hi"
    assert first_node_input({}) == ""


def test_anything_more_gives_the_whole_input() -> None:
    given = {"text": "hi", "files": ["u"], "user": {"email": "a@b.c"}, "ticket": 1}
    assert first_node_input(given) == given
    assert first_node_input({"ticket": 1}) == {"text": "", "ticket": 1}


def test_a_first_node_that_takes_text_gets_the_text() -> None:
    given = {"text": "hi", "user": {"email": "a@b.c"}}
    assert first_node_input(given, input_type="text") == "hi"
