"""Hardware profiles of edge modules (``configs/edge/*.yaml`` plus user files).

A profile says what a board can do: CPU architecture, accelerator, the ONNX Runtime execution
providers to try in order (CPU is always the last resort, and :func:`choose_providers` says when it
falls back to it), supported precisions, memory budget, camera and control-rate limits, and which models
may run locally. ``roboos profiles list|show`` prints them; ``roboos deploy --edge NAME`` uses them.

User profiles: any ``*.yaml`` in ``~/.roboos/profiles`` or in the folders of ``$ROBOOS_PROFILES``
(``:``-separated); a user file with a built-in's name overrides it. ``--edge`` also takes a file path.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from roboos.config import ConfigError, KeyedConfigError, builtin_config, load_config

Precision = Literal["fp32", "fp16", "bf16", "int8"]
CPU_PROVIDER = "CPUExecutionProvider"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CameraLimits(_Model):
    width: int = Field(gt=0, le=8192)
    height: int = Field(gt=0, le=8192)
    fps: float = Field(gt=0, le=1000)


class ControlLimits(_Model):
    default_hz: float = Field(gt=0, le=10_000)
    max_hz: float = Field(gt=0, le=10_000)

    @model_validator(mode="after")
    def _ordered(self) -> ControlLimits:
        if self.default_hz > self.max_hz:
            raise KeyedConfigError("default_hz", f"default_hz ({self.default_hz}) exceeds max_hz ({self.max_hz})")
        return self


class HardwareProfile(_Model):
    """One edge module."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$", max_length=64)
    description: str
    arch: Literal["x86_64", "aarch64"]
    accelerator: str  # in words, e.g. "Iluvatar CoreX GPGPU", "none"
    execution_providers: list[str] = Field(min_length=1)  # onnxruntime providers, most preferred first
    precisions: list[Precision] = Field(min_length=1)
    default_precision: Precision
    memory_budget_mb: int = Field(gt=0)  # for the agent and local models together
    camera: CameraLimits
    control_rate: ControlLimits
    local_models: list[str] = Field(default_factory=list)  # models allowed to run on the module
    notes: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> HardwareProfile:
        if self.default_precision not in self.precisions:
            raise KeyedConfigError("default_precision",
                                   f"'{self.default_precision}' is not one of precisions {self.precisions}")
        if self.execution_providers[-1] != CPU_PROVIDER:
            raise KeyedConfigError("execution_providers",
                                   f"the list must end with {CPU_PROVIDER} (the fallback every board has)")
        return self


def _user_dirs() -> list[Path]:
    dirs = [Path("~/.roboos/profiles").expanduser()]
    extra = os.environ.get("ROBOOS_PROFILES", "")
    dirs += [Path(p).expanduser() for p in extra.split(os.pathsep) if p]
    return dirs


def builtin_dir() -> Path:
    return builtin_config("edge/x86-cpu.yaml").parent


def profile_files(extra_dirs: Iterable[str | Path] = ()) -> dict[str, Path]:
    """Profile name (file stem) -> file; later folders override earlier ones (user over built-in)."""
    out: dict[str, Path] = {}
    for folder in [builtin_dir(), *_user_dirs(), *map(Path, extra_dirs)]:
        if folder.is_dir():
            for path in sorted(folder.glob("*.yaml")):
                out[path.stem] = path
    return out


def load_profile(name_or_path: str | Path, extra_dirs: Iterable[str | Path] = ()) -> HardwareProfile:
    """A profile by name (built-in or user) or by file path; errors name the file and the key."""
    path = Path(name_or_path)
    if not (path.suffix in (".yaml", ".yml") and path.exists()):
        files = profile_files(extra_dirs)
        if str(name_or_path) not in files:
            raise ConfigError(str(name_or_path), None,
                              f"no such hardware profile; known: {', '.join(sorted(files))}")
        path = files[str(name_or_path)]
    profile = load_config(HardwareProfile, path)
    if profile.name != path.stem:
        raise ConfigError(str(path), "name", f"'{profile.name}' must match the file name '{path.stem}'")
    return profile


def list_profiles(extra_dirs: Iterable[str | Path] = ()) -> list[tuple[str, Path, HardwareProfile | ConfigError]]:
    """Every profile found, loaded (or the error that prevented loading it)."""
    out: list[tuple[str, Path, HardwareProfile | ConfigError]] = []
    for name, path in sorted(profile_files(extra_dirs).items()):
        try:
            out.append((name, path, load_profile(path)))
        except ConfigError as exc:
            out.append((name, path, exc))
    return out


def choose_providers(profile: HardwareProfile, available: Sequence[str] | None = None) -> tuple[list[str], str]:
    """The profile's providers that this onnxruntime offers, in order, and a sentence saying what happened."""
    if available is None:
        import onnxruntime as ort

        available = ort.get_available_providers()
    chosen = [p for p in profile.execution_providers if p in available]
    if CPU_PROVIDER not in chosen:
        chosen.append(CPU_PROVIDER)
    wanted = profile.execution_providers[0]
    if chosen[0] == wanted:
        note = f"using {wanted}"
    else:
        missing = [p for p in profile.execution_providers if p not in available]
        note = (f"{', '.join(missing)} not available in this onnxruntime build; falling back to "
                f"{chosen[0]}")
    return chosen, note
