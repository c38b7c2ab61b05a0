"""Live fuzz surfaces: garbage sent to real servers over loopback, then a valid request must still be
answered (the process keeps serving). Servers run as child processes (cloud, edge) or in a thread
(policy websocket, brain HTTP) with the tiny models the tests use; memory is the serving process's RSS.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from roboos.bench.fuzz_surfaces import FuzzFinding, Surface


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _ChildProcess:
    """A ``roboos ...`` child process with its log in a temp file; killed with its process group."""

    def __init__(self, args: list[str]) -> None:
        self.log = Path(tempfile.mkstemp(prefix="roboos-fuzz-", suffix=".log")[1])
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "roboos.cli.main", *args], stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-10:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log.unlink(missing_ok=True)


def _frames(data: bytes) -> list[bytes]:
    """Envelope + 0..3 array frames (the first byte picks how many)."""
    extra = data[0] % 4 if data else 0
    arrays = [np.zeros((4, 4, 3), np.uint8).tobytes(), np.ones(5, np.float32).tobytes(), b"\x01\x02"]
    return [data[1:], *arrays[:extra]]


def _envelope_seeds(types: list[tuple[str, dict[str, Any]]]) -> list[bytes]:
    from roboos.protocol import Envelope, MsgType, encode

    out = []
    for mtype, body in types:
        frames = encode(Envelope(MsgType(mtype), body, src="arm1"))
        out.append(bytes([len(frames) - 1]) + bytes(frames[0]))
    return out


class CloudRouterSurface(Surface):
    """The cloud's ZeroMQ ROUTER (``roboos cloud`` process): garbage from fresh and registered identities."""

    name, kind, live = "cloud_router", "bytes", True

    def start(self) -> None:
        import zmq

        self.port, self.grpc_port = free_port(), free_port()
        self.child = _ChildProcess(["cloud", "--set", f"bind=tcp://127.0.0.1:{self.port}", "--set",
                                    f"control_plane.bind=127.0.0.1:{self.grpc_port}", "--set", "memory.backend=local",
                                    "--set", "dashboard.enabled=false", *self.cloud_args(), "--log-level", "WARNING"])
        self.ctx = zmq.Context()
        self.sock = self._dealer(b"fuzz-robot")
        self.n, self.replies = 0, {}
        if not self.alive(timeout=60):
            raise RuntimeError("cloud did not start:\n" + self.child.tail())

    def cloud_args(self) -> list[str]:
        """Extra ``roboos cloud`` arguments of a subclass."""
        return []

    def _dealer(self, identity: bytes) -> Any:
        import zmq

        sock = self.ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.IDENTITY, identity)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(f"tcp://127.0.0.1:{self.port}")
        return sock

    def seeds(self) -> list[bytes]:
        return _envelope_seeds([("hello", {"robot": "fuzz-robot", "embodiment": "arm", "skills": []}),
                                ("heartbeat", {"seq": 1}), ("state", {"state": {"battery": 0.5}}),
                                ("result", {"ok": True, "value": 1}), ("event", {"kind": "x", "data": {}}),
                                ("observation", {"image": np.zeros((4, 4, 3), np.uint8)})])

    def pid(self) -> int:
        return self.child.proc.pid

    def feed(self, data: bytes) -> str:
        import zmq

        self.n += 1
        for _ in range(200):
            try:
                self.sock.send_multipart(_frames(data), zmq.NOBLOCK)
                break
            except zmq.Again:
                self._drain()
                time.sleep(0.005)
        else:
            raise FuzzFinding(self.name, data, "cloud stopped reading (send queue full for 1 s)")
        if self.n % 8 == 0:
            self._drain()
        return "sent"

    def _drain(self) -> str:
        import zmq

        from roboos.protocol import ProtocolError, decode

        last = "none"
        while True:
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return last
            try:
                env = decode(frames)
                last = str(env.body.get("code", env.type.value))
            except ProtocolError:
                last = "undecodable_reply"
            self.replies[last] = self.replies.get(last, 0) + 1

    def alive(self, timeout: float = 10.0) -> bool:
        """A fresh identity registers with a valid HELLO and gets WELCOME."""
        import zmq

        from roboos.protocol import Envelope, MsgType, decode, encode

        if not self.child.alive():
            return False
        probe = self._dealer(f"probe-{time.monotonic_ns()}".encode())
        robot = probe.getsockopt(zmq.IDENTITY).decode()
        try:
            deadline = time.monotonic() + timeout
            hello = Envelope(MsgType.HELLO, {"robot": robot, "embodiment": "arm", "skills": []}, src=robot)
            while time.monotonic() < deadline:
                probe.send_multipart(encode(hello))
                if probe.poll(500):
                    env = decode(probe.recv_multipart())
                    if env.type is MsgType.WELCOME:
                        probe.send_multipart(encode(Envelope(MsgType.BYE, {"reason": "probe done"}, src=robot)))
                        return True
            return False
        finally:
            probe.close(100)

    def close(self) -> None:
        self.sock.close(0)
        self.ctx.term()
        self.child.stop()


