"""PreTune: kernel configs per (N, K, group, dtype) and M bucket, stored offline as a table keyed by GPU name,
looked up at run time with no online search; shapes missing from the table fall back to a heuristic.

Table file: ``configs/kernels/<gpu-slug>.json`` (slug of ``torch.cuda.get_device_name()``, e.g.
``nvidia-h100-80gb-hbm3.json``)::

    {"gpu": "NVIDIA H100 80GB HBM3", "triton": "3.6.0", "created": "...",
     "entries": {"n4608_k3584_g0_bfloat16": {"1": {"kind": "gemv", ...}, "4": {...}, ...}}}

Bucket ``b`` serves every M with ``previous bucket < M <= b``; M beyond the largest bucket uses the largest.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from pathlib import Path

M_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
KINDS = ("gemv", "gemm", "flag_gems", "gemv_persistent", "gemv_pdl")  # gemv_persistent: group_m = programs/SM
TABLE_DIR = Path(__file__).resolve().parents[2] / "configs" / "kernels"
SM_COUNT_DEFAULT = 132


class ConfigTableError(ValueError):
    """A kernel config table file or entry is malformed."""


@dataclass(frozen=True)
class KernelConfig:
    """Which kernel runs and with which blocks."""

    kind: str = "gemm"
    block_m: int = 16
    block_n: int = 64
    block_k: int = 128
    split_k: int = 1
    group_m: int = 8
    num_warps: int = 4
    num_stages: int = 2

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigTableError(f"kernel kind {self.kind!r} not in {KINDS}")
        for name in ("block_m", "block_n", "block_k", "split_k", "group_m", "num_warps", "num_stages"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1 or value > 16384:
                raise ConfigTableError(f"{name} must be an int in [1, 16384], got {value!r}")
        for name in ("block_m", "block_n", "block_k", "num_warps"):
            value = getattr(self, name)
            if value & (value - 1):
                raise ConfigTableError(f"{name} must be a power of two, got {value}")
        if self.kind == "gemm" and min(self.block_m, self.block_n, self.block_k) < 16:
            raise ConfigTableError("gemm blocks must be >= 16 (tensor-core tiles)")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> KernelConfig:
        if not isinstance(data, dict):
            raise ConfigTableError(f"kernel config must be a mapping, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known - {"time_us", "gbps"}
        if unknown:
            raise ConfigTableError(f"unknown kernel config keys {sorted(unknown)}")
        return cls(**{k: v for k, v in data.items() if k in known})


def shape_key(n: int, k: int, group_size: int, dtype_name: str) -> str:
    """Table key of one weight shape, e.g. ``n4608_k3584_g0_bfloat16``."""
    return f"n{int(n)}_k{int(k)}_g{int(group_size)}_{dtype_name}"


def m_bucket(m: int) -> int:
    """The smallest bucket >= m (or the largest bucket)."""
    for b in M_BUCKETS:
        if m <= b:
            return b
    return M_BUCKETS[-1]


def gpu_slug(name: str) -> str:
    """File-name slug of a GPU name: ``NVIDIA H100 80GB HBM3`` -> ``nvidia-h100-80gb-hbm3``."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if not slug:
        raise ConfigTableError(f"empty GPU name {name!r}")
    return slug


def heuristic_config(m: int, n: int, k: int, group_size: int = 0, sm_count: int = SM_COUNT_DEFAULT
                     ) -> KernelConfig:
    """A sensible config when the table has no entry (no search, pure arithmetic on the shape)."""
    if m == 1:
        block_k = max(512, group_size) if group_size else 512
        block_n = 8
        while block_n > 2 and (n + block_n - 1) // block_n < 2 * sm_count:
            block_n //= 2
        programs = (n + block_n - 1) // block_n
        split_k = 1
        while programs * split_k < 2 * sm_count and k // (block_k * split_k * 2) >= 2:
            split_k *= 2
        return KernelConfig("gemv", 1, block_n, block_k, split_k, 1, 4, 3)
    if m <= 16:
        block_n, block_k = 64, (group_size or 256)
        programs = (n + block_n - 1) // block_n
        split_k = 1
        while programs * split_k < sm_count and k // (block_k * split_k * 2) >= 2:
            split_k *= 2
        return KernelConfig("gemm", 16, block_n, block_k, split_k, 8, 4, 3)
    if m <= 64:
        return KernelConfig("gemm", 64 if m > 32 else 32, 128, group_size or 128, 1, 8, 4, 3)
    return KernelConfig("gemm", 128, 128, group_size or 64, 1, 8, 8, 3)


