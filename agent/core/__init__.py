"""The pure core: call and line state, dialer rules, parsing plans, schedules.

No I/O, no threads, no clock: it is fed events and ``now`` and returns effects
(architecture.md, "Three rings"). ``agent/core/ruff.toml`` enforces the bans.
"""
