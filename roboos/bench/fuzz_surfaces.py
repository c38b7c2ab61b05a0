"""In-process fuzz surfaces: the decoders that take outside input, called directly.

Each surface turns one fuzz input (bytes) into a call of the real decoder and classifies the outcome:
``"accepted"``, ``"rejected:<code>"`` for a typed error, or raises :class:`FuzzFinding` for anything
else (an untyped exception is a bug: the process serving the input would have logged a traceback or
dropped a connection for the wrong reason). Live surfaces (sockets, processes) are in ``fuzz_live``.
"""

from __future__ import annotations

import os
import tempfile
import traceback
from pathlib import Path
from typing import Any

import numpy as np


class FuzzFinding(AssertionError):
    """An input made a surface fail in a way that is not a typed rejection (or the server died / hung)."""

    def __init__(self, surface: str, data: bytes, problem: str) -> None:
        super().__init__(f"{surface}: {problem}\ninput ({len(data)} bytes): {data[:200]!r}")
        self.surface, self.data, self.problem = surface, data, problem


class Surface:
    """One input surface. Subclasses set ``name``, ``kind`` (mutator kind), ``typed`` and ``seeds()``."""

    name = "surface"
    kind = "msgpack"  # "msgpack" | "json" | "text" | "bytes"
    typed: tuple[type[BaseException], ...] = ()
    live = False

    def seeds(self) -> list[Any]:
        raise NotImplementedError

    def start(self) -> None:
        """Prepare (start servers, temp dirs)."""

    def close(self) -> None:
        """Release everything ``start`` took."""

    def call(self, data: bytes) -> Any:
        raise NotImplementedError

    def feed(self, data: bytes) -> str:
        try:
            self.call(data)
        except self.typed as exc:
            return "rejected:" + str(getattr(exc, "code", None) or type(exc).__name__)
        except FuzzFinding:
            raise
        except Exception as exc:
            raise FuzzFinding(self.name, data, "untyped " + "".join(
                traceback.format_exception_only(type(exc), exc)).strip()) from exc
        return "accepted"

    def alive(self) -> bool:
        """A valid input is still answered (live surfaces check their server)."""
        return True

    def pid(self) -> int:
        """The process whose memory is measured."""
        return os.getpid()

    def __enter__(self) -> Surface:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def text_of(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


class ProtocolSurface(Surface):
    """``roboos.protocol.decode``: the msgpack envelope plus raw array frames (first byte = extra frames)."""

    name, kind = "protocol_envelope", "bytes"

    def __init__(self) -> None:
        from roboos.protocol import ProtocolError, decode

        self.typed, self.decode = (ProtocolError,), decode

    def seeds(self) -> list[bytes]:
        from roboos.protocol import Envelope, MsgType, encode

        envs = [Envelope(MsgType.HEARTBEAT, {"seq": 3}),
                Envelope(MsgType.CALL, {"skill": "pick", "args": {"object": "cup"}, "timeout_s": 3.0}),
                Envelope(MsgType.OBSERVATION, {"image": np.zeros((4, 4, 3), np.uint8), "state": np.ones(5, np.float32)}),
                Envelope(MsgType.HELLO, {"robot": "arm1", "embodiment": "arm", "skills": [{"name": "x"}]})]
        return [b"\x02" + bytes(encode(e)[0]) if len(encode(e)) > 1 else b"\x00" + bytes(encode(e)[0]) for e in envs]

    def call(self, data: bytes) -> Any:
        extra = data[0] % 4 if data else 0
        arrays = [np.zeros((4, 4, 3), np.uint8).tobytes(), np.ones(5, np.float32).tobytes(), b"\x01\x02\x03"]
        return self.decode([data[1:], *arrays[:extra]])


class PolicyObservationSurface(Surface):
    """The openpi websocket frame decoder (``codec.unpack``) + the policy's observation check (tiny π0)."""

    name, kind = "policy_observation", "msgpack"

    def __init__(self) -> None:
        from roboos.brain.policies.observation import ObservationError
        from roboos.brain.policy_server.codec import WireError, unpack

        self.typed, self.unpack, self.policy = (WireError, ObservationError), unpack, None

    def start(self) -> None:
        from roboos.brain.policies.pi0.policy import Pi0Policy

        self.policy = Pi0Policy.from_checkpoint(None, preset_name="tiny", seed=0)

    def seeds(self) -> list[Any]:
        from roboos.brain.policy_server.codec import _pack_default

        rng = np.random.default_rng(0)
        obs = {"observation/image": rng.integers(0, 255, (8, 8, 3), dtype=np.uint8),
               "observation/state": rng.normal(size=5).astype(np.float32), "prompt": "pick up the cup"}
        import msgpack

        return [msgpack.unpackb(msgpack.packb(obs, default=_pack_default), raw=False)]

    def call(self, data: bytes) -> Any:
        obs = self.unpack(data)
        return self.policy.prepare(obs) if self.policy is not None else obs


class RoboBrainParsersSurface(Surface):
    """The parsers of RoboBrain answers (pointing, grounding, trajectory, planning) on model text."""

    name, kind = "robobrain_parsers", "text"

    def __init__(self) -> None:
        from roboos.brain.robobrain import parsers

        self.parsers = parsers
        self.typed = (parsers.AnswerParseError,)

    def seeds(self) -> list[bytes]:
        return [b"<think>hm</think><answer>[(12, 34), (56, 78)]</answer>",
                b"<answer>[[10, 20, 30, 40]]</answer>", b'{"points": [[1.5, 2.5]]}',
                b"<answer>[(0.1, 0.2), (0.3, 0.4), (0.5, 0.6)]</answer>",
                b"<answer>1. navigate to kitchen\n2. pick cup\n3. place cup on table</answer>",
                b'[{"bbox_2d": [1, 2, 3, 4], "label": "cup"}]']

    def call(self, data: bytes) -> Any:
        text = text_of(data)
        p = self.parsers
        return (p.parse_points(text), p.parse_boxes(text), p.parse_trajectory(text), p.parse_plan(text))

    def feed(self, data: bytes) -> str:  # every parser gets every input
        labels = []
        for fn in (self.parsers.parse_points, self.parsers.parse_boxes, self.parsers.parse_trajectory,
                   self.parsers.parse_plan):
            self.call = lambda d, fn=fn: fn(text_of(d))  # type: ignore[method-assign]
            labels.append(Surface.feed(self, data))
        return "accepted" if "accepted" in labels else labels[0]


class PlanJsonSurface(Surface):
    """The master's LLM-planner reply parser (``parse_plan_json``)."""

    name, kind = "master_plan_json", "json"
    typed = (ValueError,)

    def __init__(self) -> None:
        from roboos.master.planning.prompt import parse_plan_json

        self.parse = parse_plan_json

    def seeds(self) -> list[Any]:
        return [{"steps": [{"id": "s1", "robot": "arm1", "skill": "pick", "args": {"object": "cup"}},
                           {"id": "s2", "robot": "arm1", "skill": "place", "args": {"target": "bin"},
                            "depends_on": ["s1"]}], "notes": "ok"}]

    def call(self, data: bytes) -> Any:
        text = text_of(data)
        return self.parse(("Sure, here: ```json\n" + text + "\n```") if data[:1] == b"{" else text)


class _FileSurface(Surface):
    """Surfaces that read a file: each input is written to one temp file and loaded."""

    suffix = ".yaml"

    def start(self) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="roboos-fuzz-")
        self.path = Path(self.tmp.name) / ("input" + self.suffix)

    def close(self) -> None:
        self.tmp.cleanup()

    def write(self, data: bytes) -> Path:
        self.path.write_bytes(data)
        return self.path


