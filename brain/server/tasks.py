"""RoboBrain task endpoints: pointing, affordance, trajectory, grounding, planning.

Each takes an image and a text, asks the model with RoboBrain's task prompt, parses the answer into typed
results and maps pixel coordinates from the resolution the vision tower saw back to the original image.
"""

from __future__ import annotations

from typing import Protocol

from roboos.brain.robobrain import parsers
from roboos.brain.robobrain.images import ImageLimits, load_image, to_data_url
from roboos.brain.robobrain.prompts import Task, task_prompt
from roboos.brain.server.schemas import ChatCompletionRequest, TaskRequest

DEFAULT_TASK_TOKENS = {Task.POINTING: 256, Task.AFFORDANCE: 128, Task.TRAJECTORY: 384, Task.GROUNDING: 128,
                       Task.PLANNING: 768}


class ChatBackend(Protocol):
    name: str

    async def chat(self, req: ChatCompletionRequest) -> dict: ...

    def vision_input_size(self, size: tuple[int, int]) -> tuple[int, int]: ...


def _clamp(values: list[float], size: tuple[int, int]) -> list[float]:
    return [min(max(v, 0.0), float(size[i % 2] - 1)) for i, v in enumerate(values)]


def _to_image(values: list[float], seen: tuple[int, int], size: tuple[int, int]) -> list[float]:
    return [round(v, 1) for v in _clamp(parsers.scale_to_image(values, seen, size), size)]


def structure(task: Task, content: str, seen: tuple[int, int], size: tuple[int, int]) -> dict:
    """Parse ``content`` for ``task``; coordinates in original-image pixels (raises AnswerParseError)."""
    if task is Task.POINTING:
        return {"points": [_to_image(p.as_list(), seen, size) for p in parsers.parse_points(content, task.value)]}
    if task in (Task.AFFORDANCE, Task.GROUNDING):
        return {"boxes": [_to_image(b.as_list(), seen, size) for b in parsers.parse_boxes(content, task.value)]}
    if task is Task.TRAJECTORY:
        waypoints = []
        for w in parsers.parse_trajectory(content, task.value):
            xy = _to_image([w.x, w.y], seen, size)
            waypoints.append(xy if w.depth is None else xy + [w.depth])
        return {"trajectory": waypoints}
    return {"steps": [s.text for s in parsers.parse_plan(content, task.value)]}


async def run_task(backend: ChatBackend, task: Task, body: TaskRequest, limits: ImageLimits,
                   enable_thinking_default: bool) -> dict:
    """Run one task request end to end; returns the JSON response body."""
    image = load_image(body.image, limits)
    prompt = task_prompt(task, body.text)
    url = body.image if body.image.startswith("data:") else to_data_url(image)
    thinking = enable_thinking_default if body.enable_thinking is None else body.enable_thinking
    req = ChatCompletionRequest(
        model=body.model or backend.name, temperature=body.temperature,
        max_tokens=body.max_tokens or DEFAULT_TASK_TOKENS[task] + (1024 if thinking else 0),
        messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                               {"type": "text", "text": prompt}]}],
        chat_template_kwargs={"enable_thinking": thinking})
    response = await backend.chat(req)
    choice = response["choices"][0]
    message = choice["message"]
    content = message.get("content") or ""
    size = image.size
    seen = backend.vision_input_size(size)
    result = {"task": task.value, "text": body.text, "model": response.get("model", backend.name),
              "image_size": list(size), "model_input_size": list(seen), "answer": content,
              "thinking": message.get("reasoning_content") or "", "finish_reason": choice.get("finish_reason"),
              "usage": response.get("usage")}
    try:
        result.update(structure(task, content, seen, size))
    except parsers.AnswerParseError as exc:
        if choice.get("finish_reason") == "length" and not isinstance(exc, parsers.TruncatedAnswerError):
            raise parsers.TruncatedAnswerError(f"{exc} (the answer was cut at max_tokens)", task=task.value,
                                               raw=content) from exc
        raise
    if body.annotate:
        from roboos.brain.robobrain.annotate import annotate

        result["annotated_image"] = to_data_url(annotate(image, result))
    return result
