"""Task prompts RoboBrain 2.0 was trained to answer, one per spatial task.

The instruction wording matters to the model (it asks for a specific answer shape), so the templates
follow the phrasing RoboBrain 2.0's own inference uses for pointing / affordance / trajectory / grounding.
The planning template asks for a numbered list that :func:`~.parsers.parse_plan` reads.
"""

from __future__ import annotations

from enum import Enum


class Task(str, Enum):
    """RoboBrain spatial/planning tasks served by the task endpoints."""

    POINTING = "pointing"
    AFFORDANCE = "affordance"
    TRAJECTORY = "trajectory"
    GROUNDING = "grounding"
    PLANNING = "planning"


TEMPLATES: dict[Task, str] = {
    Task.POINTING: (
        "{text}. Your answer should be formatted as a list of tuples, i.e. [(x1, y1), (x2, y2), ...], where each "
        "tuple contains the x and y coordinates of a point satisfying the conditions above. The coordinates "
        "should indicate the normalized pixel locations of the points in the image."
    ),
    Task.AFFORDANCE: (
        'You are a robot using the joint control. The task is "{text}". '
        "Please predict a possible affordance area of the end effector."
    ),
    Task.TRAJECTORY: (
        'You are a robot using the joint control. The task is "{text}". Please predict up to 10 key trajectory '
        "points to complete the task. Your answer should be formatted as a list of tuples, i.e. "
        "[[x1, y1], [x2, y2], ...], where each tuple contains the x and y coordinates of a point."
    ),
    Task.GROUNDING: "Please provide the bounding box coordinate of the region this sentence describes: {text}.",
    Task.PLANNING: (
        'You are a robot. The task is "{text}". Look at the image and break the task into the sequence of '
        "sub-tasks needed to complete it. Answer with a numbered list, one sub-task per line, i.e. "
        "1. <sub-task>\n2. <sub-task>\n..."
    ),
}

MAX_TASK_TEXT = 2000


def task_prompt(task: Task | str, text: str) -> str:
    """The user instruction for ``task`` about ``text`` (the object, region or task description)."""
    task = Task(task)
    text = text.strip().rstrip(".")
    if not text:
        raise ValueError("task text is empty")
    if len(text) > MAX_TASK_TEXT:
        raise ValueError(f"task text longer than {MAX_TASK_TEXT} characters")
    return TEMPLATES[task].format(text=text)
