"""``roboos skills publish|search|install|list|show|keygen``: the skill package store.

The store is a SQLite file (``--store``, env ``ROBOOS_SKILL_STORE``, default ``~/.roboos/skills.db``).
``list --address HOST:PORT`` also shows the skills of the robots connected to a running cloud.
Exit code 2 when a package is refused (the message gives the reason code). ``keygen`` + ``publish
--sign-key`` sign packages; stores and installs trust the keys in ``$ROBOOS_SKILL_TRUSTED_KEYS``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

skills_app = typer.Typer(help="Skill packages: publish, search, install, list, show.", no_args_is_help=True)
StoreOption = Annotated[Path, typer.Option("--store", envvar="ROBOOS_SKILL_STORE",
                                           help="SQLite file of the skill store")]
DEFAULT_STORE = Path.home() / ".roboos" / "skills.db"


def register(app: typer.Typer) -> None:
    app.add_typer(skills_app, name="skills")


def _refused(exc: Exception) -> None:
    typer.secho(f"refused: {exc}", fg="red", err=True)
    raise typer.Exit(2)


@skills_app.command("keygen")
def keygen(path: Path, comment: str = "") -> None:
    """Make an ed25519 signing key: PATH (private, 0600) and PATH.pub (the line stores/edges trust)."""
    from roboos.skills.store import PackageError, generate_key

    try:
        line = generate_key(path, comment)
    except FileExistsError:
        _refused(PackageError("bad_key", f"{path} exists; not overwriting a key"))
    except PackageError as exc:
        _refused(exc)
    typer.echo(f"private key {path} (keep it secret), public key {path}.pub:\n{line}")


@skills_app.command("publish")
def publish(path: Path, name: Annotated[str, typer.Option(help="package name (writes a manifest)")] = "",
            version: Annotated[str, typer.Option(help="package version (writes a manifest)")] = "",
            embodiment: Annotated[list[str], typer.Option(help="embodiment tag (repeatable)")] = [],  # noqa: B006
            store: StoreOption = DEFAULT_STORE, overwrite: bool = False,
            sign_key: Annotated[Path | None, typer.Option(help="ed25519 private key (roboos skills keygen): "
                                                               "sign the package directory first")] = None) -> None:
    """Publish a package directory (or a .zip). With --name/--version a manifest is written first.

    A store with trusted keys ($ROBOOS_SKILL_TRUSTED_KEYS) accepts only packages signed by one of them."""
    from roboos.skills.store import PackageError, SkillStore, pack, sign_package, write_manifest

    try:
        if sign_key is not None and not path.is_dir():
            raise PackageError("bad_package", "--sign-key signs a package directory; give the directory, not a zip")
        if path.is_dir():
            if name and version:
                write_manifest(path, name=name, version=version, embodiments=list(embodiment))
            if sign_key is not None:
                sign_package(path, sign_key)
            data = pack(path)
        else:
            data = path.read_bytes()
        rec = SkillStore(store).publish(data, overwrite=overwrite)
    except PackageError as exc:
        _refused(exc)
    typer.echo(f"published {rec.name} {rec.version}: {', '.join(c.name for c in rec.cards)}")


@skills_app.command("search")
def search(query: str, k: int = 10, store: StoreOption = DEFAULT_STORE) -> None:
    """Search the store's skills (BM25 over the cards)."""
    from roboos.skills.store import SkillStore

    for rec, card, score in SkillStore(store).search(query, k=k):
        typer.echo(f"{score:.2f}  {rec.name}=={rec.version}  {card.compact()}")


@skills_app.command("install")
def install(name: str, skills_dir: Path, version: str = "", store: StoreOption = DEFAULT_STORE) -> None:
    """Install a package into an edge's skill directory (atomic; verified before it is swapped in)."""
    from roboos.skills.store import PackageError, SkillStore

    try:
        rec = SkillStore(store).install(name, skills_dir, version or None)
    except PackageError as exc:
        _refused(exc)
    typer.echo(f"installed {rec.name} {rec.version} into {skills_dir / rec.name}")


@skills_app.command("list")
def list_packages(store: StoreOption = DEFAULT_STORE, all_versions: bool = False,
                  address: Annotated[str, typer.Option(help="cloud control plane host:port; also list "
                                                            "the connected robots' skills")] = "") -> None:
    """Packages in the store and, with --address, the skills of robots connected to a cloud."""
    from roboos.skills.store import SkillStore

    for rec in SkillStore(store).list(all_versions=all_versions):
        typer.echo(f"{rec.name}=={rec.version}  [{','.join(rec.manifest.embodiments)}]  "
                   f"{', '.join(c.name for c in rec.cards)}")
    if address:
        from roboos.cli.cmd_task import control_client

        with control_client(address, None) as client:
            for robot in client.robots():
                state = "online" if robot.online else "offline"
                typer.echo(f"robot {robot.name} ({robot.embodiment}, {state}): "
                           f"{', '.join(f'{c.name}=={c.version}' for c in robot.skills)}")


@skills_app.command("show")
def show(name: str, version: str = "", store: StoreOption = DEFAULT_STORE, as_json: bool = False) -> None:
    """A package's manifest and its skills' compact cards (or full JSON with --as-json)."""
    from roboos.skills.store import PackageError, SkillStore

    try:
        rec = SkillStore(store).get(name, version or None)
    except PackageError as exc:
        _refused(exc)
    if as_json:
        typer.echo(json.dumps({"manifest": rec.manifest.model_dump(mode="json"),
                               "tools": [c.tool_json() for c in rec.cards]}, indent=2))
        return
    typer.echo(rec.manifest.model_dump_json(indent=2))
    for card in rec.cards:
        typer.echo(card.compact())
