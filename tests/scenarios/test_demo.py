"""`phonet-agent demo` (contracts.md §2): a newcomer sees a popup for each scripted call
and the journal lists them with their talk seconds and outcomes (issue 2, "Done when")."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_pops_up_every_scripted_call_and_journals_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("PHONET_API_KEY", None)
    result = subprocess.run(
        [sys.executable, "-m", "agent", "demo", "--once", "--speed", "4",
         "--data-dir", str(tmp_path / "demo")],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "web-ui: http://127.0.0.1:" in out
    for line in (
        'popup ring in +380442249895 "',
        "popup hangup in +380442249895",
        "popup dial out +380501234567",
        "popup ring in +380671112233",
        "popup dial out +380931234567",
        "popup dial internal 002",
    ):
        assert line in out, f"{line!r} not in the demo's output:\n{out}"
    journal = out[out.index("journal:") :].splitlines()[1:]
    rows = [line.split() for line in journal if line.strip()]
    assert [r[0] for r in rows] == ["in", "out", "in", "out", "internal"]
    outcomes = {r[1]: r[2] for r in rows}
    assert outcomes["+380671112233"] == "no_answer"
    assert outcomes["+380931234567"] == "busy"
    talk = {r[1]: r[3] for r in rows}
    assert talk["+380442249895"] == "talk=3s"  # 12 s at 4x speed
    assert talk["+380671112233"] == "talk=0s"
