"""Packaging glue that pyproject.toml cannot express: webui/ ships inside the wheel.

The web UI lives at the top level (customer's layout) but is served from the
installed package, so it is mapped to the package ``agent.webui``.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["agent", "agent.*"]), "agent.webui"],
    package_dir={"agent.webui": "webui"},
    package_data={"agent": ["**/*.json", "py.typed"], "agent.webui": ["**/*"]},
    include_package_data=True,
)
