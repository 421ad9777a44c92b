"""The steps of ``python3 dev.py package`` (docs/packaging.md).

This folder is deliberately not a package named ``packaging`` (no ``__init__.py`` in
``packaging/``): PyPI's ``packaging`` must keep winning the import.
"""
