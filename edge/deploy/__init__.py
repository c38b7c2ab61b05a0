"""``roboos deploy``: self-contained, verifiable edge bundles (config, skills, models, keys, launcher)."""

from roboos.edge.deploy.manifest import MANIFEST, BundleError, Manifest, verify_bundle
from roboos.edge.deploy.bundle import load_bundle_config

__all__ = ["MANIFEST", "BundleError", "Manifest", "load_bundle_config", "verify_bundle"]
