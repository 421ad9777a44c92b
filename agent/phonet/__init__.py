"""Adapters to the Phonet PBX: ``wire`` (pure translation), ``rest`` (httpx), ``live`` (websockets).

See ``docs/architecture/pbx-client.md``.
"""
