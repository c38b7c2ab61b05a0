"""Validate a package directory in a separate process: ``python -m roboos.skills.store.inspect_pkg DIR``.

Prints one JSON object: ``{"ok": true, "manifest": {...}, "cards": [...]}`` or
``{"ok": false, "code": ..., "message": ...}``. The store runs this in a child process so that a
published package's import-time code never runs inside the store server.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    from roboos.skills.store.errors import PackageError
    from roboos.skills.store.loader import cards_of, load_package

    try:
        manifest, specs = load_package(Path(argv[0]))
        out = {"ok": True, "manifest": manifest.model_dump(mode="json"),
               "cards": [c.model_dump(mode="json") for c in cards_of(specs)]}
    except PackageError as exc:
        out = {"ok": False, "code": exc.code, "message": exc.message}
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
