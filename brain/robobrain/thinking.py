"""RoboBrain 2.0 thinking mode.

The 7B and 32B models reason in a ``<think> … </think>`` block and then answer inside
``<answer> … </answer>``; the 3B model answers directly. With thinking on, the prompt ends with ``<think>``
and the model writes its reasoning; with thinking off (on a thinking model) the prompt ends with an empty
``<think></think><answer>`` so the model answers at once.
"""

from __future__ import annotations

import re

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"


def supports_thinking(model_name: str, config: object | None = None) -> bool:
    """Whether a RoboBrain checkpoint was trained with thinking (7B/32B: yes; 3B: no).

    A config attribute ``roboos_thinking`` (bool) overrides the name-based rule.
    """
    override = getattr(config, "roboos_thinking", None) if config is not None else None
    if isinstance(override, bool):
        return override
    name = model_name.lower()
    if re.search(r"(?<!\d)3b", name):
        return False
    return bool(re.search(r"(?<!\d)(7|32)b", name)) and "robobrain" in name


def generation_prefix(thinking_model: bool, enable_thinking: bool) -> str:
    """Text appended after the chat template's assistant header."""
    if not thinking_model:
        return ""
    return THINK_OPEN if enable_thinking else f"{THINK_OPEN}{THINK_CLOSE}{ANSWER_OPEN}"


def split_thinking(text: str) -> tuple[str, str, bool]:
    """Split a model output into ``(thinking, answer, complete)``.

    Uses the same rules as :class:`ThinkingStreamSplitter` (so streamed and whole answers agree); a
    ``</think>`` with no ``<think>`` before it means the prompt opened the block. ``complete`` is False when
    a thinking block is still open at the end (the answer was never written).
    """
    close, open_ = text.find(THINK_CLOSE), text.find(THINK_OPEN)
    if close >= 0 and (open_ < 0 or open_ > close):
        text = THINK_OPEN + text
    splitter = ThinkingStreamSplitter()
    reasoning, content = splitter.feed(text)
    rest_r, rest_c = splitter.flush()
    return (reasoning + rest_r).strip(), (content + rest_c).strip(), not splitter.in_thinking


class ThinkingStreamSplitter:
    """Incrementally routes streamed text to ``reasoning`` or ``content`` (tags never leak out).

    ``in_thinking`` starts True when the prompt already ended with ``<think>``.
    """

    _TAGS = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)

    def __init__(self, in_thinking: bool = False) -> None:
        self.in_thinking = in_thinking
        self._pending = ""

    def feed(self, text: str) -> tuple[str, str]:
        """Add streamed text; returns ``(reasoning_delta, content_delta)`` that are safe to emit now."""
        self._pending += text
        reasoning, content = [], []
        while self._pending:
            idx, tag = min(((self._pending.find(t), t) for t in self._TAGS if t in self._pending),
                           default=(-1, ""))
            if idx < 0:
                keep = _partial_tag_suffix(self._pending)
                emit, self._pending = self._pending[: len(self._pending) - keep], self._pending[len(self._pending) - keep:]
                (reasoning if self.in_thinking else content).append(emit)
                break
            (reasoning if self.in_thinking else content).append(self._pending[:idx])
            self._pending = self._pending[idx + len(tag):]
            if tag == THINK_OPEN:
                self.in_thinking = True
            elif tag == THINK_CLOSE:
                self.in_thinking = False
        return "".join(reasoning), "".join(content)

    def flush(self) -> tuple[str, str]:
        """Whatever is still held back (a dangling partial tag) at the end of the stream."""
        rest, self._pending = self._pending, ""
        return (rest, "") if self.in_thinking else ("", rest)


def _partial_tag_suffix(text: str) -> int:
    """Length of the longest suffix of ``text`` that could start one of the tags."""
    best = 0
    for tag in ThinkingStreamSplitter._TAGS:
        for n in range(1, len(tag)):
            if text.endswith(tag[:n]):
                best = max(best, n)
    return best