class GrpcSurface(CloudRouterSurface):
    """The gRPC control plane of the same ``roboos cloud`` process: raw bytes to every method.

    Every answer must be a deliberate status (``INVALID_ARGUMENT`` for undecodable bytes, ``NOT_FOUND``,
    ...); ``UNKNOWN`` (an unhandled server exception), a deadline or a dropped server is a finding.
    """

    name, kind = "grpc_control", "bytes"
    SERVICE = "/roboos.control.v1.RoboOS/"
    METHODS: tuple[str, ...] = ("SubmitTask", "CancelTask", "GetTask", "ListTasks", "ListRobots", "WatchTask")
    STREAMING: frozenset[str] = frozenset({"WatchTask"})

    def start(self) -> None:
        import grpc

        super().start()
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.grpc_port}")
        self.calls = {m: (self.channel.unary_stream if m in self.STREAMING else self.channel.unary_unary)(
            self.SERVICE + m) for m in self.METHODS}

    def seeds(self) -> list[bytes]:
        from roboos.controlplane.gen import control_pb2 as pb

        return [b"\x00" + pb.SubmitTaskRequest(instruction="put the toy block in the bin").SerializeToString(),
                b"\x02" + pb.GetTaskRequest(task_id="abc").SerializeToString(),
                b"\x05" + pb.WatchTaskRequest(task_id="abc").SerializeToString(), b"\x04"]

    def feed(self, data: bytes) -> str:
        import grpc

        method = self.METHODS[data[0] % len(self.METHODS)] if data else self.METHODS[-1]
        try:
            reply = self.calls[method](data[1:], timeout=30)
            if method in self.STREAMING:
                for _ in reply:
                    break
                reply.cancel()
        except grpc.RpcError as exc:
            code = exc.code()
            if code in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE,
                        grpc.StatusCode.INTERNAL):
                raise FuzzFinding(self.name, data, f"{method}: {code.name}: {exc.details()}") from None
            return f"rejected:{code.name}"
        return "accepted"

    def probe(self, timeout: float) -> None:
        """One valid call (raises on failure)."""
        from roboos.controlplane.gen import control_pb2 as pb

        self.calls["ListRobots"](pb.ListRobotsRequest().SerializeToString(), timeout=timeout)

    def alive(self, timeout: float = 10.0) -> bool:
        if not super().alive(timeout):
            return False
        if not hasattr(self, "calls"):
            return True
        try:
            self.probe(timeout)
            return True
        except Exception:  # noqa: BLE001
            return False

    def close(self) -> None:
        if hasattr(self, "channel"):
            self.channel.close()
        super().close()


class SkillStoreGrpcSurface(GrpcSurface):
    """The skill-store gRPC service of a ``roboos cloud`` with ``control_plane.skill_store`` set: raw bytes to
    Publish / List / Search / Get. One package is published first, so valid-looking archives meet a store
    with content (and a repeated name+version is refused before any import)."""

    name = "grpc_skillstore"
    SERVICE = "/roboos.skillstore.SkillStoreService/"
    METHODS = ("Publish", "List", "Search", "Get")
    STREAMING = frozenset()

    def cloud_args(self) -> list[str]:
        self.tmp = tempfile.TemporaryDirectory(prefix="roboos-fuzz-store-")
        return ["--set", f"control_plane.skill_store={Path(self.tmp.name) / 'store.db'}"]

    def start(self) -> None:
        from roboos.controlplane.gen import skillstore_pb2 as pb

        super().start()
        self.calls["Publish"](pb.PublishRequest(archive=_package_archive()).SerializeToString(), timeout=120)

    def seeds(self) -> list[bytes]:
        from roboos.controlplane.gen import skillstore_pb2 as pb

        return [b"\x00" + pb.PublishRequest(archive=_package_archive()).SerializeToString(),
                b"\x01" + pb.ListRequest(all_versions=True).SerializeToString(),
                b"\x02" + pb.SearchRequest(query="wave twice", k=3, embodiments=["arm"]).SerializeToString(),
                b"\x03" + pb.GetRequest(name="fuzzpkg", version="1.0.0", with_archive=True).SerializeToString()]

    def probe(self, timeout: float) -> None:
        from roboos.controlplane.gen import skillstore_pb2 as pb

        reply = self.calls["Get"](pb.GetRequest(name="fuzzpkg").SerializeToString(), timeout=timeout)
        if pb.GetReply.FromString(reply).package.name != "fuzzpkg":
            raise RuntimeError("the store lost its package")

    def close(self) -> None:
        super().close()
        self.tmp.cleanup()


