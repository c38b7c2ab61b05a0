"""The skill store: packages of ``@skill`` functions with manifests, SQLite storage and edge install."""

from roboos.skills.store.archive import pack, unpack
from roboos.skills.store.errors import PackageError
from roboos.skills.store.loader import load_installed_skills, load_package
from roboos.skills.store.manifest import MANIFEST_NAME, PackageManifest, compute_checksum, write_manifest
from roboos.skills.store.signing import generate_key, load_trusted_keys, sign_package
from roboos.skills.store.store import PackageRecord, SkillStore, install_archive

__all__ = ["MANIFEST_NAME", "PackageError", "PackageManifest", "PackageRecord", "SkillStore", "compute_checksum",
           "generate_key", "install_archive", "load_installed_skills", "load_package", "load_trusted_keys", "pack",
           "sign_package", "unpack", "write_manifest"]
