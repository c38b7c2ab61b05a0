"""The ``@skill`` decorator: plain Python functions become validated, schema-described robot skills.

A skill is an ordinary (sync or async) function with type hints and a Google-style docstring::

    @skill(embodiments=["arm", "mobile_manipulator"], timeout=20)
    def pick(robot: Robot, object: str, grip_force: Annotated[float, Field(ge=0, le=1)] = 0.5) -> dict:
        \"\"\"Pick up an object within reach.

        Args:
            object: name of the object to pick, as it appears in the scene.
            grip_force: fraction of the gripper's maximum force.
        \"\"\"

Parameters annotated with :class:`~roboos.robot.Robot` (or a subclass) or :class:`SkillContext` are
injected by the runtime and are not part of the skill's arguments; every other parameter becomes a
field of a pydantic argument model (``spec.args_model``) with a JSON schema (``spec.json_schema()``).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, get_args, get_origin, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from roboos.robot import Robot
from roboos.skills.docstrings import parse_docstring
from roboos.skills.errors import (
    SkillArgumentError,
    SkillCancelledError,
    SkillDefinitionError,
    SkillError,
    SkillFailedError,
    SkillTimeoutError,
)

SKILL_ATTR = "__roboos_skill__"


class SkillContext:
    """Per-call context handed to skills that ask for it: the robot, the call id and cancellation."""

    def __init__(self, robot: Robot | None = None, call_id: str = "", cancel_event: threading.Event | None = None):
        self.robot = robot
        self.call_id = call_id
        self.cancel_event = cancel_event or threading.Event()

    @property
    def cancelled(self) -> bool:
        """True once the call was cancelled or timed out; long-running skills should poll it."""
        return self.cancel_event.is_set()

    def check_cancelled(self) -> None:
        """Raise :class:`SkillCancelledError` if the call was cancelled."""
        if self.cancel_event.is_set():
            raise SkillCancelledError("skill call was cancelled", call_id=self.call_id)


class SkillResult(BaseModel):
    """The outcome of one skill call, as sent back to the cloud in a ``result`` message."""

    ok: bool
    value: Any = None
    error: dict[str, Any] | None = None  # {"code", "message", "details"} from a SkillError
    duration_s: float = 0.0

    @classmethod
    def failure(cls, err: SkillError, duration_s: float = 0.0) -> SkillResult:
        return cls(ok=False, error=err.to_dict(), duration_s=duration_s)


@dataclass(frozen=True)
class SkillSpec:
    """Everything the runtime knows about one skill; built by :func:`skill`."""

    name: str
    description: str  # one-line purpose (first paragraph of the docstring)
    doc: str
    version: str
    embodiments: tuple[str, ...]
    timeout: float
    func: Callable[..., Any]
    args_model: type[BaseModel]
    injected: Mapping[str, str]  # parameter name -> "robot" | "context"
    is_async: bool
    preconditions: tuple[str, ...] = ()
    effects: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    param_docs: Mapping[str, str] = field(default_factory=dict)

    def json_schema(self) -> dict[str, Any]:
        """The JSON schema of the skill's arguments (pydantic's, titles stripped for compactness)."""
        return _strip_titles(self.args_model.model_json_schema())

    def validate_args(self, args: Mapping[str, Any] | None) -> BaseModel:
        """Validate call arguments; raise :class:`SkillArgumentError` naming each bad argument."""
        if args is not None and not isinstance(args, Mapping):
            raise SkillArgumentError(
                f"arguments of skill '{self.name}' must be an object, got {type(args).__name__}",
                skill=self.name,
                errors=[{"arg": None, "problem": "not a mapping"}],
            )
        try:
            return self.args_model.model_validate(dict(args or {}))
        except ValidationError as exc:
            errors = [
                {"arg": ".".join(str(p) for p in e["loc"]) or None, "problem": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False)
            ]
            names = ", ".join(f"'{e['arg']}' ({e['problem']})" for e in errors)
            raise SkillArgumentError(
                f"bad arguments for skill '{self.name}': {names}", skill=self.name, errors=errors
            ) from None

    def supports(self, embodiment: str) -> bool:
        """True when the skill declares no embodiments or lists this one."""
        return not self.embodiments or embodiment in self.embodiments

    async def run(
        self,
        args: Mapping[str, Any] | None,
        *,
        robot: Robot | None = None,
        context: SkillContext | None = None,
        timeout: float | None = None,
    ) -> SkillResult:
        """Validate ``args``, run the skill with a timeout and turn every outcome into a result.

        Never raises for skill-level problems: bad arguments, exceptions inside the skill, timeouts
        and cancellation all come back as ``SkillResult(ok=False, error=...)``.
        """
        start = time.perf_counter()
        context = context or SkillContext(robot=robot)
        try:
            model = self.validate_args(args)
            kwargs = {name: getattr(model, name) for name in type(model).model_fields}
            for pname, kind in self.injected.items():
                kwargs[pname] = robot if kind == "robot" else context
            limit = self.timeout if timeout is None else timeout
            value = await asyncio.wait_for(self._invoke(kwargs), timeout=limit)
        except asyncio.TimeoutError:
            context.cancel_event.set()
            err = SkillTimeoutError(
                f"skill '{self.name}' overran its {self.timeout if timeout is None else timeout:g} s timeout "
                "and was cancelled",
                skill=self.name,
            )
            return SkillResult.failure(err, time.perf_counter() - start)
        except asyncio.CancelledError:
            context.cancel_event.set()
            raise
        except SkillError as err:
            return SkillResult.failure(err, time.perf_counter() - start)
        except Exception as exc:  # a skill's own failure becomes a result, never a crash of the agent
            err = SkillFailedError(f"{type(exc).__name__}: {exc}", skill=self.name, exception=type(exc).__name__)
            return SkillResult.failure(err, time.perf_counter() - start)
        return SkillResult(ok=True, value=_plain(value), duration_s=time.perf_counter() - start)

    async def _invoke(self, kwargs: dict[str, Any]) -> Any:
        if self.is_async:
            return await self.func(**kwargs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, functools.partial(self.func, **kwargs))


def skill(
    func: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    version: str = "1.0.0",
    embodiments: Sequence[str] = (),
    timeout: float = 30.0,
    preconditions: Sequence[str] = (),
    effects: Sequence[str] = (),
    tags: Sequence[str] = (),
) -> Any:
    """Turn a typed function into a skill. Usable bare (``@skill``) or with options (``@skill(...)``).

    The function itself is returned unchanged (it stays directly callable); its :class:`SkillSpec` is
    attached as ``func.__roboos_skill__`` and returned by :func:`get_spec`.
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        spec = build_spec(
            fn,
            name=name,
            version=version,
            embodiments=embodiments,
            timeout=timeout,
            preconditions=preconditions,
            effects=effects,
            tags=tags,
        )
        setattr(fn, SKILL_ATTR, spec)
        return fn

    return decorate(func) if func is not None else decorate


