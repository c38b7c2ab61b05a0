"""The committed generated code in roboos/controlplane/gen/ matches protos/*.proto."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("grpc_tools", reason="grpcio-tools (test extra) generates the code")

from google.protobuf import descriptor_pb2  # noqa: E402

from roboos.controlplane import codegen  # noqa: E402


def _generated_files(folder: Path) -> dict[str, str]:
    return {
        p.name: p.read_text()
        for p in sorted(folder.iterdir())
        if p.is_file() and (p.name == "__init__.py" or p.name.endswith(codegen._GENERATED_SUFFIXES))
    }


def _committed_tools_version() -> str:
    text = (codegen.GEN_DIR / "__init__.py").read_text()
    return text.split("grpcio-tools ", 1)[1].split(".\n", 1)[0] if "grpcio-tools " in text else ""


def _without_json_names(proto: descriptor_pb2.FileDescriptorProto) -> descriptor_pb2.FileDescriptorProto:
    """protoc's python_out drops json_name from the embedded descriptor; drop it on both sides."""
    proto = descriptor_pb2.FileDescriptorProto.FromString(proto.SerializeToString())
    stack = list(proto.message_type)
    while stack:
        message = stack.pop()
        for field in message.field:
            field.ClearField("json_name")
        stack.extend(message.nested_type)
    return proto


def test_every_proto_has_generated_modules() -> None:
    protos = sorted(p.stem for p in codegen.PROTO_DIR.glob("*.proto"))
    assert "control" in protos
    for stem in protos:
        for suffix in codegen._GENERATED_SUFFIXES:
            assert (codegen.GEN_DIR / f"{stem}{suffix}").is_file(), (
                f"run python -m roboos.controlplane.codegen ({stem}{suffix} missing)"
            )


def test_generated_code_in_sync(tmp_path: Path) -> None:
    """Regenerate into a temp dir: same files; same text when the same grpcio-tools made them."""
    codegen.generate(codegen.PROTO_DIR, tmp_path)
    fresh, committed = _generated_files(tmp_path), _generated_files(codegen.GEN_DIR)
    assert sorted(fresh) == sorted(committed), (
        "generated file set differs: run python -m roboos.controlplane.codegen"
    )
    if _committed_tools_version() == codegen.tools_version():
        for name in fresh:
            assert fresh[name] == committed[name], (
                f"{name} is stale: run python -m roboos.controlplane.codegen"
            )


def test_committed_descriptors_match_protos(tmp_path: Path) -> None:
    """Whatever the grpcio-tools version: descriptors embedded in the committed code equal protoc's."""
    from grpc_tools import protoc

    include = codegen._protoc_include()
    for proto in sorted(codegen.PROTO_DIR.glob("*.proto")):
        out = tmp_path / f"{proto.stem}.pb"
        assert (
            protoc.main(
                [
                    "protoc",
                    f"-I{codegen.PROTO_DIR}",
                    f"-I{include}",
                    f"--descriptor_set_out={out}",
                    proto.name,
                ]
            )
            == 0
        )
        expected = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file[0]
        module = importlib.import_module(f"roboos.controlplane.gen.{proto.stem}_pb2")
        embedded = descriptor_pb2.FileDescriptorProto.FromString(module.DESCRIPTOR.serialized_pb)
        assert _without_json_names(embedded) == _without_json_names(expected), (
            f"{proto.name} changed: regenerate"
        )


def test_generated_imports_are_package_relative() -> None:
    for path in codegen.GEN_DIR.glob("*_pb2*.py"):
        text = path.read_text()
        assert "\nimport control_pb2" not in text and "runtime_version" not in text.replace(
            "runtime version guard", ""
        ), path.name
    grpc_text = (codegen.GEN_DIR / "control_pb2_grpc.py").read_text()
    assert "from . import control_pb2 as control__pb2" in grpc_text
    assert "raise RuntimeError" not in grpc_text


def test_fix_generated_rewrites_sibling_imports_and_guards() -> None:
    pb2 = (
        "from google.protobuf import runtime_version as _runtime_version\n"
        "_runtime_version.ValidateProtobufRuntimeVersion(\n"
        "    _runtime_version.Domain.PUBLIC,\n    7,\n    35,\n"
        "    1,\n    '',\n    'x.proto'\n)\n"
        "from google.protobuf import struct_pb2 as google_dot_protobuf_dot_struct__pb2\n"
        "import common_pb2 as common__pb2\n"
    )
    fixed = codegen.fix_generated("x_pb2.py", pb2)
    assert "ValidateProtobufRuntimeVersion" not in fixed and "import runtime_version" not in fixed
    assert "from . import common_pb2 as common__pb2" in fixed
    assert "from google.protobuf import struct_pb2" in fixed


def test_module_entry_point_writes_into_a_folder(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, "-m", "roboos.controlplane.codegen", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "control_pb2_grpc.py").is_file() and "wrote" in proc.stdout
