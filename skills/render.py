"""Renderings of a :class:`~roboos.skills.card.SkillCard`: flat parameters, tool JSON and compact text.

The compact form keeps every fact a planner needs to write a valid call — skill name, parameter names,
types, allowed values (enums), ranges, defaults and which parameters are optional — plus the one-line
purpose, declared preconditions/effects and embodiment tags, in a fraction of the tokens of the JSON::

    pick(object:str, force:float=0.5[0..1]) — Pick up an object within reach. [arm,mobile_manipulator]
    move_to(place:str, speed:{slow|normal|fast}=normal, timeout_s?:float) — Drive the base to a place.

Optional parameters without a default are written ``name?:type``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from roboos.skills.card import ParamCard, SkillCard

_JSON_TYPES = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "null": "None",
               "object": "dict", "array": "list"}


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Follow a local ``$ref`` (``#/$defs/Name``), merging sibling keys such as ``default``."""
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    target: Any = root
    for part in ref[2:].split("/"):
        target = target.get(part, {}) if isinstance(target, dict) else {}
    merged = dict(target) if isinstance(target, dict) else {}
    merged.update({k: v for k, v in schema.items() if k != "$ref"})
    return merged


def _nonnull(schema: dict[str, Any], root: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Strip ``null`` from an ``anyOf``/``type`` list: returns (schema of the real type, nullable)."""
    schema = _resolve(schema, root)
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list):
            real = [_resolve(o, root) for o in options if isinstance(o, dict) and o.get("type") != "null"]
            nullable = len(real) < len(options)
            if len(real) == 1:
                merged = {k: v for k, v in schema.items() if k != key}
                merged.update(real[0])
                return merged, nullable
            return schema, nullable
    typ = schema.get("type")
    if isinstance(typ, list) and "null" in typ:
        rest = [t for t in typ if t != "null"]
        return {**schema, "type": rest[0] if len(rest) == 1 else rest}, True
    return schema, False


def type_name(schema: dict[str, Any], root: dict[str, Any] | None = None) -> str:
    """A short type name for a JSON schema: ``str``, ``float``, ``list[str]``, ``float[3]``, ``{x:float}``."""
    root = root if root is not None else schema
    schema, nullable = _nonnull(schema, root)
    if "enum" in schema:
        return "{" + "|".join(str(v) for v in schema["enum"]) + "}"
    if "const" in schema:
        return json.dumps(schema["const"])
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            return "|".join(type_name(o, root) for o in schema[key] if o.get("type") != "null")
    typ = schema.get("type")
    if typ == "array":
        prefix = schema.get("prefixItems")
        if isinstance(prefix, list) and prefix:
            names = {type_name(p, root) for p in prefix}
            if len(names) == 1:
                return f"{names.pop()}[{len(prefix)}]"
            return "(" + ",".join(type_name(p, root) for p in prefix) + ")"
        items = schema.get("items")
        return f"list[{type_name(items, root)}]" if isinstance(items, dict) and items else "list"
    if typ == "object":
        props = schema.get("properties")
        if isinstance(props, dict) and props:
            return "{" + ",".join(f"{k}:{type_name(v, root)}" for k, v in props.items()) + "}"
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            return f"dict[str,{type_name(extra, root)}]"
        return "dict"
    if isinstance(typ, list):
        return "|".join(_JSON_TYPES.get(t, str(t)) for t in typ)
    return _JSON_TYPES.get(typ, "any") if typ else "any"


def params_from_schema(schema: dict[str, Any]) -> list[ParamCard]:
    """Flatten an object JSON schema (pydantic's or an MCP tool's ``inputSchema``) into parameters."""
    from roboos.skills.card import ParamCard

    props = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    out: list[ParamCard] = []
    for name, raw in props.items():
        if not isinstance(raw, dict):
            continue
        real, nullable = _nonnull(raw, schema)
        enum = real.get("enum")
        minimum, excl_min = real.get("minimum"), False
        if "exclusiveMinimum" in real and isinstance(real["exclusiveMinimum"], (int, float)):
            minimum, excl_min = real["exclusiveMinimum"], True
        maximum, excl_max = real.get("maximum"), False
        if "exclusiveMaximum" in real and isinstance(real["exclusiveMaximum"], (int, float)):
            maximum, excl_max = real["exclusiveMaximum"], True
        out.append(
            ParamCard(
                name=name,
                type="enum" if enum else type_name(real, schema),
                description=str(raw.get("description") or real.get("description") or ""),
                required=name in required,
                default=raw.get("default", real.get("default")),
                enum=list(enum) if isinstance(enum, list) else None,
                minimum=minimum,
                maximum=maximum,
                exclusive_minimum=excl_min,
                exclusive_maximum=excl_max,
                nullable=nullable,
            )
        )
    return out


def _num(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _range(param: ParamCard) -> str:
    if param.minimum is None and param.maximum is None:
        return ""
    if param.maximum is None:
        return f"[{'>' if param.exclusive_minimum else '>='}{_num(param.minimum)}]"  # type: ignore[arg-type]
    if param.minimum is None:
        return f"[{'<' if param.exclusive_maximum else '<='}{_num(param.maximum)}]"
    left = "(" if param.exclusive_minimum else "["
    right = ")" if param.exclusive_maximum else "]"
    return f"{left}{_num(param.minimum)}..{_num(param.maximum)}{right}"


def _default(value: Any) -> str:
    if isinstance(value, str):
        return value if value and value.replace("_", "").replace("-", "").isalnum() else json.dumps(value)
    if isinstance(value, float):
        return _num(value)
    return json.dumps(value, separators=(",", ":"))


def compact_param(param: ParamCard) -> str:
    """``name:type=default[range]``; enums as ``{a|b}``; optional-without-default as ``name?:type``."""
    typ = "{" + "|".join(str(v) for v in param.enum) + "}" if param.enum else param.type
    if param.nullable and (param.required or param.default is not None):
        typ += "|None"
    text = f"{param.name}:{typ}" if param.required or param.default is not None else f"{param.name}?:{typ}"
    if not param.required and param.default is not None:
        text += f"={_default(param.default)}"
    return text + _range(param)


def compact(card: SkillCard, *, embodiments: bool = True, robots: list[str] | None = None) -> str:
    """One line for planner prompts: signature, purpose, preconditions/effects, embodiments or robots."""
    sig = ", ".join(compact_param(p) for p in card.params())
    line = f"{card.name}({sig}) — {card.description.strip().rstrip('.')}."
    if card.preconditions:
        line += " Pre: " + "; ".join(card.preconditions) + "."
    if card.effects:
        line += " Effects: " + "; ".join(card.effects) + "."
    if robots:
        line += " @" + ",".join(robots)
    elif embodiments and card.embodiments:
        line += " [" + ",".join(card.embodiments) + "]"
    return line


def tool_json(card: SkillCard) -> dict[str, Any]:
    """The OpenAI tool-calling entry of a card; the description carries purpose, doc, pre/effects."""
    description = card.description
    if card.doc:
        description += "\n\n" + card.doc
    if card.preconditions:
        description += "\nPreconditions: " + "; ".join(card.preconditions)
    if card.effects:
        description += "\nEffects: " + "; ".join(card.effects)
    parameters = card.parameters or {"type": "object", "properties": {}}
    return {"type": "function", "function": {"name": card.name, "description": description,
                                             "parameters": parameters}}


def compact_block(cards: list[SkillCard], *, robots_by_skill: dict[str, list[str]] | None = None) -> str:
    """Several compact cards, one per line (optionally naming the robots that offer each skill)."""
    lines = []
    for card in cards:
        robots = (robots_by_skill or {}).get(card.name)
        lines.append(compact(card, robots=robots))
    return "\n".join(lines)
