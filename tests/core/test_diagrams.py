"""The state-machine docs are generated from the tables and kept true."""

from pathlib import Path

from agent.core.diagrams import mermaid
from agent.core.lines import TRANSITIONS

DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture" / "state-machines.md"


def test_the_lines_diagram_in_the_docs_matches_the_table() -> None:
    assert mermaid("lines (M2)", TRANSITIONS) in DOC.read_text(encoding="utf-8"), (
        "regenerate: python -c 'from agent.core.diagrams import mermaid; "
        'from agent.core.lines import TRANSITIONS; print(mermaid("lines (M2)", TRANSITIONS))\''
    )
