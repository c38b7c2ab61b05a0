"""Typed errors of the skill SDK. Each carries a stable ``code`` that travels in result messages."""

from __future__ import annotations

from typing import Any


class SkillError(Exception):
    """Base class: a skill call that did not succeed, with a machine-readable code."""

    code = "skill_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class SkillDefinitionError(SkillError, TypeError):
    """A function cannot become a skill (missing type hints, unsupported parameter kind, ...)."""

    code = "bad_definition"


class UnknownSkillError(SkillError, LookupError):
    """No skill of that name is registered on the robot."""

    code = "unknown_skill"


class SkillArgumentError(SkillError, ValueError):
    """The call's arguments do not match the skill's signature; ``details['errors']`` names each one."""

    code = "bad_arguments"


class SkillTimeoutError(SkillError, TimeoutError):
    """The skill overran its timeout and was cancelled."""

    code = "timeout"


class SkillCancelledError(SkillError):
    """The call was cancelled (by the master, the watchdog or a stop)."""

    code = "cancelled"


class SkillFailedError(SkillError):
    """The skill raised; the message carries the exception's text."""

    code = "skill_failed"