def _package_archive() -> bytes:
    from roboos.bench.fuzz_surfaces import SkillPackageSurface

    return SkillPackageSurface().seeds()[0]


class EdgeDealerSurface(Surface):
    """A ``roboos edge`` process (sim robots) fed garbage by a fake cloud ROUTER; a CALL must still be answered."""

    name, kind, live = "edge_dealer", "bytes", True

    def start(self) -> None:
        import zmq

        self.ctx = zmq.Context()
        self.router = self.ctx.socket(zmq.ROUTER)
        self.router.setsockopt(zmq.LINGER, 0)
        self.router.setsockopt(zmq.ROUTER_MANDATORY, 0)
        port = self.router.bind_to_random_port("tcp://127.0.0.1")
        self.child = _ChildProcess(["edge", "--cloud", f"tcp://127.0.0.1:{port}", "--time-scale", "0", "--log-level",
                                    "WARNING"])
        self.robots: set[bytes] = set()
        self.replies: dict[str, Any] = {}
        deadline = time.monotonic() + 60
        while len(self.robots) < 1 and time.monotonic() < deadline and self.child.alive():
            self._pump(0.2)
        if not self.robots:
            raise RuntimeError("edge did not say HELLO:\n" + self.child.tail())
        self.target = min(self.robots)

    def seeds(self) -> list[bytes]:
        return _envelope_seeds([("welcome", {"cloud": "fuzz"}), ("heartbeat", {"seq": 1}),
                                ("call", {"skill": "pick", "args": {"object": "cup"}}), ("cancel", {"call_id": "x"}),
                                ("action", {"actions": np.zeros((2, 3), np.float32)}), ("error", {"code": "x", "message": ""})])

    def pid(self) -> int:
        return self.child.proc.pid

    def _pump(self, wait_s: float = 0.0) -> None:
        """Answer HELLO with WELCOME and HEARTBEAT with HEARTBEAT; keep correlated replies."""
        import zmq

        from roboos.protocol import Envelope, MsgType, ProtocolError, decode, encode

        if wait_s and not self.router.poll(int(wait_s * 1000)):
            return
        while True:
            try:
                identity, *frames = self.router.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                env = decode(frames)
            except ProtocolError:
                continue
            if env.type is MsgType.HELLO:
                self.robots.add(identity)
                reply = env.reply(MsgType.WELCOME, {"cloud": "fuzz", "heartbeat_interval_s": 0.5,
                                                    "heartbeat_timeout_s": 30.0, "cloud_time_ns": time.time_ns()})
            elif env.type is MsgType.HEARTBEAT:
                reply = Envelope(MsgType.HEARTBEAT, {"seq": 0}, src="cloud", dst=env.src)
            else:
                if env.reply_to:
                    self.replies[env.reply_to] = env
                continue
            self.router.send_multipart([identity, *encode(reply)])

    def feed(self, data: bytes) -> str:
        self.router.send_multipart([self.target, *_frames(data)])
        self._pump()
        return "sent"

    def alive(self, timeout: float = 10.0) -> bool:
        from roboos.protocol import Envelope, MsgType, encode

        if not self.child.alive():
            return False
        call = Envelope(MsgType.CALL, {"skill": "no_such_skill", "args": {}}, src="cloud", dst=self.target.decode())
        deadline = time.monotonic() + timeout
        next_send = 0.0
        while time.monotonic() < deadline:
            if time.monotonic() >= next_send:  # the same id again: the edge de-duplicates
                self.router.send_multipart([self.target, *encode(call)])
                next_send = time.monotonic() + 1.0
            self._pump(0.1)
            if self.replies.pop(call.id, None) is not None:
                return True
        return False

    def close(self) -> None:
        self.router.close(0)
        self.ctx.term()
        self.child.stop()


