"""Parsers for RoboBrain 2.0 answers: points, boxes, trajectories and plans, with typed errors.

RoboBrain (Qwen2.5-VL family) writes coordinates as absolute pixels of the image it was shown, in a few
shapes: ``[(x, y), ...]`` tuples, ``[[x, y], ...]`` lists, ``[x1, y1, x2, y2]`` boxes, sometimes wrapped in
``<answer>`` tags, preceded by a ``<think>`` block, in a code fence or JSON (``{"point_2d": [x, y]}``,
``{"bbox_2d": [...]}``). Numbers may be floats; 3-tuples ``(x, y, d)`` carry a depth. Everything here
reads text only (never evaluates it); anything that does not yield the expected shape raises
:class:`AnswerParseError` with a stable ``code``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

from roboos.brain.robobrain.thinking import split_thinking

_NUM = r"[-+]?\d+(?:\.\d+)?"
_GROUP = re.compile(r"[\(\[]\s*(" + _NUM + r"(?:\s*,\s*" + _NUM + r")+)\s*[\)\]]")
_FENCE = re.compile(r"```(?:json|python|text)?\s*(.*?)```", re.DOTALL)


class AnswerParseError(ValueError):
    """The model's answer does not contain the structure the task asked for."""

    code = "answer_parse_error"

    def __init__(self, message: str, *, task: str, raw: str) -> None:
        super().__init__(message)
        self.task = task
        self.raw = raw


class TruncatedAnswerError(AnswerParseError):
    """The answer stops mid-structure (e.g. generation hit max_tokens)."""

    code = "answer_truncated"


class EmptyAnswerError(AnswerParseError):
    """The answer has no content (only thinking, or nothing at all)."""

    code = "answer_empty"


@dataclass(frozen=True)
class Point:
    """A pixel location in the original image."""

    x: float
    y: float

    def as_list(self) -> list[float]:
        return [self.x, self.y]


@dataclass(frozen=True)
class Box:
    """An axis-aligned pixel box ``(x1, y1)``–``(x2, y2)`` with x1 <= x2 and y1 <= y2."""

    x1: float
    y1: float
    x2: float
    y2: float

    def as_list(self) -> list[float]:
        return [self.x1, self.y1, self.x2, self.y2]


@dataclass(frozen=True)
class Waypoint:
    """A trajectory waypoint; ``depth`` only when the model gave ``(x, y, d)``."""

    x: float
    y: float
    depth: float | None = None

    def as_list(self) -> list[float]:
        return [self.x, self.y] if self.depth is None else [self.x, self.y, self.depth]


@dataclass(frozen=True)
class PlanStep:
    """One step of a plan answer."""

    index: int
    text: str


def answer_body(raw: str, task: str) -> str:
    """The answer part of a model output (thinking removed, answer tags and code fences unwrapped)."""
    if not isinstance(raw, str):
        raise AnswerParseError("answer is not text", task=task, raw=repr(raw))
    _thinking, answer, complete = split_thinking(raw)
    if not complete:
        raise TruncatedAnswerError("the thinking block never closed: no answer was produced", task=task, raw=raw)
    fence = _FENCE.search(answer)
    if fence:
        answer = fence.group(1)
    answer = answer.strip()
    if not answer:
        raise EmptyAnswerError("the answer is empty", task=task, raw=raw)
    return answer


def _check_balanced(body: str, task: str, raw: str) -> None:
    depth = 0
    for ch in body:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
    if depth > 0:
        raise TruncatedAnswerError("the answer ends inside an open bracket", task=task, raw=raw)


def _json_numbers(body: str, keys: tuple[str, ...]) -> list[list[float]] | None:
    """Coordinates from JSON answers like ``[{"point_2d": [x, y], "label": ...}]``."""
    start = body.find("{")
    if start < 0:
        return None
    text = body[body.find("[") if 0 <= body.find("[") < start else start:]
    try:
        data = json.loads(text)
    except ValueError:
        return None
    items = data if isinstance(data, list) else [data]
    out = []
    for item in items:
        if not isinstance(item, dict):
            return None
        for key in keys:
            value = item.get(key)
            if isinstance(value, list) and value and all(isinstance(v, (int, float)) for v in value):
                out.append([float(v) for v in value])
                break
    return out or None


