"""Skills over ROS 2, both ways.

**RoboOS skills as ROS 2 services.** Each skill of a robot is served at ``<prefix>/<skill>`` (default
prefix ``/<robot>/skills``) with the generic JSON-in/JSON-out service type
``diagnostic_msgs/srv/AddDiagnostics`` (``string load_namespace`` → ``bool success, string message``):
the request string is the JSON object of arguments, validated against the skill's schema; the reply's
``success`` is the skill's ``ok`` and ``message`` is the JSON ``SkillResult`` (``ok``, ``value``, ``error``
with a stable ``code``, ``duration_s``). No custom ``.srv`` package is needed, so it works with the PyPI
wheels (``std_srvs`` has no string request; a RoboOS interface package would need a compiler).
``<prefix>_cards`` (same type, empty request) returns the robot's skill cards as JSON.

**Existing ROS 2 services as RoboOS skills.** ``ros_services`` entries of the robot options name a
service and its type (e.g. ``std_srvs/srv/SetBool``); the request's fields become the skill's typed
arguments and the response's fields its result value.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import logging
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

from roboos.edge.ros2.config import RosServiceSkill
from roboos.edge.ros2.errors import Ros2BridgeError, Ros2Unavailable
from roboos.skills.card import SkillCard
from roboos.skills.errors import SkillCancelledError
from roboos.skills.sdk import SkillContext, SkillResult, SkillSpec, build_spec

from roboos.robot import Robot

log = logging.getLogger("roboos.edge.ros2")

JSON_SERVICE_TYPE = "diagnostic_msgs/srv/AddDiagnostics"
_BASIC_TYPES: dict[str, type] = {
    "boolean": bool,
    "string": str,
    "wstring": str,
    "float": float,
    "double": float,
    "long double": float,
    "char": int,
    "octet": int,
    "byte": int,
    "int8": int,
    "uint8": int,
    "int16": int,
    "uint16": int,
    "int32": int,
    "uint32": int,
    "int64": int,
    "uint64": int,
}


def import_interface(type_name: str, kind: str = "srv") -> Any:
    """``"std_srvs/srv/Trigger"`` -> the class (``Ros2Unavailable`` naming the package when missing)."""
    package, sub, name = type_name.split("/")
    if sub != kind:
        raise Ros2BridgeError(f"{type_name!r} is not a {kind} type")
    try:
        return getattr(importlib.import_module(f"{package}.{sub}"), name)
    except (ImportError, AttributeError) as exc:
        raise Ros2Unavailable(
            f"ROS interface {type_name} is not installed ({exc}); install "
            f"ros-{package.replace('_', '-')} or source a ROS 2 installation"
        ) from exc


# ------------------------------------------------------------------------- RoboOS skills -> ROS 2
class SkillServiceHost:
    """Serves a robot's skills as ROS 2 services, on its own node (its waits never block the state stream)."""

    def __init__(self, context: Any, robot: Robot, specs: Sequence[SkillSpec], prefix: str) -> None:
        self.context = context
        self.robot = robot
        self.specs = {spec.name: spec for spec in specs}
        self.prefix = prefix.rstrip("/")
        self.node: Any = None
        self.calls = 0
        self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(
            target=self._loop.run_forever, name=f"ros2-skills-{robot.name}", daemon=True
        )

    def start(self) -> None:
        import rclpy
        from rclpy.callback_groups import ReentrantCallbackGroup
        from rclpy.executors import MultiThreadedExecutor

        srv_type = import_interface(JSON_SERVICE_TYPE)
        self._loop_thread.start()
        self.node = rclpy.create_node(f"roboos_{self.robot.name}_skills", context=self.context)
        group = ReentrantCallbackGroup()
        for name, spec in self.specs.items():
            self.node.create_service(
                srv_type,
                f"{self.prefix}/{name}",
                lambda req, resp, spec=spec: self._serve(spec, req, resp),
                callback_group=group,
            )
        self.node.create_service(srv_type, f"{self.prefix}_cards", self._cards, callback_group=group)
        self._executor = MultiThreadedExecutor(num_threads=4, context=self.context)
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, name=f"ros2-srv-{self.robot.name}", daemon=True)
        self._thread.start()
        log.info(
            "ROS 2 services for %d skills of %s under %s/", len(self.specs), self.robot.name, self.prefix
        )

    def _spin(self) -> None:
        try:
            self._executor.spin()
        except Exception:  # noqa: BLE001 - the context was shut down under the executor
            log.debug("skill service executor of %s stopped", self.robot.name, exc_info=True)

    def close(self) -> None:
        if self.node is not None:
            self._executor.shutdown(timeout_sec=1.0)
            self.node.destroy_node()
            self.node = None
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._loop_thread.join(2.0)

    def _cards(self, request: Any, response: Any) -> Any:
        response.success = True
        response.message = json.dumps(
            [SkillCard.from_spec(s).model_dump(mode="json") for s in self.specs.values()]
        )
        return response

    def _serve(self, spec: SkillSpec, request: Any, response: Any) -> Any:
        self.calls += 1
        result = self.call(spec, request.load_namespace)
        response.success = result.ok
        response.message = result.model_dump_json()
        return response

    def call(self, spec: SkillSpec, args_json: str) -> SkillResult:
        """Run ``spec`` with JSON arguments (bad JSON -> a ``bad_arguments`` failure, like bad args)."""
        try:
            args = json.loads(args_json) if args_json.strip() else {}
        except json.JSONDecodeError as exc:
            return SkillResult(
                ok=False,
                error={"code": "bad_arguments", "message": f"request is not JSON: {exc}", "details": {}},
            )
        if not isinstance(args, dict):
            return SkillResult(
                ok=False,
                error={
                    "code": "bad_arguments",
                    "details": {},
                    "message": "request must be a JSON object of arguments",
                },
            )
        context = SkillContext(robot=self.robot, call_id=f"ros2-{uuid.uuid4().hex[:12]}")
        future = asyncio.run_coroutine_threadsafe(
            spec.run(args, robot=self.robot, context=context), self._loop
        )
        try:
            return future.result(timeout=spec.timeout + 5.0)
        except TimeoutError:
            context.cancel_event.set()
            future.cancel()
            return SkillResult(
                ok=False,
                error={
                    "code": "timeout",
                    "details": {},
                    "message": f"skill '{spec.name}' did not finish in time",
                },
            )


