"""agent/secrets.py without a desktop: no backend is said in words (issue 3 §3)."""

from __future__ import annotations

from collections.abc import Iterator

import keyring
import pytest
from keyring.backends import fail, null

from agent.core.errors import ConfigError, SecretMissing
from agent.secrets import SecretName, Secrets, backend_problem


@pytest.fixture
def backend() -> Iterator[None]:
    before = keyring.get_keyring()
    yield
    keyring.set_keyring(before)


@pytest.mark.parametrize("chosen", [fail.Keyring(), null.Keyring()])
def test_no_os_keyring_is_said_in_words_and_nothing_is_stored(
    backend: None, chosen: keyring.backend.KeyringBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyring.set_keyring(chosen)
    monkeypatch.delenv("PHONET_API_KEY", raising=False)
    problem = backend_problem()
    assert problem is not None and "no OS keyring backend is available" in problem
    with pytest.raises(ConfigError, match="no OS keyring backend"):
        Secrets().set(SecretName.api_key("d", "001"), "s3cret-value")
    with pytest.raises(SecretMissing, match="PHONET_API_KEY"):
        Secrets().api_key("d", "001")
    assert Secrets().get(SecretName.api_key("d", "001")) is None


def test_phonet_api_key_wins_even_without_a_keyring(
    backend: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyring.set_keyring(fail.Keyring())
    monkeypatch.setenv("PHONET_API_KEY", "env-key-1234")
    assert Secrets().api_key("d", "001") == "env-key-1234"
