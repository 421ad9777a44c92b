"""`phonet-agent configure` keeps the PBX address an operator meant (U1): a domain
pasted from the browser's address bar is cut to its host; a domain that is not a host
name is refused with exit 2 and nothing saved, and doctor says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cli import main
from agent.profile import load_profile


def configure(data_dir: Path, domain: str) -> int:
    return main(["configure", "--data-dir", str(data_dir), "--domain", domain, "--ext", "001"])


@pytest.mark.parametrize(
    ("typed", "saved"),
    [
        ("https://Company.phonet.com.ua/", "company.phonet.com.ua"),
        ("  company.phonet.com.ua  ", "company.phonet.com.ua"),
        ("https://company.phonet.com.ua/cabinet#calls", "company.phonet.com.ua"),
        ("компанія.укр", "xn--80atgfch8i7b.xn--j1amh"),
    ],
)
def test_a_domain_pasted_from_the_browser_is_saved_as_its_host(
    tmp_path: Path, typed: str, saved: str
) -> None:
    assert configure(tmp_path, typed) == 0
    assert load_profile(tmp_path / "config.toml").domain == saved


@pytest.mark.parametrize("typed", ["bad domain", '"company"', "company..ua", "https://"])
def test_a_domain_that_is_not_a_host_name_is_refused_and_nothing_is_saved(
    tmp_path: Path, typed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert configure(tmp_path, typed) == 2
    assert "domain" in capsys.readouterr().err
    assert not (tmp_path / "config.toml").exists()


def test_doctor_fails_the_configuration_of_a_stored_domain_that_is_not_a_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PHONET_API_KEY", raising=False)
    (tmp_path / "config.toml").write_text('[connection]\ndomain = "bad domain"\next = "001"\n')
    code = main(["doctor", "--no-desktop", "--json", "--data-dir", str(tmp_path)])
    report = json.loads(capsys.readouterr().out)
    finding = next(f for f in report["findings"] if f["area"] == "configuration")
    assert code == 3 and finding["verdict"] == "fail"
    assert "not a host name" in finding["words"]
