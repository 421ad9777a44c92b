"""Phonet Agent: a system-tray agent for operators of the Phonet cloud PBX."""

__version__ = "0.1.0"