@dataclass
class ConfigTable:
    """An in-memory PreTune table: ``entries[shape_key][bucket] -> KernelConfig``."""

    gpu: str
    entries: dict[str, dict[int, KernelConfig]]
    meta: dict

    def lookup(self, m: int, n: int, k: int, group_size: int, dtype_name: str) -> KernelConfig | None:
        by_bucket = self.entries.get(shape_key(n, k, group_size, dtype_name))
        if not by_bucket:
            return None
        bucket = m_bucket(m)
        if bucket in by_bucket:
            return by_bucket[bucket]
        larger = [b for b in sorted(by_bucket) if b >= bucket]  # nearest tuned bucket above, else below
        return by_bucket[larger[0] if larger else max(by_bucket)]

    def to_json(self) -> dict:
        entries = {key: {str(b): {**cfg.to_dict(), **self.meta.get("timings", {}).get(key, {}).get(str(b), {})}
                         for b, cfg in sorted(by.items())} for key, by in sorted(self.entries.items())}
        meta = {k: v for k, v in self.meta.items() if k != "timings"}
        return {"gpu": self.gpu, **meta, "entries": entries}

    @classmethod
    def from_json(cls, data: dict) -> ConfigTable:
        if not isinstance(data, dict) or not isinstance(data.get("gpu"), str):
            raise ConfigTableError("kernel table must be a mapping with a 'gpu' name")
        raw = data.get("entries")
        if not isinstance(raw, dict):
            raise ConfigTableError("kernel table needs an 'entries' mapping")
        entries: dict[str, dict[int, KernelConfig]] = {}
        for key, by in raw.items():
            if not re.fullmatch(r"n\d+_k\d+_g\d+_[a-z0-9]+", str(key)) or not isinstance(by, dict):
                raise ConfigTableError(f"bad table entry key {key!r}")
            try:
                entries[key] = {int(b): KernelConfig.from_dict(cfg) for b, cfg in by.items()}
            except (TypeError, ValueError) as exc:
                raise ConfigTableError(f"entry {key}: {exc}") from exc
        meta = {k: v for k, v in data.items() if k not in ("gpu", "entries")}
        return cls(data["gpu"], entries, meta)

    def save(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=1) + "\n")
        return path


def table_path(gpu_name: str, directory: Path | None = None) -> Path:
    return Path(directory or TABLE_DIR) / f"{gpu_slug(gpu_name)}.json"


def load_table(path: Path) -> ConfigTable:
    """Read and validate one table file."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigTableError(f"{path}: {exc}") from exc
    return ConfigTable.from_json(data)


@lru_cache(maxsize=8)
def table_for_gpu(gpu_name: str, directory: str | None = None) -> ConfigTable | None:
    """The committed table of this GPU, or ``None`` (then every lookup uses the heuristic)."""
    path = table_path(gpu_name, Path(directory) if directory else None)
    return load_table(path) if path.is_file() else None


def select_config(m: int, n: int, k: int, group_size: int, dtype_name: str,
                  table: ConfigTable | None, sm_count: int = SM_COUNT_DEFAULT) -> tuple[KernelConfig, str]:
    """Config for one call and where it came from (``"table"`` or ``"heuristic"``)."""
    if table is not None:
        cfg = table.lookup(m, n, k, group_size, dtype_name)
        if cfg is not None:
            return cfg, "table"
    return heuristic_config(m, n, k, group_size, sm_count), "heuristic"
