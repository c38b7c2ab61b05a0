"""Planners: the ``Planner`` protocol, the offline rule-based planner, the LLM planner, plan validation."""

from roboos.master.planning.base import Planner, PlanRequest
from roboos.master.planning.offline import OFFLINE_PLANNER_NAME, OfflinePlanner
from roboos.master.planning.validate import PlanValidationError, validate_plan

__all__ = [
    "OFFLINE_PLANNER_NAME",
    "OfflinePlanner",
    "PlanRequest",
    "PlanValidationError",
    "Planner",
    "validate_plan",
]