# ------------------------------------------------------------------------- ROS 2 services -> skills
def _python_type(ros_type: str) -> Any:
    if ros_type.startswith("sequence<") or ros_type.endswith("]"):
        inner = ros_type.removeprefix("sequence<").split(",")[0].rstrip(">").split("[")[0]
        return list[_python_type(inner)]  # type: ignore[misc]
    base = ros_type.split("<")[0]  # bounded strings: string<=10
    if base in _BASIC_TYPES:
        return _BASIC_TYPES[base]
    return dict[str, Any]  # a nested message, filled field by field


def fill_message(msg: Any, values: dict[str, Any]) -> Any:
    """Set ``msg``'s fields from a dict (nested dicts fill nested messages); unknown field: ``ValueError``."""
    fields = msg.get_fields_and_field_types()
    for name, value in values.items():
        if name not in fields:
            raise ValueError(f"{type(msg).__name__} has no field '{name}' (fields: {', '.join(fields)})")
        current = getattr(msg, name)
        if isinstance(value, dict) and hasattr(current, "get_fields_and_field_types"):
            fill_message(current, value)
        else:
            try:
                setattr(msg, name, value)
            except (AssertionError, TypeError, ValueError) as exc:
                raise ValueError(f"field '{name}': {exc}") from None
    return msg


def message_to_dict(msg: Any) -> Any:
    """A ROS message as plain JSON-able data."""
    if hasattr(msg, "get_fields_and_field_types"):
        return {name: message_to_dict(getattr(msg, name)) for name in msg.get_fields_and_field_types()}
    if isinstance(msg, (bytes, bytearray)):
        return list(msg)
    if hasattr(msg, "tolist"):
        return msg.tolist()
    if isinstance(msg, (list, tuple)):
        return [message_to_dict(v) for v in msg]
    return msg


def ros_service_skill(cfg: RosServiceSkill, node_provider: Any) -> SkillSpec:
    """A skill calling the ROS 2 service ``cfg.service``; ``node_provider()`` returns the live rclpy node."""
    srv_type = import_interface(cfg.type)
    defaults = srv_type.Request()
    params = []
    annotations: dict[str, Any] = {}
    for name, ros_type in srv_type.Request.get_fields_and_field_types().items():
        annotations[name] = _python_type(ros_type)
        default = message_to_dict(getattr(defaults, name))
        params.append(
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotations[name]
            )
        )
    params.append(inspect.Parameter("context", inspect.Parameter.KEYWORD_ONLY, annotation=SkillContext))
    annotations["context"] = SkillContext

    def call_service(**kwargs: Any) -> dict[str, Any]:
        context: SkillContext = kwargs.pop("context")
        node = node_provider()
        client = node.create_client(srv_type, cfg.service)
        try:
            deadline = time.monotonic() + cfg.timeout_s
            while not client.service_is_ready():
                if time.monotonic() > deadline:
                    raise Ros2BridgeError(f"ROS 2 service {cfg.service} is not available")
                context.check_cancelled()
                time.sleep(0.02)
            future = client.call_async(fill_message(srv_type.Request(), kwargs))
            while not future.done():
                if context.cancel_event.is_set():
                    future.cancel()
                    raise SkillCancelledError(f"call of {cfg.service} cancelled", call_id=context.call_id)
                if time.monotonic() > deadline:
                    future.cancel()
                    raise Ros2BridgeError(
                        f"ROS 2 service {cfg.service} did not answer in {cfg.timeout_s:g} s"
                    )
                time.sleep(0.005)
            return message_to_dict(future.result())
        finally:
            node.destroy_client(client)

    call_service.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    call_service.__annotations__ = {**annotations, "return": dict[str, Any]}
    call_service.__doc__ = cfg.description or f"Call the ROS 2 service {cfg.service} ({cfg.type})."
    call_service.__name__ = cfg.skill
    return build_spec(call_service, name=cfg.skill, timeout=cfg.timeout_s + 1.0, tags=["ros2", "service"])
