"""``ControlClient``: the synchronous control-plane client used by the CLI and by scripts.

Every method returns the master's pydantic models (``TaskRecord``, ``TaskEvent``, ``RobotInfo``) and
raises a typed :mod:`roboos.controlplane.errors` exception instead of a raw ``grpc.RpcError``::

    with ControlClient("127.0.0.1:7701") as client:
        task_id = client.submit("bring the red cup to the kitchen table")
        for event in client.watch(task_id):
            print(event.kind, event.status)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from roboos.controlplane import convert
from roboos.controlplane.auth import bearer_metadata
from roboos.controlplane.errors import (
    AuthenticationFailed,
    ControlPlaneError,
    ControlPlaneUnavailable,
    InvalidRequest,
    RemoteError,
    TaskNotFound,
)
from roboos.controlplane.gen import control_pb2 as pb
from roboos.controlplane.gen import control_pb2_grpc as pb_grpc
from roboos.master.models import RobotInfo, TaskEvent, TaskRecord, TaskStatus

DEFAULT_ADDRESS = "127.0.0.1:7701"
ADDRESS_ENV = "ROBOOS_CONTROL_ADDRESS"
TOKEN_ENV = "ROBOOS_TOKEN"
TLS_CA_ENV = "ROBOOS_TLS_CA"


@dataclass(frozen=True)
class CancelOutcome:
    """Reply of :meth:`ControlClient.cancel`: whether the request cancelled the task, and its status now."""

    cancelled: bool
    status: TaskStatus


def translate_rpc_error(exc: grpc.RpcError, address: str) -> ControlPlaneError:
    """The typed error for a failed call (``UNAVAILABLE`` -> :class:`ControlPlaneUnavailable`, ...)."""
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = (exc.details() if hasattr(exc, "details") else None) or str(exc)
    if code == grpc.StatusCode.UNAVAILABLE:
        return ControlPlaneUnavailable(
            f"no RoboOS control plane answers at {address}. Start one with `roboos cloud` or `roboos up`, "
            f"or point --address / {ADDRESS_ENV} at a running cloud. (gRPC: {details})"
        )
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return ControlPlaneUnavailable(f"the control plane at {address} did not answer in time ({details})")
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return AuthenticationFailed(f"the control plane at {address} refused the call: {details}")
    if code == grpc.StatusCode.NOT_FOUND:
        return TaskNotFound(details)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidRequest(details)
    return RemoteError(code.name if code is not None else "UNKNOWN", details)


class ControlClient:
    """Blocking client of one control plane. Use as a context manager, or call :meth:`close`."""

    def __init__(
        self,
        address: str | None = None,
        *,
        token: str | None = None,
        timeout: float = 10.0,
        tls_ca: str | Path | None = None,
    ) -> None:
        """``tls_ca``: PEM of the CA that signed the server's certificate; set it to talk TLS
        (default: ``$ROBOOS_TLS_CA``, else plain TCP)."""
        self.address = address or os.environ.get(ADDRESS_ENV) or DEFAULT_ADDRESS
        self.timeout = timeout
        self._metadata = bearer_metadata(token if token is not None else os.environ.get(TOKEN_ENV))
        ca = tls_ca if tls_ca is not None else os.environ.get(TLS_CA_ENV)
        if ca:
            try:
                root = Path(ca).read_bytes()
            except OSError as exc:
                raise ControlPlaneError(f"cannot read the TLS CA certificate {ca}: {exc}") from exc
            creds = grpc.ssl_channel_credentials(root_certificates=root)
            self._channel = grpc.secure_channel(self.address, creds)
        else:
            self._channel = grpc.insecure_channel(self.address)
        self._stub = pb_grpc.RoboOSStub(self._channel)

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def _call(self, method: str, request: Any) -> Any:
        try:
            return getattr(self._stub, method)(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as exc:
            raise translate_rpc_error(exc, self.address) from None

    def submit(self, instruction: str, *, task_id: str | None = None) -> str:
        """Start a task; return its id."""
        reply = self._call("SubmitTask", pb.SubmitTaskRequest(instruction=instruction, task_id=task_id or ""))
        return reply.task_id

    def watch(self, task_id: str) -> Iterator[TaskEvent]:
        """Past then live events of the task; ends with the task. Closing the iterator cancels the call."""
        call = self._stub.WatchTask(pb.WatchTaskRequest(task_id=task_id), metadata=self._metadata)
        try:
            for msg in call:
                yield convert.event_from_pb(msg)
        except grpc.RpcError as exc:
            raise translate_rpc_error(exc, self.address) from None
        finally:
            call.cancel()

    def cancel(self, task_id: str) -> CancelOutcome:
        """Ask the master to cancel the task."""
        reply = self._call("CancelTask", pb.CancelTaskRequest(task_id=task_id))
        return CancelOutcome(cancelled=reply.cancelled, status=convert.task_status_from_pb(reply.status))

    def get_task(self, task_id: str) -> TaskRecord:
        return convert.task_from_pb(self._call("GetTask", pb.GetTaskRequest(task_id=task_id)))

    def list_tasks(self, limit: int = 0) -> list[TaskRecord]:
        """Tasks, newest first (``limit`` 0: all)."""
        reply = self._call("ListTasks", pb.ListTasksRequest(limit=limit))
        return [convert.task_from_pb(t) for t in reply.tasks]

    def robots(self) -> list[RobotInfo]:
        """Every robot the master knows, online or not, by name."""
        reply = self._call("ListRobots", pb.ListRobotsRequest())
        return [convert.robot_from_pb(r) for r in reply.robots]