class PolicyWebsocketSurface(Surface):
    """The openpi-compatible websocket endpoint serving a tiny random π0 (in a thread of this process)."""

    name, kind, live = "policy_websocket", "msgpack", True

    def start(self) -> None:
        from roboos.brain.policies.pi0.policy import Pi0Policy
        from roboos.brain.policy_server.server import BackgroundPolicyServer

        self.server = BackgroundPolicyServer(Pi0Policy.from_checkpoint(None, preset_name="tiny", seed=0), port=0,
                                             zmq_bind=None, gather_ms=1.0)
        self.server.__enter__()
        self.url = self.server.server.addresses.websocket if hasattr(self.server.server.addresses, "websocket") \
            else self.server.server.addresses[0]
        self.conn = None

    def seeds(self) -> list[Any]:
        from roboos.bench.fuzz_surfaces import PolicyObservationSurface

        return PolicyObservationSurface.seeds(self)  # type: ignore[arg-type]

    def _connect(self) -> Any:
        from websockets.sync.client import connect

        conn = connect(self.url, max_size=None, open_timeout=10)
        conn.recv(timeout=10)  # metadata
        return conn

    def feed(self, data: bytes) -> str:
        from websockets.exceptions import ConnectionClosed

        from roboos.brain.policy_server.codec import unpack

        if self.conn is None:
            self.conn = self._connect()
        try:
            self.conn.send(data)
            reply = self.conn.recv(timeout=30)
        except TimeoutError:
            raise FuzzFinding(self.name, data, "no reply within 30 s") from None
        except ConnectionClosed as exc:
            self.conn = None
            raise FuzzFinding(self.name, data, f"connection dropped: {exc}") from None
        if isinstance(reply, str):
            return "rejected:" + (reply.split(":", 1)[0][:40] or "error")
        return "accepted" if isinstance(unpack(reply), dict) else "rejected:other"

    def alive(self, timeout: float = 10.0) -> bool:
        from roboos.brain.policy_server.codec import pack

        try:
            conn = self._connect()
            try:
                conn.send(pack(self.seeds()[0]))
                return not isinstance(conn.recv(timeout=timeout), str)
            finally:
                conn.close()
        except Exception:  # noqa: BLE001
            return False

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.server.__exit__(None, None, None)


class BrainHttpSurface(Surface):
    """The brain server's OpenAI-compatible HTTP API with a tiny random RoboBrain (uvicorn in a thread)."""

    name, kind, live = "brain_http", "json", True
    PATHS = ("/v1/chat/completions", "/v1/robobrain/pointing", "/v1/robobrain/planning")

    def start(self) -> None:
        import threading

        import httpx
        import uvicorn

        from roboos.brain.robobrain.tiny import make_tiny_robobrain
        from roboos.brain.server.serve import build_app
        from roboos.brain.server.settings import ServerSettings

        self.tmp = tempfile.TemporaryDirectory(prefix="roboos-fuzz-brain-")
        model = make_tiny_robobrain(Path(self.tmp.name) / "RoboBrain2.0-7B-tiny")
        app = build_app(ServerSettings(model=str(model), max_seq_len=1024, default_max_tokens=8,
                                       max_new_tokens_limit=16), progress=False)
        port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("brain server did not start")
            time.sleep(0.05)
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)

    def seeds(self) -> list[Any]:
        return [{"model": "RoboBrain2.0-7B-tiny", "max_tokens": 4,
                 "messages": [{"role": "user", "content": "where is the cup?"}]},
                {"model": "RoboBrain2.0-7B-tiny", "max_tokens": 4, "stream": True,
                 "messages": [{"role": "system", "content": "be brief"},
                              {"role": "user", "content": [{"type": "text", "text": "hi"}]}]},
                {"prompt": "point at the cup", "max_tokens": 4}]

    def feed(self, data: bytes) -> str:
        import httpx

        path = self.PATHS[len(data) % len(self.PATHS)]
        try:
            resp = self.client.post(path, content=data, headers={"content-type": "application/json"})
        except httpx.HTTPError as exc:
            raise FuzzFinding(self.name, data, f"{path}: {type(exc).__name__}: {exc}") from None
        if resp.status_code >= 500 and resp.status_code not in (503,):
            raise FuzzFinding(self.name, data, f"{path}: HTTP {resp.status_code}: {resp.text[:200]}")
        if resp.status_code >= 400:
            try:
                error = resp.json()["error"]  # the OpenAI error shape, also for a body that is not JSON
                code = error["code"]
                assert isinstance(error["message"], str) and isinstance(error["type"], str) and isinstance(code, str)
            except Exception:  # noqa: BLE001
                raise FuzzFinding(self.name, data, f"{path}: HTTP {resp.status_code} without an OpenAI error body: "
                                                   f"{resp.text[:200]}") from None
            return f"rejected:{resp.status_code}:{code}"
        return "accepted"

    def alive(self, timeout: float = 10.0) -> bool:
        return self.client.post(self.PATHS[0], json=self.seeds()[0], timeout=timeout).status_code == 200

    def close(self) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(15)
        self.tmp.cleanup()


LIVE = {cls.name: cls for cls in (CloudRouterSurface, EdgeDealerSurface, GrpcSurface, SkillStoreGrpcSurface,
                                  PolicyWebsocketSurface, BrainHttpSurface)}
