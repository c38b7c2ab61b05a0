"""The one error type of the skill store: a stable ``code`` plus a message a user can act on."""

from __future__ import annotations

from typing import Any

CODES = (
    "bad_archive",  # not a zip, too large, path traversal, links, ...
    "missing_manifest",
    "missing_manifest_field",
    "bad_manifest",
    "checksum_mismatch",
    "import_error",  # the module raised while importing
    "bad_skill",  # a function without type hints, no @skill functions, embodiment mismatch, ...
    "bad_package",
    "not_found",
    "already_exists",
    "install_error",
    "unsigned",  # trusted keys are configured and the package has no signature
    "untrusted_key",  # signed by a key that is not trusted
    "bad_signature",  # malformed signature file, or it does not verify
    "bad_key",  # an unreadable / malformed signing or public key
)


class PackageError(Exception):
    """A skill package was refused (``code`` is one of :data:`CODES`)."""

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"
