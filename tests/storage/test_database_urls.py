"""``--db URL`` (contracts.md §2): what is accepted, and errors that never show a password."""

from __future__ import annotations

import pytest

from agent.core.errors import ConfigError
from agent.storage import parse_database_url, redact_url

PASSWORD = "Sup3r:Secret@pw"
QUOTED = "Sup3r%3ASecret%40pw"


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:////home/op/.local/share/agent.db", "/home/op/.local/share/agent.db"),
        ("sqlite:///home/op/agent.db", "/home/op/agent.db"),
        ("sqlite:///C:\\Users\\Олена П\\agent.db", "C:\\Users\\Олена П\\agent.db"),
        ("sqlite:///C:/Users/op/agent.db", "C:/Users/op/agent.db"),
        ("sqlite:////tmp/with space/100%/a.db", "/tmp/with space/100%/a.db"),
        ("sqlite:///:memory:", ":memory:"),
    ],
)  # fmt: skip
def test_a_sqlite_url_names_a_file_by_its_absolute_path_taken_verbatim(url: str, path: str) -> None:
    parsed = parse_database_url(url)

    assert (parsed.dialect, parsed.path) == ("sqlite", path)


def test_the_data_dirs_own_url_form_is_understood(tmp_path: object) -> None:
    # agent/paths.py builds f"sqlite:///{absolute path}".
    assert parse_database_url(f"sqlite:///{tmp_path}/agent.db").path == f"{tmp_path}/agent.db"


def test_a_postgresql_url_gives_its_parts_with_user_and_password_decoded() -> None:
    parsed = parse_database_url(
        f"postgresql://team%40corp:{QUOTED}@db.example.com:6432/phonet?sslmode=require"
    )

    assert parsed.dialect == "postgresql"
    assert (parsed.host, parsed.port, parsed.dbname) == ("db.example.com", 6432, "phonet")
    assert (parsed.user, parsed.password) == ("team@corp", PASSWORD)
    assert parsed.options == (("sslmode", "require"),)


def test_postgres_is_accepted_as_a_scheme_too_and_the_port_may_be_left_out() -> None:
    parsed = parse_database_url("postgres://agent@10.0.0.5/phonet")

    assert (parsed.dialect, parsed.host, parsed.port, parsed.password) == (
        "postgresql",
        "10.0.0.5",
        None,
        None,
    )


def test_a_parsed_url_never_shows_its_password() -> None:
    parsed = parse_database_url(f"postgresql://agent:{QUOTED}@db:5432/phonet?password=other-Secret")

    for shown in (str(parsed), repr(parsed), parsed.display):
        assert "Secret" not in shown, shown
    assert parsed.display == "postgresql://agent:***@db:5432/phonet"
    assert parsed.password == "other-Secret"  # libpq's ?password= wins, as in psql


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (f"mysql://agent:{QUOTED}@db/phonet", "scheme 'mysql' is not supported"),
        (f"postgresql://agent:{QUOTED}@db:port/phonet", "bad port"),
        (f"postgresql://agent:{QUOTED}@db:5432/", "needs one database name"),
        (f"postgresql://agent:{QUOTED}@db:5432/a/b", "needs one database name"),
        (f"postgresql://agent:{QUOTED}@db/phonet?sslmod=require", "unknown options sslmod"),
        (f"agent:{QUOTED}@db/phonet", "has no scheme"),
        ("sqlite://agent.db", "needs an absolute file path"),
        ("sqlite://", "needs an absolute file path"),
    ],
)
def test_a_bad_url_is_a_config_error_that_says_what_is_wrong_without_the_password(
    url: str, says: str
) -> None:
    with pytest.raises(ConfigError, match=says) as caught:
        parse_database_url(url)

    assert "Secret" not in str(caught.value)
    assert caught.value.exit_code == 3  # contracts.md §2: database not configured


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"postgresql://agent:{QUOTED}@db:5432/phonet", "postgresql://agent:***@db:5432/phonet"),
        (f"postgresql://agent:{PASSWORD}@db/phonet", "postgresql://agent:***@db/phonet"),
        ("postgresql://db/phonet?password=x-Secret", "postgresql://db/phonet"),
        ("sqlite:////srv/agent.db", "sqlite:////srv/agent.db"),
        (f"agent:{PASSWORD}@db/phonet", "***@db/phonet"),
    ],
)
def test_redacting_a_url_hides_the_password_even_when_the_url_is_malformed(
    url: str, shown: str
) -> None:
    assert redact_url(url) == shown
