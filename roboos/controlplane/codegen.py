"""Generate the Python gRPC code of every ``protos/*.proto`` into ``roboos/controlplane/gen/``.

Run ``python -m roboos.controlplane.codegen`` after editing a ``.proto`` file and commit the result;
``tests/roboos/controlplane/test_codegen_sync.py`` fails when the committed code is out of date.

grpc_tools (the ``grpcio-tools`` package, a test/dev extra) writes ``*_pb2.py``, ``*_pb2.pyi`` and
``*_pb2_grpc.py`` for a flat module layout. Two fixes make the output usable as the package
``roboos.controlplane.gen`` at runtime with only ``grpcio`` + ``protobuf`` installed:

* imports of sibling generated modules (``import control_pb2 as control__pb2``) become package-relative
  (``from . import control_pb2 as control__pb2``);
* the hard version guards are relaxed: protoc's gencode refuses every protobuf runtime older than the
  protoc that made it (``runtime_version.ValidateProtobufRuntimeVersion``, a module protobuf < 5.26 does
  not even have), and the gRPC plugin refuses every grpcio older than grpcio-tools. The generated code
  itself only needs the builder API (protobuf >= 4.25) and registered method handlers (grpcio >= 1.64), which
  is what ``pyproject.toml`` pins; docs/control-plane.md records the versions it was checked with.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

import roboos.protos

PROTO_DIR = Path(roboos.protos.__file__).resolve().parent  # protos/ in a checkout, roboos/protos in a wheel
GEN_DIR = Path(__file__).resolve().parent / "gen"

_GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")
_SIBLING_IMPORT = re.compile(r"^import (\w+_pb2(?:_grpc)?) as (\w+)$", re.MULTILINE)
_PROTOBUF_GUARD_IMPORT = re.compile(
    r"^from google\.protobuf import runtime_version as _runtime_version\n", re.MULTILINE
)
_PROTOBUF_GUARD_CALL = re.compile(
    r"^_runtime_version\.ValidateProtobufRuntimeVersion\(\n.*?^\)\n", re.MULTILINE | re.DOTALL
)
_GRPC_GUARD = re.compile(
    r"^GRPC_GENERATED_VERSION = '([^']*)'\n.*?^if _version_not_supported:\n"
    r"    raise RuntimeError\(\n.*?^    \)\n",
    re.MULTILINE | re.DOTALL,
)

_INIT_TEXT = '''"""Generated gRPC code for every ``protos/*.proto`` (do not edit).

Regenerate with ``python -m roboos.controlplane.codegen``; produced by grpcio-tools {tools_version}.
"""
'''


class CodegenError(RuntimeError):
    """protoc failed, or grpcio-tools is not installed."""


def _protoc_include() -> str:
    try:
        import grpc_tools
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise CodegenError("grpcio-tools is needed to generate code: pip install 'roboos[test]'") from exc
    return str(Path(grpc_tools.__file__).parent / "_proto")


def tools_version() -> str:
    """Version of the installed grpcio-tools (it decides the exact text of the generated code)."""
    from importlib.metadata import version

    return version("grpcio-tools")


def fix_generated(name: str, text: str) -> str:
    """Post-process one generated file: package-relative sibling imports, relaxed version guards."""
    text = _SIBLING_IMPORT.sub(r"from . import \1 as \2", text)
    if name.endswith("_pb2.py"):
        text = _PROTOBUF_GUARD_IMPORT.sub("", text)
        text = _PROTOBUF_GUARD_CALL.sub(
            "# (protobuf runtime version guard removed by roboos.controlplane.codegen:"
            " protobuf>=4.25 works)\n",
            text,
        )
    elif name.endswith("_pb2_grpc.py"):
        text = _GRPC_GUARD.sub(
            r"GRPC_GENERATED_VERSION = '\1'  # grpcio-tools version; runtime guard relaxed to grpcio>=1.64\n",
            text,
        )
    return text


def generate(proto_dir: Path = PROTO_DIR, out_dir: Path = GEN_DIR) -> list[Path]:
    """Generate code for every ``*.proto`` in ``proto_dir`` into ``out_dir``; return the files written.

    Stale generated files in ``out_dir`` (from a deleted ``.proto``) are removed.
    """
    from grpc_tools import protoc

    include = _protoc_include()
    protos = sorted(p.name for p in Path(proto_dir).glob("*.proto"))
    if not protos:
        raise CodegenError(f"no .proto files in {proto_dir}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="roboos-codegen-") as tmp:
        args = [
            "grpc_tools.protoc",
            f"-I{proto_dir}",
            f"-I{include}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            *protos,
        ]
        if protoc.main(args) != 0:
            raise CodegenError(f"protoc failed on {', '.join(protos)} (see the messages above)")
        produced = sorted(p for p in Path(tmp).iterdir() if p.name.endswith(_GENERATED_SUFFIXES))
        written: list[Path] = []
        for src in produced:
            dst = out_dir / src.name
            dst.write_text(fix_generated(src.name, src.read_text()))
            written.append(dst)
    init = out_dir / "__init__.py"
    init.write_text(_INIT_TEXT.format(tools_version=tools_version()))
    written.append(init)
    keep = {p.name for p in written}
    for old in out_dir.iterdir():
        if old.is_file() and old.name.endswith(_GENERATED_SUFFIXES) and old.name not in keep:
            old.unlink()
    cache = out_dir / "__pycache__"
    if cache.is_dir() and out_dir != GEN_DIR:
        shutil.rmtree(cache)
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m roboos.controlplane.codegen [OUT_DIR]``."""
    argv = sys.argv[1:] if argv is None else argv
    out_dir = Path(argv[0]) if argv else GEN_DIR
    try:
        written = generate(PROTO_DIR, out_dir)
    except CodegenError as exc:
        print(f"codegen: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
