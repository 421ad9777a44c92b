"""`phonet-agent doctor` says what is wrong, in words, and exits as the CLI does
(contracts.md §2): 0 nothing failed, 3 not configured or unreachable, 4 key refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cli import main
from agent.doctor import Verdict, check_desktop
from agent.simulator import SimulatorInfo


def doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object]]:
    code = main(["doctor", "--no-desktop", "--json", *args])
    report = json.loads(capsys.readouterr().out)
    assert report["exit_code"] == code
    return code, {f["area"]: f for f in report["findings"]}


def test_a_configured_agent_with_a_good_key_passes_every_check(
    simulator: SimulatorInfo,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PHONET_API_KEY", simulator.api_key)
    code, found = doctor(
        capsys,
        *("--data-dir", str(tmp_path), "--base-url", simulator.base_url),
        *("--domain", simulator.domain, "--ext", "001"),
    )
    assert code == 0
    assert found["PBX"]["verdict"] == "ok"  # type: ignore[index]
    assert found["extension"]["verdict"] == "ok"  # type: ignore[index]
    assert found["database"]["verdict"] == "ok"  # type: ignore[index]
    assert found["licence"]["verdict"] == "warn"  # one seat without a key: works, says so


def test_a_refused_key_exits_4_and_the_key_is_never_printed(
    simulator: SimulatorInfo,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PHONET_API_KEY", "not-the-key-4f9a1c")
    code = main(
        [
            "doctor",
            "--no-desktop",
            *("--data-dir", str(tmp_path), "--base-url", simulator.base_url),
            *("--domain", simulator.domain, "--ext", "001"),
        ]
    )
    out = capsys.readouterr()
    assert code == 4
    assert "refused the API key" in out.out
    assert "not-the-key-4f9a1c" not in out.out + out.err


def test_an_unreachable_pbx_exits_3_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHONET_API_KEY", "k")
    code, found = doctor(
        capsys,
        *("--data-dir", str(tmp_path), "--base-url", "http://127.0.0.1:1"),
        *("--domain", "x.phonet.com.ua", "--ext", "001"),
    )
    assert code == 3
    assert found["PBX"]["verdict"] == "fail"  # type: ignore[index]
    assert "127.0.0.1:1" in found["PBX"]["words"]  # type: ignore[index]


def test_an_unknown_extension_is_a_warning(
    simulator: SimulatorInfo,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PHONET_API_KEY", simulator.api_key)
    code, found = doctor(
        capsys,
        *("--data-dir", str(tmp_path), "--base-url", simulator.base_url),
        *("--domain", simulator.domain, "--ext", "977"),
    )
    assert code == 0
    assert found["extension"]["verdict"] == "warn"  # type: ignore[index]


def test_not_configured_exits_3_and_says_how_to_configure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PHONET_API_KEY", raising=False)
    code, found = doctor(capsys, "--data-dir", str(tmp_path))
    assert code == 3
    assert "phonet-agent configure" in found["configuration"]["words"]  # type: ignore[index]
    assert "PBX" not in found  # nothing to reach yet


def test_a_database_that_cannot_be_opened_is_a_failure_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHONET_API_KEY", "k")
    code, found = doctor(
        capsys,
        *("--data-dir", str(tmp_path), "--db", "postgresql://u:secretpw@127.0.0.1:1/none"),
        *("--domain", "x.phonet.com.ua", "--ext", "001", "--base-url", "http://127.0.0.1:1"),
    )
    assert code == 3
    assert found["database"]["verdict"] == "fail"  # type: ignore[index]
    assert "secretpw" not in json.dumps(found)


def test_missing_desktop_backends_are_warnings_the_agent_falls_back() -> None:
    report = {
        "tray": {"backend": "appindicator", "probe": "ok: icon shown"},
        "notifier": {"backend": "DBusDesktopNotifier", "probe": "unavailable: no bus"},
        "window": {"backend": "gtk", "probe": "unavailable: no display"},
    }
    found = {f.area: f for f in check_desktop(lambda: report)}
    assert found["tray"].verdict is Verdict.OK
    assert found["popups"].verdict is Verdict.WARN and "no bus" in found["popups"].words
    assert found["window"].verdict is Verdict.WARN
