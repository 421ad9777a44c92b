"""Docs diagrams generated from the state tables (architecture.md, rule 2).

``docs/architecture/state-machines.md`` embeds the output; a test keeps them equal.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


def mermaid(title: str, table: Mapping[tuple[StrEnum, StrEnum], tuple[StrEnum, StrEnum]]) -> str:
    """A mermaid state diagram of a (state, event) -> (next state, step) table."""
    lines = ["```mermaid", "stateDiagram-v2", f"    %% {title}"]
    for (state, event), (next_state, step) in table.items():
        if state == next_state and str(step) == "nothing":
            continue  # duplicates and echoes: no arrow
        lines.append(f"    {state} --> {next_state}: {event} / {step}")
    lines.append("```")
    return "\n".join(lines)
