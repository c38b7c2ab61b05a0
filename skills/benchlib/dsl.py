"""Build real ``@skill`` functions from compact catalogue lines.

One line describes one skill::

    pick_object | AMHD | Pick up an object within reach of the gripper. | Plans a grasp ... |
        object:str "name of the object"; grasp:{top|side|pinch}=top "grasp type"; force:float=0.5[0..1] "..."

Fields: name | embodiment letters (see :data:`EMBODIMENTS`) | one-line purpose | more docstring text |
parameters separated by ``;``, each ``name:type[=default][lo..hi] "description"``. Types: ``str``,
``int``, ``float``, ``bool``, ``list[str]``, ``list[float]``, ``float[3]`` (fixed-size tuple) and
``{a|b|c}`` (an enum, a ``Literal``). The result is an ordinary function with a typed signature and a
Google-style docstring, decorated with :func:`roboos.skills.skill` — the same path every robot skill
takes — so the catalogue exercises the real card, schema and validation code.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import Field
from roboos.skills.sdk import skill

from roboos.robot import Robot

EMBODIMENTS = {
    "A": "arm",
    "D": "dual_arm",
    "H": "humanoid",
    "W": "wheeled_base",
    "M": "mobile_manipulator",
    "Q": "quadruped",
    "U": "drone",
    "G": "gripper",
    "C": "camera",
}

_PARAM = re.compile(
    r'^\s*(?P<name>\w+)\s*:\s*(?P<type>\{[^}]*\}|[\w\[\]]+)\s*(?:=\s*(?P<default>"[^"]*"|\[[^\]]*\]|\([^)]*\)|[^\["\s]+))?\s*'
    r'(?:\[(?P<lo>-?[\d.]+)\.\.(?P<hi>-?[\d.]+)\])?\s*(?:"(?P<doc>[^"]*)")?\s*$'
)
_BASE_TYPES: dict[str, Any] = {"str": str, "int": int, "float": float, "bool": bool,
                               "list[str]": list[str], "list[float]": list[float]}


class CatalogError(ValueError):
    """A catalogue line cannot be parsed (the message names the line)."""


def _type_of(text: str) -> Any:
    if text.startswith("{"):
        values = tuple(v.strip() for v in text[1:-1].split("|"))
        return Literal[values]  # type: ignore[valid-type]
    fixed = re.fullmatch(r"(float|int)\[(\d+)\]", text)
    if fixed:
        base = _BASE_TYPES[fixed.group(1)]
        return tuple[(base,) * int(fixed.group(2))]  # type: ignore[misc]
    if text not in _BASE_TYPES:
        raise CatalogError(f"unknown parameter type '{text}'")
    return _BASE_TYPES[text]


def _default_of(text: str, typ: Any) -> Any:
    text = text.strip()
    if text.startswith('"'):
        return text[1:-1]
    if text == "[]":
        return []
    if typ is bool:
        return text.lower() == "true"
    if typ is int:
        return int(text)
    if typ is float:
        return float(text)
    if text.startswith(("(", "[")):
        return tuple(float(v) for v in text.strip("()[]").split(",") if v.strip())
    return text


def parse_line(line: str) -> dict[str, Any]:
    """Parse one catalogue line into ``name, embodiments, summary, detail, params``."""
    fields = [f.strip() for f in line.split("|", 4)]
    if len(fields) != 5:
        raise CatalogError(f"expected 5 '|'-separated fields: {line!r}")
    name, letters, summary, detail, params_text = fields
    try:
        embodiments = [EMBODIMENTS[ch] for ch in letters]
    except KeyError as exc:
        raise CatalogError(f"unknown embodiment letter {exc} in {line!r}") from None
    params = []
    for chunk in _split_params(params_text):
        match = _PARAM.match(chunk)
        if not match:
            raise CatalogError(f"bad parameter {chunk!r} in skill '{name}'")
        typ = _type_of(match.group("type"))
        default = match.group("default")
        params.append({
            "name": match.group("name"),
            "type": typ,
            "default": inspect.Parameter.empty if default is None else _default_of(default, typ),
            "range": (float(match.group("lo")), float(match.group("hi"))) if match.group("lo") else None,
            "doc": match.group("doc") or "",
        })
    return {"name": name, "embodiments": embodiments, "summary": summary, "detail": detail, "params": params}


def _split_params(text: str) -> list[str]:
    """Split on ``;`` outside double quotes."""
    out, current, quoted = [], [], False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == ";" and not quoted:
            out.append("".join(current))
            current = []
        else:
            current.append(ch)
    out.append("".join(current))
    return [c for c in out if c.strip()]


def make_skill(entry: dict[str, Any]) -> Callable[..., Any]:
    """A typed function for a parsed catalogue entry, decorated with ``@skill``.

    Calling it returns the command it would send to the robot's controller (skill, robot, arguments),
    which is what the benchmark and the tests check; the catalogue describes skills, it does not drive
    hardware.
    """
    name = entry["name"]

    def command(robot: Robot | None = None, **args: Any) -> dict[str, Any]:
        return {"skill": name, "robot": getattr(robot, "name", None), "args": args}

    parameters = [inspect.Parameter("robot", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Robot)]
    annotations: dict[str, Any] = {"robot": Robot}
    ordered = sorted(entry["params"], key=lambda p: p["default"] is not inspect.Parameter.empty)
    for p in ordered:
        hint = p["type"]
        if p["range"]:
            hint = Annotated[hint, Field(ge=p["range"][0], le=p["range"][1])]
        annotations[p["name"]] = hint
        parameters.append(inspect.Parameter(p["name"], inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                            default=p["default"], annotation=hint))
    annotations["return"] = dict
    doc = entry["summary"]
    if entry["detail"]:
        doc += "\n\n" + entry["detail"]
    if entry["params"]:
        doc += "\n\nArgs:\n" + "\n".join(f"    {p['name']}: {p['doc']}" for p in ordered)
    command.__name__ = command.__qualname__ = name
    command.__doc__ = doc
    command.__annotations__ = annotations
    command.__signature__ = inspect.Signature(parameters, return_annotation=dict)  # type: ignore[attr-defined]
    return skill(embodiments=entry["embodiments"], preconditions=entry.get("preconditions", ()),
                 effects=entry.get("effects", ()))(command)


def build_catalog(text: str, conditions: Callable[[str], tuple[list[str], list[str]]] | None = None,
                  ) -> list[Callable[..., Any]]:
    """Every non-blank, non-comment line of ``text`` as a skill function.

    ``conditions(name)`` may return the ``(preconditions, effects)`` to declare on each skill.
    """
    lines = [ln for ln in _join_continuations(text) if ln.strip() and not ln.lstrip().startswith("#")]
    funcs = []
    for line in lines:
        entry = parse_line(line)
        if conditions is not None:
            entry["preconditions"], entry["effects"] = conditions(entry["name"])
        funcs.append(make_skill(entry))
    return funcs


def _join_continuations(text: str) -> list[str]:
    """Lines indented deeper than the first column continue the previous line."""
    out: list[str] = []
    for raw in text.splitlines():
        if raw.startswith((" ", "\t")) and out and raw.strip():
            out[-1] += " " + raw.strip()
        else:
            out.append(raw)
    return out