def get_spec(obj: Any) -> SkillSpec:
    """Return the :class:`SkillSpec` of a decorated function (or the spec itself)."""
    if isinstance(obj, SkillSpec):
        return obj
    spec = getattr(obj, SKILL_ATTR, None)
    if spec is None:
        raise SkillDefinitionError(f"{obj!r} is not a skill: decorate it with @skill")
    return spec


def build_spec(
    fn: Callable[..., Any],
    *,
    name: str | None = None,
    version: str = "1.0.0",
    embodiments: Sequence[str] = (),
    timeout: float = 30.0,
    preconditions: Sequence[str] = (),
    effects: Sequence[str] = (),
    tags: Sequence[str] = (),
) -> SkillSpec:
    """Build a :class:`SkillSpec` from a function's signature, type hints and docstring."""
    skill_name = name or fn.__name__
    if not callable(fn):
        raise SkillDefinitionError(f"skill '{skill_name}' is not callable")
    if timeout <= 0:
        raise SkillDefinitionError(f"skill '{skill_name}': timeout must be positive, got {timeout}")
    try:
        hints = get_type_hints(fn, include_extras=True)
    except Exception as exc:
        raise SkillDefinitionError(f"skill '{skill_name}': cannot resolve type hints: {exc}") from exc
    summary, body, param_docs = parse_docstring(fn.__doc__)
    fields: dict[str, Any] = {}
    injected: dict[str, str] = {}
    for pname, param in inspect.signature(fn).parameters.items():
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise SkillDefinitionError(f"skill '{skill_name}': *args/**kwargs are not allowed ('{pname}')")
        if pname not in hints:
            raise SkillDefinitionError(
                f"skill '{skill_name}': parameter '{pname}' has no type hint; every argument must be typed"
            )
        hint = hints[pname]
        kind = _injected_kind(hint)
        if kind:
            injected[pname] = kind
            continue
        default = ... if param.default is inspect.Parameter.empty else param.default
        description = param_docs.get(pname)
        fields[pname] = (hint, Field(default, description=description) if description else default)
    model = create_model(  # type: ignore[call-overload]
        f"{_camel(skill_name)}Args",
        __config__=ConfigDict(extra="forbid"),
        **fields,
    )
    return SkillSpec(
        name=skill_name,
        description=summary or skill_name.replace("_", " "),
        doc=body,
        version=version,
        embodiments=tuple(embodiments),
        timeout=float(timeout),
        func=fn,
        args_model=model,
        injected=injected,
        is_async=inspect.iscoroutinefunction(fn),
        preconditions=tuple(preconditions),
        effects=tuple(effects),
        tags=tuple(tags),
        param_docs=param_docs,
    )


def _injected_kind(hint: Any) -> str | None:
    if get_origin(hint) is Annotated:
        hint = get_args(hint)[0]
    if inspect.isclass(hint):
        if issubclass(hint, Robot):
            return "robot"
        if issubclass(hint, SkillContext):
            return "context"
    return None


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_")) or "Skill"


def _strip_titles(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _strip_titles(v) for k, v in schema.items() if k != "title"}
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    return schema


def _plain(value: Any) -> Any:
    """Make a skill's return value wire-friendly (pydantic models become dicts, tuples lists)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
