"""FlagGems switch: route PyTorch ATen operators to the ``flag_gems`` Triton kernels (PyPI ``flag-gems``)."""

from __future__ import annotations

import importlib.util


class FlagGemsUnavailableError(RuntimeError):
    """``--flaggems`` was asked for but the library cannot be used here."""

    code = "flaggems_unavailable"


def flaggems_status() -> dict:
    """Whether flag_gems is importable, without enabling it."""
    return {"installed": importlib.util.find_spec("flag_gems") is not None}


def enable_flaggems(strict: bool = True) -> dict:
    """Enable flag_gems globally (``flag_gems.enable()``); returns a status dict.

    With ``strict`` a missing or failing install raises :class:`FlagGemsUnavailableError` with a clear
    message; otherwise the status says why it is off.
    """
    if importlib.util.find_spec("flag_gems") is None:
        msg = "FlagGems is not installed (pip install flag-gems); running with stock PyTorch operators"
        if strict:
            raise FlagGemsUnavailableError(msg)
        return {"enabled": False, "reason": msg}
    try:
        import flag_gems

        flag_gems.enable()
    except Exception as exc:  # a CUDA/Triton mismatch surfaces here
        msg = f"FlagGems is installed but could not be enabled: {type(exc).__name__}: {exc}"
        if strict:
            raise FlagGemsUnavailableError(msg) from exc
        return {"enabled": False, "reason": msg}
    return {"enabled": True, "version": getattr(flag_gems, "__version__", "unknown")}
