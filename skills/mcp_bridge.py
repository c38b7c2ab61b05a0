"""MCP interop with the real ``mcp`` SDK (2.x): RoboOS skills as an MCP server, MCP tools as RoboOS skills.

* :func:`skills_mcp_server` exposes a :class:`SkillRegistry` (one robot's skills) as an MCP server; run it
  over stdio with ``python -m roboos.skills.mcp_bridge --module my_skills`` (or ``--bench`` for the
  benchmark library). Tool calls are validated and run exactly like channel calls (``SkillSpec.run``).
* :func:`import_mcp_tools` lists the tools of an existing MCP server (e.g. a RoboOS 2.0 robot's FastMCP
  skill server) and turns each into a :class:`SkillSpec` whose argument model is built from the tool's
  ``inputSchema``; running the skill calls the tool over a fresh MCP session.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import ConfigDict, Field, create_model
from roboos.skills.card import SkillCard
from roboos.skills.errors import SkillFailedError
from roboos.skills.registry import SkillRegistry
from roboos.skills.sdk import SKILL_ATTR, SkillSpec

from roboos.robot import Robot

_JSON_PY: dict[str, Any] = {"string": str, "integer": int, "number": float, "boolean": bool,
                            "array": list, "object": dict}


def skills_mcp_server(registry: SkillRegistry, *, robot: Robot | None = None, name: str = "roboos-skills") -> Any:
    """An ``mcp.server.Server`` listing the registry's skills as tools and running them on ``robot``."""
    import mcp_types as types
    from mcp.server import Server

    def tool_of(spec: SkillSpec) -> Any:
        card = SkillCard.from_spec(spec)
        return types.Tool(name=card.name, description=card.tool_json()["function"]["description"],
                          input_schema=card.parameters or {"type": "object", "properties": {}})

    async def on_list_tools(ctx: Any, params: Any) -> Any:
        return types.ListToolsResult(tools=[tool_of(spec) for spec in registry])

    async def on_call_tool(ctx: Any, params: Any) -> Any:
        result = await registry.call(params.name, params.arguments or {}, robot=robot)
        payload = result.value if result.ok else result.error
        return types.CallToolResult(content=[types.TextContent(type="text", text=json.dumps(payload, default=str))],
                                    structured_content={"result": payload}, is_error=not result.ok)

    def input_schema(tool_name: str) -> dict[str, Any] | None:
        return registry.get(tool_name).json_schema() if tool_name in registry else None

    return Server(name, version="1", on_list_tools=on_list_tools, on_call_tool=on_call_tool,
                  get_tool_input_schema=input_schema)


async def serve_stdio(registry: SkillRegistry, *, robot: Robot | None = None) -> None:
    """Serve the registry over stdio until the client closes the pipe."""
    from mcp.server.stdio import stdio_server

    server = skills_mcp_server(registry, robot=robot)
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


# --------------------------------------------------------------------------- MCP tools -> skills
def _field_type(schema: dict[str, Any]) -> Any:
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return Literal[tuple(schema["enum"])]  # type: ignore[valid-type]
    typ = schema.get("type")
    if isinstance(typ, list):
        real = [t for t in typ if t != "null"]
        base = _JSON_PY.get(real[0], Any) if real else Any
        return base | None if "null" in typ else base
    if typ == "array" and isinstance(schema.get("items"), dict):
        return list[_field_type(schema["items"])]  # type: ignore[misc]
    if "anyOf" in schema:
        options = [o for o in schema["anyOf"] if isinstance(o, dict) and o.get("type") != "null"]
        base = _field_type(options[0]) if len(options) == 1 else Any
        return base | None if len(options) < len(schema["anyOf"]) else base
    return _JSON_PY.get(typ, Any)


def model_from_schema(tool_name: str, schema: dict[str, Any]) -> type:
    """A pydantic argument model for a JSON object schema (types, enums, ranges, defaults, docs)."""
    required = set(schema.get("required") or [])
    fields: dict[str, Any] = {}
    for pname, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, dict) or not pname.isidentifier():
            continue
        limits = {key: prop[src] for key, src in (("ge", "minimum"), ("le", "maximum"), ("gt", "exclusiveMinimum"),
                                                  ("lt", "exclusiveMaximum")) if isinstance(prop.get(src), (int, float))}
        default = ... if pname in required else prop.get("default")
        fields[pname] = (_field_type(prop), Field(default, description=prop.get("description"), **limits))
    extra = "forbid" if schema.get("additionalProperties") is False else "ignore"
    return create_model(f"{tool_name.title().replace('_', '')}McpArgs", __config__=ConfigDict(extra=extra), **fields)


def spec_from_tool(tool: Any, server: Any, *, embodiments: Sequence[str] = (), version: str = "1.0.0",
                   timeout: float = 30.0) -> SkillSpec:
    """A :class:`SkillSpec` for one MCP tool; running it calls the tool on ``server`` (a ``Client`` target)."""
    from mcp import Client

    description = (tool.description or tool.name).strip()
    summary = description.split("\n\n")[0].replace("\n", " ").strip()
    name = tool.name

    async def call_tool(**kwargs: Any) -> Any:
        async with Client(server) as client:
            result = await client.call_tool(name, kwargs)
        if result.is_error:
            texts = " ".join(getattr(c, "text", "") for c in result.content)
            raise SkillFailedError(f"MCP tool '{name}' failed: {texts}", skill=name)
        if result.structured_content is not None:
            data = result.structured_content
            return data.get("result", data) if isinstance(data, dict) and len(data) == 1 else data
        texts = [getattr(c, "text", None) for c in result.content]
        return texts[0] if len(texts) == 1 else texts

    call_tool.__name__ = name
    spec = SkillSpec(name=name, description=summary, doc=description, version=version,
                     embodiments=tuple(embodiments), timeout=timeout, func=call_tool,
                     args_model=model_from_schema(name, tool.input_schema or {}), injected={}, is_async=True)
    setattr(call_tool, SKILL_ATTR, spec)
    return spec


async def import_mcp_tools(server: Any, **options: Any) -> list[SkillSpec]:
    """Every tool of an MCP server as a RoboOS skill. ``server``: a URL, ``StdioServerParameters`` or Server."""
    from mcp import Client

    async with Client(server) as client:
        tools = (await client.list_tools()).tools
    return [spec_from_tool(tool, server, **options) for tool in tools]


def main(argv: list[str] | None = None) -> None:
    """``python -m roboos.skills.mcp_bridge --module pkg.mod`` or ``--bench``: serve skills over stdio."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--module", action="append", default=[], help="module with @skill functions")
    parser.add_argument("--bench", action="store_true", help="serve the benchmark skill library")
    args = parser.parse_args(argv)
    registry = SkillRegistry()
    if args.bench:
        from roboos.skills.benchlib import bench_skills

        for func in bench_skills():
            registry.register(func)
    for module_name in args.module:
        module = importlib.import_module(module_name)
        for value in vars(module).values():
            if isinstance(getattr(value, SKILL_ATTR, None), SkillSpec):
                registry.register(value)
    asyncio.run(serve_stdio(registry))


if __name__ == "__main__":
    main()
