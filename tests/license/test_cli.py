"""``phonet-agent license …`` (contracts.md §2; L1, U10; issue 8 items 2 and 5): the
vendor makes a key pair and issues keys; the customer shows, requests and installs.
Each bad key: its own message and exit 2, and nothing changes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.cli import main
from agent.core.errors import ConfigError
from agent.license.keys import ENV_PUBLIC_KEY, PRODUCTION_PUBLIC_KEY, agent_public_key
from tests.license.conftest import CODE, OTHER_CODE, Vendor


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def data_dir(tmp_path: Path) -> str:
    return str(tmp_path / "data")


def show(capsys: pytest.CaptureFixture[str], data_dir: str) -> dict[str, object]:
    code, out, _ = run(capsys, "license", "show", "--data-dir", data_dir, "--json")
    assert code == 0
    shown: dict[str, object] = json.loads(out)
    return shown


def client_id(capsys: pytest.CaptureFixture[str], data_dir: str) -> str:
    return str(show(capsys, data_dir)["client_id"])


# ------------------------------------------------------------------ the vendor's commands


def test_keygen_writes_a_private_key_only_its_owner_reads_and_prints_the_public_half(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "vendor" / "key.pem"
    code, out, _ = run(capsys, "license", "keygen", "--private-key", str(path))
    assert code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    public = out.split("public key: ")[1].strip()
    assert len(bytes.fromhex(public)) == 32
    assert path.read_text() not in out  # the private key is never printed


def test_keygen_never_overwrites_a_vendor_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "key.pem"
    assert run(capsys, "license", "keygen", "--private-key", str(path))[0] == 0
    before = path.read_bytes()
    code, _, err = run(capsys, "license", "keygen", "--private-key", str(path))
    assert code == 2 and "never overwritten" in err
    assert path.read_bytes() == before


def test_the_vendor_issues_a_key_from_the_customers_request_and_it_installs(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    data_dir: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vendor_key = tmp_path / "vendor.pem"
    _, out, _ = run(capsys, "license", "keygen", "--private-key", str(vendor_key))
    monkeypatch.setenv(ENV_PUBLIC_KEY, out.split("public key: ")[1].strip())

    code, request, _ = run(
        capsys, "license", "request", "--data-dir", data_dir, "--client-code", CODE, "--count", "3"
    )
    assert code == 0 and request.startswith("Phonet Agent licence request\n")
    (tmp_path / "request.txt").write_text(request)
    code, key, _ = run(
        capsys,
        "license", "issue", "--private-key", str(vendor_key),
        "--request", str(tmp_path / "request.txt"), "--expires", "2099-12-31",
    )  # fmt: skip
    assert code == 0 and key.startswith("PA1-")

    code, out, _ = run(capsys, "license", "install", "--data-dir", data_dir, "--key", key.strip())
    assert code == 0
    assert out == f"installed: licensed for 3 licences until 2099-12-31 (client code {CODE})\n"
    code, text, _ = run(capsys, "license", "show", "--data-dir", data_dir)
    assert code == 0
    assert f"Client code (EDRPOU): {CODE}\n" in text and "Licences:             3\n" in text
    assert "Expires:              2099-12-31\n" in text


def test_the_vendor_may_issue_from_options_and_override_the_count(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, vendor: Vendor, data_dir: str
) -> None:
    path = tmp_path / "vendor.pem"
    run(capsys, "license", "keygen", "--private-key", str(path))
    code, key, _ = run(
        capsys,
        "license", "issue", "--private-key", str(path),
        "--client-id", "A7013CA4-0789-4FE1-9ABE-E5CAB769D167", "--client-code", CODE,
        "--count", "12", "--issued", "2025-02-01",
    )  # fmt: skip
    assert code == 0 and key.startswith("PA1-")


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--client-code", "32855962", "--count", "2"], "check digit"),
        (["--client-code", CODE, "--count", "0"], "licence count"),
        (["--client-code", CODE, "--count", "2", "--expires", "2020-01-01"], "expiry date"),
        (["--count", "2"], "give --request FILE"),
    ],
)
def test_the_vendor_cannot_issue_a_key_with_bad_terms(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, options: list[str], says: str
) -> None:
    path = tmp_path / "vendor.pem"
    run(capsys, "license", "keygen", "--private-key", str(path))
    client = (
        ["--client-id", "a7013ca4-0789-4fe1-9abe-e5cab769d167"]
        if "--client-code" in options
        else []
    )
    code, out, err = run(
        capsys, "license", "issue", "--private-key", str(path), "--issued", "2025-01-01",
        *client, *options,
    )  # fmt: skip
    assert code == 2 and says in err and out == ""


def test_an_encrypted_vendor_key_needs_its_passphrase(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "vendor.pem"
    monkeypatch.setattr("sys.stdin", _stdin("correct horse\n"))
    assert (
        run(capsys, "license", "keygen", "--private-key", str(path), "--passphrase-stdin")[0] == 0
    )
    assert "ENCRYPTED" in path.read_text()
    issue = ["license", "issue", "--private-key", str(path), "--client-id",
             "a7013ca4-0789-4fe1-9abe-e5cab769d167",
             "--client-code", CODE, "--count", "1"]  # fmt: skip
    code, _, err = run(capsys, *issue)
    assert code == 2 and "encrypted: give its passphrase" in err
    monkeypatch.setattr("sys.stdin", _stdin("wrong horse\n"))
    code, _, err = run(capsys, *issue, "--passphrase-stdin")
    assert code == 2 and "passphrase is wrong" in err and "wrong horse" not in err
    monkeypatch.setattr("sys.stdin", _stdin("correct horse\n"))
    code, out, _ = run(capsys, *issue, "--passphrase-stdin")
    assert code == 0 and out.startswith("PA1-")


def _stdin(text: str) -> object:
    import io

    return io.StringIO(text)


# ------------------------------------------------------------------ the customer's commands


def test_show_names_the_database_and_says_it_runs_as_one_seat_without_a_key(
    capsys: pytest.CaptureFixture[str], data_dir: str, test_pubkey: str
) -> None:
    code, text, _ = run(capsys, "license", "show", "--data-dir", data_dir)
    assert code == 0
    assert "Licences:             1\n" in text
    assert (
        "State:                unlicensed: no licence key is installed: running as one seat" in text
    )
    assert client_id(capsys, data_dir) in text  # the same client ID every time


def test_request_refuses_a_bad_client_code_with_exit_2(
    capsys: pytest.CaptureFixture[str], data_dir: str
) -> None:
    code, out, err = run(
        capsys, "license", "request", "--data-dir", data_dir, "--client-code", "1234"
    )
    assert code == 2 and out == "" and "8 digits" in err


def _typo(key: str) -> str:
    return key[:40] + ("B" if key[40] != "B" else "C") + key[41:]


OTHER_CLIENT = "0b5e1a55-8f1c-4d07-a3c2-2f3a8e9d1b00"
BAD_KEYS = [
    pytest.param(lambda v, cid: _typo(v.key(cid)), [], "does not add up", id="typo"),
    pytest.param(lambda v, cid: v.key(cid)[:-5], [], "too short", id="cut"),
    pytest.param(lambda v, cid: "hello", [], "not a Phonet Agent product key", id="not-a-key"),
    pytest.param(
        lambda v, cid: Vendor(Ed25519PrivateKey.generate()).key(cid),
        [],
        "signature does not hold",
        id="tampered",
    ),
    pytest.param(
        lambda v, cid: v.key(OTHER_CLIENT), [], "is for client ID 0b5e1a55", id="other-client-id"
    ),
    pytest.param(
        lambda v, cid: v.key(cid, OTHER_CODE),
        ["--client-code", CODE],
        f"client code {OTHER_CODE}, not {CODE}",
        id="other-code",
    ),
    pytest.param(
        lambda v, cid: v.key(cid, count=5), ["--count", "3"], "5 licences, not 3", id="other-count"
    ),
    pytest.param(
        lambda v, cid: v.key(cid, expires=date(2025, 2, 1)),
        [],
        "expired on 2025-02-01",
        id="expired",
    ),
]


@pytest.mark.parametrize(("make_key", "extra", "says"), BAD_KEYS)
def test_each_bad_key_gets_its_own_message_and_exit_2_and_changes_nothing(
    capsys: pytest.CaptureFixture[str],
    data_dir: str,
    vendor: Vendor,
    test_pubkey: str,
    make_key: object,
    extra: list[str],
    says: str,
) -> None:
    cid = client_id(capsys, data_dir)
    assert (
        run(
            capsys, "license", "install", "--data-dir", data_dir, "--key", vendor.key(cid, count=2)
        )[0]
        == 0
    )
    before = show(capsys, data_dir)
    key = make_key(vendor, cid)  # type: ignore[operator]
    code, out, err = run(capsys, "license", "install", "--data-dir", data_dir, "--key", key, *extra)
    assert code == 2 and out == ""
    assert err.startswith("phonet-agent: ") and says in err
    assert show(capsys, data_dir) == before


def test_install_reads_the_key_from_stdin_when_asked(
    capsys: pytest.CaptureFixture[str],
    data_dir: str,
    vendor: Vendor,
    test_pubkey: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = vendor.key(client_id(capsys, data_dir), count=4)
    monkeypatch.setattr("sys.stdin", _stdin(key[:50] + "\n" + key[50:] + "\n"))
    code, out, _ = run(capsys, "license", "install", "--data-dir", data_dir, "--key", "-")
    assert code == 0 and "licensed for 4 licences" in out


# ------------------------------------------------------------------ whose public key


def test_a_frozen_build_ignores_the_test_public_key(vendor: Vendor) -> None:
    env = {ENV_PUBLIC_KEY: vendor.public_hex}
    assert agent_public_key(env, frozen=False) == vendor.public
    assert agent_public_key(env, frozen=True) == bytes.fromhex(PRODUCTION_PUBLIC_KEY)
    assert agent_public_key({}, frozen=False) == bytes.fromhex(PRODUCTION_PUBLIC_KEY)


def test_a_test_public_key_that_is_no_key_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="PHONET_AGENT_LICENSE_PUBKEY is not"):
        agent_public_key({ENV_PUBLIC_KEY: "abc"}, frozen=False)


def test_a_production_agent_refuses_keys_signed_with_a_test_key(
    capsys: pytest.CaptureFixture[str],
    data_dir: str,
    vendor: Vendor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(ENV_PUBLIC_KEY, raising=False)
    key = vendor.key(client_id(capsys, data_dir))
    code, _, err = run(capsys, "license", "install", "--data-dir", data_dir, "--key", key)
    assert code == 2 and "signature does not hold" in err


def test_the_console_script_installs_a_key_and_exits_2_on_a_bad_one(
    tmp_path: Path, vendor: Vendor
) -> None:
    """The real process: the environment variable, the exit codes and the streams."""
    env = {**os.environ, ENV_PUBLIC_KEY: vendor.public_hex, "PHONET_AGENT_DATA_DIR": str(tmp_path)}

    def agent(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "agent", "license", *argv],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    shown = agent("show", "--json")
    assert shown.returncode == 0, shown.stderr
    key = vendor.key(json.loads(shown.stdout)["client_id"], count=6)
    installed = agent("install", "--key", key)
    assert installed.returncode == 0 and "licensed for 6 licences" in installed.stdout
    refused = agent("install", "--key", _typo(key))
    assert refused.returncode == 2 and "does not add up" in refused.stderr
    assert json.loads(agent("show", "--json").stdout)["count"] == 6


def test_show_lists_the_operators_active_now_from_the_team_heartbeats(
    capsys: pytest.CaptureFixture[str], data_dir: str
) -> None:
    from datetime import UTC, datetime, timedelta

    from agent.storage import Storage
    from agent.storage.jobs_repository import Heartbeat, JobsRepository

    client_id(capsys, data_dir)  # makes the database
    now = datetime.now(UTC)
    with Storage.open_sync(f"sqlite:///{Path(data_dir) / 'agent.db'}") as storage:
        repo = JobsRepository(storage.db)
        for ext, name, seen in (("002", "Петро", now), ("003", "Іван", now - timedelta(hours=1))):
            beat = Heartbeat(f"a{ext}", "sim.phonet.local", ext, name, "desk-2", 1, "", "online",
                             now - timedelta(hours=2), seen)  # fmt: skip
            storage.call(repo.beat, beat)
    code, text, _ = run(capsys, "license", "show", "--data-dir", data_dir)
    assert code == 0
    assert "Active:               002 Петро on desk-2\n" in text + "\n"  # 003 went stale
