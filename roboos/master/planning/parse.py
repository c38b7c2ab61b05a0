"""Instruction parsing for the offline rule-based planner: English clauses -> symbolic goals.

Understood forms (articles, "please" and punctuation are ignored; clauses are joined by "and", "then",
commas or semicolons): ``put|place|move|bring|take|carry|deliver X on|onto|in|into|to Y``,
``pick up|grab|get|fetch X``, ``go|navigate|drive to Y``, ``open|close Y``. ``it``/``them`` refer to the
last object mentioned. Object and place phrases are resolved against the world snapshot.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any, Literal

from roboos.master.models import PlanningError

GoalKind = Literal["move", "pick", "goto", "open", "close"]

UNDERSTOOD = (
    "put/bring/move X on/in/to Y, pick up X, go to Y, open/close Y "
    "(clauses joined by 'and', 'then' or commas)"
)

_FILLER = r"(?:please\s+|could you\s+|can you\s+|now\s+|also\s+|first\s+|finally\s+)*"
_MOVE_VERBS = r"put|place|move|bring|take|carry|deliver|set|drop|return|transfer"
_PREP = r"on top of|onto|on|into|inside|in|to|at"
_PATTERNS: list[tuple[GoalKind, re.Pattern[str]]] = [
    ("goto", re.compile(rf"^{_FILLER}(?:go|navigate|drive|move|head)\s+(?:over\s+)?to\s+(?P<place>.+)$")),
    ("move", re.compile(rf"^{_FILLER}(?:{_MOVE_VERBS})\s+(?P<obj>.+?)\s+(?:{_PREP})\s+(?P<place>.+)$")),
    ("pick", re.compile(rf"^{_FILLER}(?:pick\s+up|pick|grab|grasp|get|fetch|lift)\s+(?P<obj>.+?)(?:\s+up)?$")),
    ("open", re.compile(rf"^{_FILLER}open\s+(?P<place>.+)$")),
    ("close", re.compile(rf"^{_FILLER}(?:close|shut)\s+(?P<place>.+)$")),
]
_SPLIT = re.compile(r"\s*(?:[,;.!]|\band then\b|\bthen\b|\bafter that\b|\band\b)\s*")
_ARTICLES = {"the", "a", "an", "my", "some", "this", "that", "your"}
_PRONOUNS = {"it", "them", "that one", "this one"}


@dataclass(frozen=True)
class Goal:
    """One thing the instruction asks for, with resolved scene names."""

    kind: GoalKind
    clause: str
    object: str | None = None
    place: str | None = None


def parse_instruction(instruction: str, world: dict[str, Any]) -> list[Goal]:
    """Split ``instruction`` into clauses and resolve each one to a :class:`Goal`.

    Raises :class:`PlanningError` for a clause it cannot parse, an unknown object or place, or an
    ambiguous reference (the message lists the candidates).
    """
    text = " ".join(instruction.lower().replace("-", " ").split())
    clauses = [c.strip() for c in _SPLIT.split(text) if c and c.strip()]
    if not clauses:
        raise PlanningError("empty instruction")
    resolver = _Resolver(world)
    goals: list[Goal] = []
    last_object: str | None = None
    for clause in clauses:
        kind, groups = _match(clause)
        obj = place = None
        if "obj" in groups:
            phrase = re.sub(r"\s+from\s+.+$", "", groups["obj"])
            if _strip(phrase) in _PRONOUNS:
                if last_object is None:
                    raise PlanningError(f"'{clause}': '{phrase}' refers to no object mentioned before")
                obj = last_object
            else:
                obj = resolver.object(phrase, clause)
            last_object = obj
        if "place" in groups:
            place = resolver.place(groups["place"], clause)
        goals.append(Goal(kind=kind, clause=clause, object=obj, place=place))
    return goals


def _match(clause: str) -> tuple[GoalKind, dict[str, str]]:
    for kind, pattern in _PATTERNS:
        m = pattern.match(clause)
        if m:
            return kind, {k: v for k, v in m.groupdict().items() if v}
    raise PlanningError(f"the offline rule-based planner cannot parse '{clause}'; it understands: {UNDERSTOOD}")


def _strip(phrase: str) -> str:
    words = [w for w in re.sub(r"[^a-z0-9_ ]", " ", phrase).split() if w not in _ARTICLES]
    return " ".join(words)


class _Resolver:
    """Resolves noun phrases to scene names by exact alias, then by unique word-subset match."""

    def __init__(self, world: dict[str, Any]) -> None:
        self.objects = {name: _object_aliases(name, info) for name, info in world.get("objects", {}).items()}
        self.places = {name: {name.replace("_", " "), name} for name in world.get("places", {})}

    def object(self, phrase: str, clause: str) -> str:
        return self._resolve(phrase, clause, self.objects, "object")

    def place(self, phrase: str, clause: str) -> str:
        return self._resolve(phrase, clause, self.places, "place")

    def _resolve(self, phrase: str, clause: str, table: dict[str, set[str]], what: str) -> str:
        key = _strip(phrase)
        exact = sorted(n for n, aliases in table.items() if key in aliases)
        if len(exact) == 1:
            return exact[0]
        words = set(key.split())
        partial = exact or sorted(n for n, aliases in table.items() if words and any(words <= set(a.split()) for a in aliases))
        if len(partial) == 1:
            return partial[0]
        if len(partial) > 1:
            raise PlanningError(f"'{clause}': '{key}' is ambiguous, it could be any {what} of: {', '.join(partial)}")
        names = sorted(table)
        close = difflib.get_close_matches(key.replace(" ", "_"), names, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise PlanningError(f"'{clause}': no {what} called '{key}' in the scene ({what}s: {', '.join(names)}){hint}")


def _object_aliases(name: str, info: dict[str, Any]) -> set[str]:
    aliases = {name, name.replace("_", " ")}
    kind, color = str(info.get("kind", "")).replace("_", " "), str(info.get("color", ""))
    if kind:
        aliases.add(kind)
        if color:
            aliases.add(f"{color} {kind}")
    return aliases
