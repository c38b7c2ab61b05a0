"""Map the repository's top-level folders onto the ``roboos`` import namespace.

The design card keeps ``brain/``, ``skills/``, ``edge/``, ``sim/``, ``configs/`` and ``protos/`` at the
top level of the repository, but generic top-level import names would collide with other packages in a
user's environment. Every folder is therefore installed as a sub-package of ``roboos`` (``skills/`` ->
``roboos.skills`` and so on). Wheels and editable installs both go through this one mapping.
"""

from setuptools import find_packages, setup

FOLDERS = {
    "roboos": "roboos",
    "roboos.brain": "brain",
    "roboos.skills": "skills",
    "roboos.edge": "edge",
    "roboos.sim": "sim",
    "roboos.configs": "configs",
    "roboos.protos": "protos",
}

packages: list[str] = []
package_dir: dict[str, str] = {}
for package, folder in FOLDERS.items():
    package_dir[package] = folder
    packages.append(package)
    packages += [f"{package}.{sub}" for sub in find_packages(folder)]

setup(
    packages=packages,
    package_dir=package_dir,
    package_data={
        "roboos.configs": ["**/*.yaml", "**/*.json"],
        "roboos.protos": ["*.proto"],
        "roboos.sim": ["**/*.xml", "**/*.yaml", "**/*.png"],
        "roboos.skills": ["**/*.yaml", "**/*.json"],
        "roboos": ["**/*.html", "**/*.js", "**/*.css", "**/*.svg"],
    },
    include_package_data=True,
)
