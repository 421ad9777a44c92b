"""Jobs and team mode (manual §7; G2, G6, J1, J2, B5).

- ``history_sync``: the one history pager (B4 reconcile and J1 share it).
- ``history_import``: J1, calls no agent recorded → journal and events.
- ``robot_import`` + ``robot_source``: J2, SpRobot's DTMF answers → planned events.
- ``scheduler``: the runtime participant that wakes jobs on their schedule and runs
  each once per period team-wide (leases in the database).
- ``presence``: heartbeats, who is online (U10 seats), which keyring holds what.
- ``service``: ``attach_jobs(agent)``, the wiring the composition root calls.
- ``cli``: ``phonet-agent import-history`` / ``import-robot``.

Kept light: ``agent.runtime`` imports ``history_sync`` from here.
"""