class YamlConfigSurface(_FileSurface):
    """YAML configs: the cloud config, the edge config and a hardware profile loaded from a fuzzed file."""

    name, kind = "yaml_configs", "text"

    def __init__(self) -> None:
        from roboos.config import ConfigError

        self.typed = (ConfigError,)

    def seeds(self) -> list[bytes]:
        from roboos.config import builtin_config
        from roboos.edge.profiles import builtin_dir

        files = [builtin_config("cloud.yaml"), builtin_config("edge.yaml")]
        files += sorted(Path(builtin_dir()).glob("*.yaml"))[:2]
        return [Path(f).read_bytes() for f in files]

    def call(self, data: bytes) -> Any:
        from roboos.config import load_config
        from roboos.edge.config import EdgeConfig
        from roboos.edge.profiles import HardwareProfile
        from roboos.master.config import CloudConfig

        path = self.write(data)
        out, error = [], None
        for model in (CloudConfig, EdgeConfig, HardwareProfile):
            try:
                out.append(load_config(model, path))
            except self.typed as exc:
                error = exc
        if not out and error is not None:
            raise error
        return out


class SkillPackageSurface(_FileSurface):
    """Skill-store package archives: safe unpack (zip-slip, links, sizes) + manifest + checksum + signature."""

    name, kind = "skill_package", "bytes"

    def __init__(self) -> None:
        from roboos.skills.store.errors import PackageError

        self.typed = (PackageError,)
        self.trusted: dict[str, bytes] = {}

    def seeds(self) -> list[bytes]:
        """An unsigned package and the same package signed (its key becomes the trusted one)."""
        from roboos.skills.store import generate_key, load_trusted_keys, sign_package
        from roboos.skills.store.archive import pack
        from roboos.skills.store.manifest import write_manifest

        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "pkg"
            root.mkdir()
            (root / "fuzzpkg.py").write_text("from roboos.skills import skill\n\n@skill\ndef wave(times: int = 1) -> str:\n"
                                             "    \"\"\"Wave.\"\"\"\n    return 'hi' * times\n")
            write_manifest(root, name="fuzzpkg", version="1.0.0")
            unsigned = pack(root)
            self.trusted = load_trusted_keys([generate_key(Path(tmp) / "key")])
            sign_package(root, Path(tmp) / "key")
            return [unsigned, pack(root)]

    def call(self, data: bytes) -> Any:
        import shutil

        from roboos.skills.store.archive import unpack
        from roboos.skills.store.manifest import SIGNATURE_NAME, read_manifest, verify_checksum
        from roboos.skills.store.signing import verify_package_signature

        dest = Path(self.tmp.name) / "pkg"
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir()
        unpack(data, dest)
        manifest = read_manifest(dest)
        verify_checksum(dest, manifest)
        if (dest / SIGNATURE_NAME).exists():
            verify_package_signature(dest, self.trusted)
        return manifest


IN_PROCESS = {cls.name: cls for cls in (ProtocolSurface, PolicyObservationSurface, RoboBrainParsersSurface,
                                        PlanJsonSurface, YamlConfigSurface, SkillPackageSurface)}
