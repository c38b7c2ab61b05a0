"""The ``RoboOS`` gRPC service: validates requests, calls the master, converts its models to protobuf.

Status codes: an unknown task id -> ``NOT_FOUND``; an empty or oversized instruction or a malformed task
id -> ``INVALID_ARGUMENT``; a request the master refuses in its current state -> ``FAILED_PRECONDITION``;
anything unexpected -> ``INTERNAL`` (logged with its traceback; the server keeps serving).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, NoReturn

import grpc

from roboos.controlplane import convert
from roboos.controlplane.gen import control_pb2 as pb
from roboos.controlplane.gen import control_pb2_grpc as pb_grpc
from roboos.master.models import MasterError, UnknownTaskError

if TYPE_CHECKING:
    from roboos.master.master import Master

log = logging.getLogger(__name__)

MAX_INSTRUCTION_CHARS = 4000
TASK_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class _Abort(Exception):
    """Raised inside a handler to end the call with a status code and a message."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _status_of(exc: Exception) -> tuple[grpc.StatusCode, str]:
    if isinstance(exc, _Abort):
        return exc.code, exc.message
    if isinstance(exc, UnknownTaskError):
        return grpc.StatusCode.NOT_FOUND, str(exc)
    if isinstance(exc, KeyError):
        return grpc.StatusCode.NOT_FOUND, str(exc.args[0]) if exc.args else "not found"
    if isinstance(exc, convert.ConversionError | ValueError):
        return grpc.StatusCode.INVALID_ARGUMENT, str(exc)
    if isinstance(exc, MasterError):
        return grpc.StatusCode.FAILED_PRECONDITION, str(exc)
    log.exception("control plane: unexpected error", exc_info=exc)
    return grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}: {exc}"


@contextlib.contextmanager
def _mapped_errors() -> Iterator[None]:
    """Turn master exceptions into ``_Abort`` with the matching status code."""
    try:
        yield
    except _Abort:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure becomes a clear status, the server keeps serving
        code, message = _status_of(exc)
        raise _Abort(code, message) from exc


def _task_id(value: str) -> str:
    if not TASK_ID_PATTERN.match(value):
        shown = value if len(value) <= 70 else value[:67] + "..."
        raise _Abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"task_id {shown!r} is malformed: use 1-64 characters of A-Z a-z 0-9 _ . -",
        )
    return value


async def _abort(context: grpc.aio.ServicerContext, exc: _Abort) -> NoReturn:
    await context.abort(exc.code, exc.message)
    raise AssertionError("unreachable")  # context.abort always raises


class RoboOSServicer(pb_grpc.RoboOSServicer):
    """Serves one :class:`~roboos.master.master.Master` over gRPC (grpc.aio, on the master's loop)."""

    def __init__(self, master: Master) -> None:
        self.master = master
        self.active_watches = 0  # open WatchTask streams (observability; tests check streams end)

    async def SubmitTask(
        self, request: pb.SubmitTaskRequest, context: grpc.aio.ServicerContext
    ) -> pb.SubmitTaskReply:
        try:
            instruction = request.instruction.strip()
            if not instruction:
                raise _Abort(
                    grpc.StatusCode.INVALID_ARGUMENT, "instruction is empty: say what the robots should do"
                )
            if len(instruction) > MAX_INSTRUCTION_CHARS:
                raise _Abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"instruction has {len(instruction)} characters, at most {MAX_INSTRUCTION_CHARS} allowed",
                )
            task_id = _task_id(request.task_id) if request.task_id else None
            with _mapped_errors():
                new_id = await self.master.submit(instruction, task_id=task_id)
            return pb.SubmitTaskReply(task_id=new_id)
        except _Abort as exc:
            await _abort(context, exc)

    async def WatchTask(
        self, request: pb.WatchTaskRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.TaskEvent]:
        try:
            task_id = _task_id(request.task_id)
            with _mapped_errors():
                self.master.get_task(task_id)  # NOT_FOUND before the stream starts
        except _Abort as exc:
            await _abort(context, exc)
        events = self.master.watch(task_id)
        self.active_watches += 1
        try:
            try:
                with _mapped_errors():
                    async for event in events:
                        yield convert.event_to_pb(event)
            except _Abort as exc:
                await _abort(context, exc)
        finally:  # the task ended, the client went away (cancellation lands here) or the server stops
            self.active_watches -= 1
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    async def CancelTask(
        self, request: pb.CancelTaskRequest, context: grpc.aio.ServicerContext
    ) -> pb.CancelTaskReply:
        try:
            task_id = _task_id(request.task_id)
            with _mapped_errors():
                self.master.get_task(task_id)
                cancelled = await self.master.cancel(task_id)
                status = self.master.get_task(task_id).status
            return pb.CancelTaskReply(cancelled=bool(cancelled), status=convert.task_status_to_pb(status))
        except _Abort as exc:
            await _abort(context, exc)

    async def GetTask(self, request: pb.GetTaskRequest, context: grpc.aio.ServicerContext) -> pb.Task:
        try:
            task_id = _task_id(request.task_id)
            with _mapped_errors():
                return convert.task_to_pb(self.master.get_task(task_id))
        except _Abort as exc:
            await _abort(context, exc)

    async def ListTasks(
        self, request: pb.ListTasksRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListTasksReply:
        try:
            if request.limit < 0:
                raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"limit must be >= 0, got {request.limit}")
            with _mapped_errors():
                tasks = sorted(self.master.list_tasks(), key=lambda t: t.created_at, reverse=True)
                if request.limit:
                    tasks = tasks[: request.limit]
                return pb.ListTasksReply(tasks=[convert.task_to_pb(t) for t in tasks])
        except _Abort as exc:
            await _abort(context, exc)

    async def ListRobots(
        self, request: pb.ListRobotsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListRobotsReply:
        try:
            with _mapped_errors():
                robots = sorted(self.master.list_robots(), key=lambda r: r.name)
                return pb.ListRobotsReply(robots=[convert.robot_to_pb(r) for r in robots])
        except _Abort as exc:
            await _abort(context, exc)