def number_groups(raw: str, task: str, keys: tuple[str, ...] = ()) -> list[list[float]]:
    """Every bracketed group of numbers in the answer, in order (``(1, 2)``, ``[1, 2, 3, 4]`` ...)."""
    body = answer_body(raw, task)
    if keys:
        found = _json_numbers(body, keys)
        if found:
            return found
    _check_balanced(body, task, raw)
    groups = [[float(v) for v in re.split(r"\s*,\s*", m.group(1))] for m in _GROUP.finditer(body)]
    if not groups:
        raise AnswerParseError(f"no coordinates found in the {task} answer", task=task, raw=raw)
    return groups


def _check_finite(values: list[float], task: str, raw: str) -> None:
    if any(math.isnan(v) or abs(v) > 1e7 for v in values):
        raise AnswerParseError("coordinate out of range", task=task, raw=raw)


def parse_points(raw: str, task: str = "pointing") -> list[Point]:
    """Points from ``[(x1, y1), (x2, y2), ...]`` (or lists / JSON ``point_2d``)."""
    points = []
    for group in number_groups(raw, task, keys=("point_2d", "point", "coordinates")):
        if len(group) not in (2, 3):
            raise AnswerParseError(f"expected (x, y) points, got a group of {len(group)} numbers", task=task, raw=raw)
        _check_finite(group, task, raw)
        points.append(Point(group[0], group[1]))
    return points


def parse_boxes(raw: str, task: str = "grounding") -> list[Box]:
    """Boxes from ``[x1, y1, x2, y2]`` (one or several, or JSON ``bbox_2d``); corners are ordered."""
    boxes = []
    for group in number_groups(raw, task, keys=("bbox_2d", "bbox", "box")):
        if len(group) != 4:
            raise AnswerParseError(f"expected [x1, y1, x2, y2], got {len(group)} numbers", task=task, raw=raw)
        _check_finite(group, task, raw)
        x1, y1, x2, y2 = group
        boxes.append(Box(min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)))
    return boxes


def parse_trajectory(raw: str, task: str = "trajectory") -> list[Waypoint]:
    """Waypoints from ``[[x1, y1], [x2, y2], ...]`` / ``[(x, y), ...]`` / ``[(x, y, d), ...]``."""
    groups = number_groups(raw, task)
    if len(groups) == 1 and len(groups[0]) >= 4 and len(groups[0]) % 2 == 0:
        flat = groups[0]  # a flat list [x1, y1, x2, y2, ...]
        groups = [flat[i:i + 2] for i in range(0, len(flat), 2)]
    waypoints = []
    for group in groups:
        if len(group) not in (2, 3):
            raise AnswerParseError(f"expected (x, y[, d]) waypoints, got {len(group)} numbers", task=task, raw=raw)
        _check_finite(group, task, raw)
        waypoints.append(Waypoint(group[0], group[1], group[2] if len(group) == 3 else None))
    return waypoints


_STEP = re.compile(r"^\s*(?:(?:step\s*)?(\d+)\s*[\.\):\-]|[-*•])\s*(.+?)\s*$", re.IGNORECASE)


def parse_plan(raw: str, task: str = "planning") -> list[PlanStep]:
    """Steps from a numbered or bulleted list (``1. ...``, ``Step 2: ...``, ``- ...``) or a JSON list."""
    body = answer_body(raw, task)
    if body.startswith("["):
        try:
            data = json.loads(body)
        except ValueError as exc:
            _check_balanced(body, task, raw)
            raise AnswerParseError(f"plan is not valid JSON: {exc}", task=task, raw=raw) from exc
        texts = [d if isinstance(d, str) else (d.get("step") or d.get("action") or d.get("text"))
                 for d in data if isinstance(d, (str, dict))]
        steps = [PlanStep(i + 1, str(t).strip()) for i, t in enumerate(texts) if t]
    else:
        steps = []
        for line in body.splitlines():
            m = _STEP.match(line)
            if m and m.group(2).strip():
                steps.append(PlanStep(len(steps) + 1, m.group(2).strip()))
    if not steps:
        raise AnswerParseError("no plan steps found (expected a numbered list)", task=task, raw=raw)
    return steps


def scale_to_image(values: list[float], from_size: tuple[int, int], to_size: tuple[int, int]) -> list[float]:
    """Map alternating x/y pixel values from the model's input resolution to the original image's."""
    sx = to_size[0] / from_size[0]
    sy = to_size[1] / from_size[1]
    return [v * (sx if i % 2 == 0 else sy) for i, v in enumerate(values)]
