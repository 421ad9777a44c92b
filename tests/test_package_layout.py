"""The wheel carries every module of the agent: setup.py's find_packages() only finds
directories with an ``__init__.py`` (agent/dialer once had none, and the frozen agent
stopped at start with "No module named 'agent.dialer'")."""

from __future__ import annotations

from pathlib import Path

AGENT = Path(__file__).resolve().parent.parent / "agent"


def test_every_directory_of_python_modules_is_a_package() -> None:
    missing = sorted(
        str(d.relative_to(AGENT.parent))
        for d in [AGENT, *AGENT.rglob("*")]
        if d.is_dir()
        and not d.name.startswith((".", "__"))
        and any(d.glob("*.py"))
        and not (d / "__init__.py").exists()
    )
    assert missing == [], f"add an __init__.py to: {missing}"
