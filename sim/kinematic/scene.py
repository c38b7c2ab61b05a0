"""The scene file format: places, objects and robot stations of a kinematic world (pydantic + YAML).

A scene is loaded with :func:`load_scene` (through :func:`roboos.config.load_config`), so a bad file gets
a :class:`~roboos.config.ConfigError` naming the file, the key and the problem, e.g.
``household.yaml: objects.2.location: unknown place 'garage' (places: fridge, shelf, ...)``.

Relations are kept symbolic: an object ``location`` is a place name; it is *on* a place of kind
``surface`` and *in* a place of kind ``container``. Openable containers (a fridge, a drawer) must be
open before anything is put in or taken out. Positions are 2-D (metres, world frame) and give the
travel distances of mobile robots.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from roboos.config import KeyedConfigError, load_config

Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
"""Scene names are lower_snake_case so they travel unchanged in effects (``object:red_cup``)."""


class PlaceKind(str, Enum):
    """What a place is: objects rest *on* a surface, *in* a container; a station holds nothing."""

    surface = "surface"
    container = "container"
    station = "station"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlaceConfig(_Model):
    """A named place of the scene (a table, a shelf, a fridge, a charging dock)."""

    name: Name
    kind: PlaceKind = PlaceKind.surface
    position: tuple[float, float] = (0.0, 0.0)
    openable: bool = False
    open: bool = True  # initial state; only meaningful for openable containers
    capacity: int = Field(default=8, ge=0)  # objects it can hold at once
    description: str = ""

    @model_validator(mode="after")
    def _check_openable(self) -> PlaceConfig:
        if self.openable and self.kind is not PlaceKind.container:
            raise ValueError(f"only containers can be openable, '{self.name}' is a {self.kind.value}")
        if not self.openable and not self.open:
            raise ValueError(f"'{self.name}' is not openable, so it cannot start closed")
        return self


class ObjectConfig(_Model):
    """A movable (or fixed) object: its kind, colour and the place it starts at."""

    name: Name
    kind: str = Field(min_length=1, max_length=64)  # cup, fruit, sponge, book, ...
    color: str = Field(default="", max_length=32)
    location: Name
    graspable: bool = True
    description: str = ""


class StationConfig(_Model):
    """Where a robot of the scene stands and which places it can reach from there.

    A fixed arm reaches only ``reach``; a mobile robot starts at ``at`` and reaches the place it is at.
    """

    at: Name
    reach: list[Name] = Field(default_factory=list)


class SceneConfig(_Model):
    """A whole kinematic scene; see ``configs/scenes/household.yaml``."""

    name: Name = "scene"
    description: str = ""
    time_scale: float = Field(default=1.0, ge=0.0)  # multiplies every simulated motion duration
    places: list[PlaceConfig] = Field(min_length=1)
    objects: list[ObjectConfig] = Field(default_factory=list)
    robots: dict[Name, StationConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_references(self) -> SceneConfig:
        _unique([p.name for p in self.places], "places")
        _unique([o.name for o in self.objects], "objects")
        by_name = {p.name: p for p in self.places}
        known = ", ".join(by_name)
        load: dict[str, int] = {}
        for i, obj in enumerate(self.objects):
            key = f"objects.{i}"
            if obj.name in by_name:
                raise KeyedConfigError(f"{key}.name", f"'{obj.name}' is already the name of a place")
            place = by_name.get(obj.location)
            if place is None:
                raise KeyedConfigError(f"{key}.location", f"unknown place '{obj.location}' (places: {known})")
            if place.kind is PlaceKind.station:
                raise KeyedConfigError(f"{key}.location", f"'{obj.location}' is a station and holds no objects")
            load[place.name] = load.get(place.name, 0) + 1
            if load[place.name] > place.capacity:
                raise KeyedConfigError(
                    f"{key}.location", f"place '{place.name}' is over its capacity of {place.capacity}"
                )
        for robot, station in self.robots.items():
            for field, targets in (("at", [station.at]), ("reach", station.reach)):
                for target in targets:
                    if target not in by_name:
                        raise KeyedConfigError(
                            f"robots.{robot}.{field}", f"unknown place '{target}' (places: {known})"
                        )
        return self

    def place(self, name: str) -> PlaceConfig:
        """The named place (``KeyError`` if absent)."""
        for place in self.places:
            if place.name == name:
                return place
        raise KeyError(name)


def _unique(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise KeyedConfigError(f"{what}.{i}.name", f"duplicate name '{name}'")
        seen.add(name)


def load_scene(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> SceneConfig:
    """Load a scene file (default: the built-in ``configs/scenes/household.yaml``)."""
    return load_config(SceneConfig, path, overrides, default="scenes/household.yaml")
