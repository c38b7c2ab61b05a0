"""Load installed skill packages into ``SkillSpec`` lists (the edge agent calls these at start or on demand).

Layout of an edge's skill directory: one sub-directory per installed package, named after the package,
each holding ``roboos-skill.json`` and the package's module (``<module>.py`` or ``<module>/__init__.py``).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

from roboos.skills.card import SkillCard
from roboos.skills.errors import SkillDefinitionError
from roboos.skills.sdk import SKILL_ATTR, SkillSpec
from roboos.skills.store.errors import PackageError
from roboos.skills.store.manifest import PackageManifest, read_manifest, verify_checksum
from roboos.skills.store.signing import load_trusted_keys, verify_package_signature


def _module_path(root: Path, module: str) -> tuple[Path, bool]:
    package_init = root / module / "__init__.py"
    if package_init.is_file():
        return package_init, True
    single = root / f"{module}.py"
    if single.is_file():
        return single, False
    raise PackageError("bad_package", f"package has neither {module}.py nor {module}/__init__.py")


def import_package(root: Path, manifest: PackageManifest) -> ModuleType:
    """Import the package's module under a private, versioned name (never shadows real modules)."""
    path, is_pkg = _module_path(root, manifest.module_name)
    unique = "roboos_skillpkg_" + re.sub(r"\W", "_", f"{manifest.name}_{manifest.version}")
    spec = importlib.util.spec_from_file_location(
        unique, path, submodule_search_locations=[str(path.parent)] if is_pkg else None)
    if spec is None or spec.loader is None:
        raise PackageError("import_error", f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[unique] = module
    no_bytecode = sys.dont_write_bytecode
    sys.dont_write_bytecode = True  # installed folders stay as verified (deploy bundles hash every file)
    try:
        spec.loader.exec_module(module)
    except SkillDefinitionError as exc:
        sys.modules.pop(unique, None)
        raise PackageError("bad_skill", f"package '{manifest.name}': {exc}") from None
    except BaseException as exc:  # noqa: BLE001 - any failure while importing user code refuses the package
        sys.modules.pop(unique, None)
        raise PackageError("import_error", f"package '{manifest.name}' failed to import: "
                                           f"{type(exc).__name__}: {exc}") from None
    finally:
        sys.dont_write_bytecode = no_bytecode
    return module


def skills_of(module: ModuleType, manifest: PackageManifest) -> list[SkillSpec]:
    """The ``@skill`` functions a module defines, checked against the manifest's embodiments."""
    specs: dict[str, SkillSpec] = {}
    for value in vars(module).values():
        spec = getattr(value, SKILL_ATTR, None)
        if isinstance(spec, SkillSpec):
            specs[spec.name] = spec
    if not specs:
        raise PackageError("bad_skill", f"package '{manifest.name}' defines no @skill functions")
    allowed = set(manifest.embodiments)
    for spec in specs.values():
        extra = set(spec.embodiments) - allowed
        if allowed and extra:
            raise PackageError("bad_skill", f"skill '{spec.name}' declares embodiments {sorted(extra)} that the "
                                            f"manifest of '{manifest.name}' does not list")
    return [specs[n] for n in sorted(specs)]


def load_package(root: Path, *, verify: bool = True) -> tuple[PackageManifest, list[SkillSpec]]:
    """Validate (manifest, checksum) and import one package directory; returns its skills."""
    manifest = read_manifest(root)
    if verify:
        verify_checksum(root, manifest)
    return manifest, skills_of(import_package(root, manifest), manifest)


def load_installed_skills(skills_dir: str | Path, *, embodiment: str | None = None, names: list[str] | None = None,
                          trusted_keys: str | Path | list[str] | dict[str, bytes] | None = None) -> list[SkillSpec]:
    """Every skill of the packages installed in ``skills_dir`` (optionally only ``names``).

    Skills that do not support ``embodiment`` are left out. With trusted keys (``trusted_keys``, default
    ``$ROBOOS_SKILL_TRUSTED_KEYS``) every package's signature is checked before it is imported, so a
    package copied into the directory by hand is held to the same rule as one installed from a store.
    A broken or refused package raises :class:`PackageError`; an absent directory gives ``[]``.
    """
    base = Path(skills_dir)
    if not base.is_dir():
        return []
    keys = trusted_keys if isinstance(trusted_keys, dict) else load_trusted_keys(trusted_keys)
    out: list[SkillSpec] = []
    for root in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if names is not None and root.name not in names:
            continue
        if keys:
            try:
                verify_package_signature(root, keys)
            except PackageError as exc:
                raise PackageError(exc.code, f"{root}: {exc.message}") from None
        _, specs = load_package(root)
        out += [s for s in specs if embodiment is None or s.supports(embodiment)]
    return out


def cards_of(specs: list[SkillSpec]) -> list[SkillCard]:
    return [SkillCard.from_spec(s) for s in specs]
