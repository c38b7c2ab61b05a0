"""Plan validation: every plan, from any planner, is checked before a robot moves."""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter

import jsonschema

from roboos.master.models import Plan, PlanningError, RobotInfo


class PlanValidationError(PlanningError):
    """A plan is malformed; ``problems`` lists each problem in words a planner (or a person) can fix."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid plan: " + "; ".join(problems))


def validate_plan(plan: Plan, robots: list[RobotInfo]) -> Plan:
    """Check ids, robots (known, online), skills (offered by the robot), args (card schema) and the DAG.

    Returns the plan unchanged when valid; raises :class:`PlanValidationError` listing every problem.
    """
    problems: list[str] = []
    by_name = {r.name: r for r in robots}
    ids = [s.id for s in plan.steps]
    seen: set[str] = set()
    for step_id in ids:
        if step_id in seen:
            problems.append(f"duplicate step id '{step_id}'")
        seen.add(step_id)
    for step in plan.steps:
        where = f"step '{step.id}'"
        robot = by_name.get(step.robot)
        if robot is None:
            problems.append(f"{where}: unknown robot '{step.robot}' (robots: {', '.join(sorted(by_name)) or 'none'})")
        elif not robot.online:
            problems.append(f"{where}: robot '{step.robot}' is offline")
        else:
            card = robot.skill(step.skill)
            if card is None:
                offered = ", ".join(sorted(c.name for c in robot.skills)) or "none"
                problems.append(f"{where}: robot '{step.robot}' has no skill '{step.skill}' (it offers: {offered})")
            else:
                problems.extend(f"{where}: {p}" for p in _schema_problems(card.parameters, step.args, step.skill))
        for dep in step.depends_on:
            if dep not in seen:
                problems.append(f"{where}: depends on unknown step '{dep}'")
            elif dep == step.id:
                problems.append(f"{where}: depends on itself")
    if not problems:
        try:
            TopologicalSorter({s.id: set(s.depends_on) for s in plan.steps}).prepare()
        except CycleError as exc:
            problems.append(f"dependency cycle: {' -> '.join(map(str, exc.args[1]))}")
    if problems:
        raise PlanValidationError(problems)
    return plan


def _schema_problems(schema: dict, args: dict, skill: str) -> list[str]:
    if not schema:
        return []
    try:
        validator = jsonschema.Draft202012Validator(schema)
        errors = sorted(validator.iter_errors(args), key=lambda e: list(e.path))
    except jsonschema.SchemaError as exc:
        return [f"skill '{skill}' has an invalid argument schema: {exc.message}"]
    out = []
    for err in errors:
        arg = ".".join(str(p) for p in err.path)
        out.append(f"bad argument{' ' + repr(arg) if arg else 's'} for '{skill}': {err.message}")
    return out
