"""MCP both ways over stdio with the real mcp SDK: RoboOS skills served, a FastMCP-style server imported."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from roboos.skills.card import SkillCard
from roboos.skills.mcp_bridge import import_mcp_tools

ROBOOS2_SERVER = '''
from typing import Literal
from mcp.server.mcpserver import MCPServer

mcp = MCPServer("robot-skills")


@mcp.tool()
def navigate_to_target(target: str, speed: Literal["slow", "fast"] = "slow") -> str:
    """Navigate the robot base to a named target place."""
    return f"arrived at {target} ({speed})"


if __name__ == "__main__":
    mcp.run("stdio")
'''


def _params(*args: str):
    from mcp import StdioServerParameters

    return StdioServerParameters(command=sys.executable, args=list(args))


@pytest.mark.timeout(120)
def test_import_tools_from_fastmcp_style_server(tmp_path: Path) -> None:
    script = tmp_path / "robot_server.py"
    script.write_text(ROBOOS2_SERVER)

    async def scenario():
        specs = await import_mcp_tools(_params(str(script)), embodiments=["wheeled_base"])
        spec = {s.name: s for s in specs}["navigate_to_target"]
        card = SkillCard.from_spec(spec)
        result = await spec.run({"target": "kitchen", "speed": "fast"}, timeout=60)
        bad = await spec.run({"target": "kitchen", "speed": "warp"})
        return card, result, bad

    card, result, bad = asyncio.run(scenario())
    assert card.compact().startswith("navigate_to_target(target:str, speed:{slow|fast}=slow)")
    assert result.ok, result.error
    assert "arrived at kitchen (fast)" in str(result.value)
    assert not bad.ok and bad.error["code"] == "bad_arguments"  # validated before any MCP call


@pytest.mark.timeout(120)
def test_serve_roboos_skills_over_stdio() -> None:
    from mcp import Client

    async def scenario():
        async with Client(_params("-m", "roboos.skills.mcp_bridge", "--bench")) as client:
            tools = (await client.list_tools()).tools
            ok = await client.call_tool("wait", {"seconds": 0.1})
            bad = await client.call_tool("wait", {"seconds": -5})
        return tools, ok, bad

    tools, ok, bad = asyncio.run(scenario())
    assert len(tools) >= 150 and any(t.name == "pick_object" for t in tools)
    assert not ok.is_error
    assert bad.is_error and "bad arguments" in bad.content[0].text
