"""The policy interface the policy server drives, and its typed errors.

A policy turns an observation (camera images, proprioceptive state, a prompt) into an action chunk. The
server validates each observation on its own (:meth:`Policy.prepare`, cheap, raises
:class:`ObservationError` with a message a client can act on), then runs validated observations in
batches (:meth:`Policy.infer_batch`). Numpy only here: torch is imported by concrete policies.
"""

from __future__ import annotations

import abc
from typing import Any


class PolicyError(RuntimeError):
    """A policy failed; ``code`` travels in error replies."""

    code = "policy_error"


class ObservationError(PolicyError, ValueError):
    """An observation is malformed (missing camera, wrong shape or dtype, ...)."""

    code = "bad_observation"


class Policy(abc.ABC):
    """An observation → action-chunk model."""

    name: str = "policy"

    @abc.abstractmethod
    def metadata(self) -> dict[str, Any]:
        """Static facts sent to clients on connect (cameras, dims, chunk length, ...)."""

    @abc.abstractmethod
    def prepare(self, obs: dict[str, Any]) -> Any:
        """Validate and convert one observation; raise :class:`ObservationError` when it is malformed."""

    @abc.abstractmethod
    def infer_batch(self, prepared: list[Any]) -> list[dict[str, Any]]:
        """Action chunks for a batch of prepared observations (``{"actions": (H, D) float32, ...}``)."""

    def infer(self, obs: dict[str, Any]) -> dict[str, Any]:
        """One observation in, one result out."""
        return self.infer_batch([self.prepare(obs)])[0]

    @property
    def max_batch_size(self) -> int:
        return 8
