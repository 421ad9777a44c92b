"""Phonet Agent: a system-tray agent for operators of the Phonet cloud PBX."""

from agent.pg_driver import install as _keep_psycopg2_lazy

__version__ = "0.1.0"

_keep_psycopg2_lazy()  # before anything imports peewee (agent/pg_driver.py)
