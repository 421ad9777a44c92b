"""The agent's local API (contracts.md §4): Starlette inside the agent's loop."""
