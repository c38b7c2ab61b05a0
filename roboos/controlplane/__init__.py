"""The gRPC control plane: submit, watch and cancel tasks and list the robots of a running cloud master.

``start_control_plane(master, bind)`` serves a :class:`~roboos.master.master.Master` (``roboos cloud`` does
this); :class:`ControlClient` is the blocking client behind ``roboos task …`` and ``roboos robots``.
Names are imported lazily, so ``python -m roboos.controlplane.codegen`` works even while the generated
code is being rewritten.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ControlClient", "ControlPlane", "start_control_plane"]


def __getattr__(name: str) -> Any:
    if name in ("ControlPlane", "start_control_plane"):
        from roboos.controlplane import server

        return getattr(server, name)
    if name == "ControlClient":
        from roboos.controlplane.client import ControlClient

        return ControlClient
    raise AttributeError(name)
