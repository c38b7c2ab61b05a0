"""RoboBrain answer parsers on recorded-style answers (written from RoboBrain 2.0's documented formats)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from roboos.brain.robobrain import parsers as P
from roboos.brain.robobrain.prompts import Task, task_prompt
from roboos.brain.robobrain.thinking import (
    ThinkingStreamSplitter,
    generation_prefix,
    split_thinking,
    supports_thinking,
)

# Answers in the shapes RoboBrain 2.0 produces (absolute pixels of a 640x480 frame).
POINTING_PLAIN = "[(376, 309), (402, 311), (389, 295)]"
POINTING_THINK = ("<think>The question asks for the free space between the two mugs. The left mug is near x=300, "
                  "the right one near x=470, so the gap is around x=385.</think><answer>[(386, 318)]</answer>")
POINTING_LISTS = "[[120, 45], [130, 50.5]]"
POINTING_JSON = '```json\n[\n  {"point_2d": [217, 110], "label": "handle"}\n]\n```'
AFFORDANCE = "[291, 178, 344, 247]"
GROUNDING_REVERSED = "<answer>[344, 247, 291, 178]</answer>"
GROUNDING_JSON = '[{"bbox_2d": [12, 40, 210, 233], "label": "person wearing a red hat"}]'
TRAJECTORY = "[[412, 258], [398, 231], [371, 206], [344, 190], [330, 187]]"
TRAJECTORY_TUPLES_DEPTH = "[(412, 258, 0.61), (398, 231, 0.58), (371, 206, 0.55)]"
PLAN_NUMBERED = ("1. Navigate to the kitchen counter.\n2. Pick up the red apple.\n3. Navigate to the table.\n"
                 "4. Place the apple in the bowl.")
PLAN_STEPS = "<think>plan it</think><answer>Step 1: open the fridge\nStep 2: take out the milk\n</answer>"
PLAN_JSON = '["walk to the door", {"action": "open the door"}]'


def test_points_in_all_shapes():
    assert [p.as_list() for p in P.parse_points(POINTING_PLAIN)] == [[376, 309], [402, 311], [389, 295]]
    assert P.parse_points(POINTING_THINK) == [P.Point(386, 318)]
    assert P.parse_points(POINTING_LISTS) == [P.Point(120, 45), P.Point(130, 50.5)]
    assert P.parse_points(POINTING_JSON) == [P.Point(217, 110)]


def test_boxes_order_corners_and_read_json():
    assert P.parse_boxes(AFFORDANCE, "affordance") == [P.Box(291, 178, 344, 247)]
    assert P.parse_boxes(GROUNDING_REVERSED) == [P.Box(291, 178, 344, 247)]
    assert P.parse_boxes(GROUNDING_JSON) == [P.Box(12, 40, 210, 233)]
    two = P.parse_boxes("[1, 2, 3, 4], [5, 6, 7, 8]")
    assert [b.as_list() for b in two] == [[1, 2, 3, 4], [5, 6, 7, 8]]


def test_trajectories_with_and_without_depth():
    assert next(w.as_list() for w in P.parse_trajectory(TRAJECTORY)) == [412, 258]
    assert len(P.parse_trajectory(TRAJECTORY)) == 5
    deep = P.parse_trajectory(TRAJECTORY_TUPLES_DEPTH)
    assert deep[0] == P.Waypoint(412, 258, 0.61) and deep[-1].depth == 0.55
    assert P.parse_trajectory("[10, 20, 30, 40]") == [P.Waypoint(10, 20), P.Waypoint(30, 40)]


def test_plans():
    assert [s.text for s in P.parse_plan(PLAN_NUMBERED)][1] == "Pick up the red apple."
    assert [s.index for s in P.parse_plan(PLAN_NUMBERED)] == [1, 2, 3, 4]
    assert [s.text for s in P.parse_plan(PLAN_STEPS)] == ["open the fridge", "take out the milk"]
    assert [s.text for s in P.parse_plan(PLAN_JSON)] == ["walk to the door", "open the door"]


@pytest.mark.parametrize("raw, parser, error", [
    ("[(376, 309), (40", P.parse_points, P.TruncatedAnswerError),          # cut at max_tokens
    ("<think>The mug is on the left, so", P.parse_points, P.TruncatedAnswerError),  # thinking never closed
    ("<think>hmm</think><answer></answer>", P.parse_points, P.EmptyAnswerError),
    ("", P.parse_boxes, P.EmptyAnswerError),
    ("I cannot see any mug in this image.", P.parse_points, P.AnswerParseError),
    ("[291, 178, 344]", P.parse_boxes, P.AnswerParseError),                  # a box needs 4 numbers
    ("[(1, 2, 3, 4, 5)]", P.parse_points, P.AnswerParseError),
    ("[[412, 258], [398, 231", P.parse_trajectory, P.TruncatedAnswerError),
    ("Sure! Here is the plan.", P.parse_plan, P.AnswerParseError),
    ('["walk", "open', P.parse_plan, P.TruncatedAnswerError),
])
def test_malformed_answers_raise_typed_errors(raw, parser, error):
    with pytest.raises(error) as info:
        parser(raw)
    assert info.value.raw == raw and info.value.code.startswith("answer_")


def test_never_evaluates_text():
    with pytest.raises(P.AnswerParseError):
        P.parse_points("__import__('os').system('true')")


def test_scale_to_image():
    assert P.scale_to_image([100, 50, 200, 100], (200, 100), (400, 300)) == [200, 150, 400, 300]


def test_thinking_split_and_prefix():
    assert split_thinking(POINTING_THINK)[1] == "[(386, 318)]"
    assert split_thinking("just the answer") == ("", "just the answer", True)
    assert split_thinking("reasoning only</think><answer>A</answer>") == ("reasoning only", "A", True)
    assert split_thinking("<think>unfinished") == ("unfinished", "", False)
    assert generation_prefix(True, True) == "<think>"
    assert generation_prefix(True, False) == "<think></think><answer>"
    assert generation_prefix(False, True) == ""
    assert supports_thinking("BAAI/RoboBrain2.0-7B") and supports_thinking("/models/RoboBrain2.0-32B")
    assert not supports_thinking("BAAI/RoboBrain2.0-3B") and not supports_thinking("Qwen/Qwen2.5-VL-7B")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=40))
def test_stream_splitter_matches_whole_text_split(cuts):
    text = POINTING_THINK
    splitter = ThinkingStreamSplitter()
    reasoning, content, pos = [], [], 0
    for n in cuts + [len(text)]:
        r, c = splitter.feed(text[pos:pos + n])
        reasoning.append(r)
        content.append(c)
        pos += n
        if pos >= len(text):
            break
    r, c = splitter.flush()
    want = split_thinking(text)
    assert "".join(reasoning + [r]).strip() == want[0] and "".join(content + [c]).strip() == want[1]


def test_task_prompts():
    assert task_prompt(Task.POINTING, "the mug.").startswith("the mug. Your answer should be formatted as a list of tuples")
    assert '"open the drawer"' in task_prompt("affordance", "open the drawer")
    assert "up to 10 key trajectory points" in task_prompt(Task.TRAJECTORY, "reach for the cup")
    assert task_prompt(Task.GROUNDING, "the red hat").endswith("describes: the red hat.")
    with pytest.raises(ValueError):
        task_prompt(Task.PLANNING, "   ")
    with pytest.raises(ValueError):
        task_prompt("dance", "x")
