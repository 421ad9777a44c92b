"""The window's child process, as the agent starts and drives it (architecture.md,
"Processes"): the backend chosen explicitly, the token never on the command line, one
window raised again rather than a second one, closed when the agent stops."""

from __future__ import annotations

import importlib
import io
import json
import os
import stat
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.core.errors import ConfigError, InvalidInput
from agent.window import (
    WindowLauncher,
    check_target,
    choose_gui,
    open_in_browser,
    qt_available,
    qt_binding,
    read_token,
    redirect_page,
    run_window,
    start_url,
    window_command,
)

YES = lambda: True  # noqa: E731
NO = lambda: False  # noqa: E731


@pytest.mark.parametrize(
    ("system", "env", "gtk", "qt", "expected"),
    [
        ("win32", {}, NO, NO, "edgechromium"),
        ("linux", {}, YES, YES, "gtk"),
        ("linux", {}, NO, YES, "qt"),
        ("linux", {"PHONET_AGENT_WINDOW_GUI": "qt"}, YES, YES, "qt"),
        ("linux", {"PHONET_AGENT_WINDOW_GUI": "GTK"}, NO, NO, "gtk"),
        ("linux", {"PHONET_AGENT_WINDOW_GUI": "browser"}, YES, YES, "browser"),
    ],
)
def test_the_backend_is_chosen_explicitly(
    system: str, env: dict[str, str], gtk: Any, qt: Any, expected: str
) -> None:
    assert choose_gui(system, env, gtk=gtk, qt=qt) == expected


def test_without_any_backend_the_error_says_what_to_install() -> None:
    with pytest.raises(ConfigError, match=r"gir1\.2-webkit2-4\.1"):
        choose_gui("linux", {}, gtk=NO, qt=NO)
    with pytest.raises(InvalidInput):
        choose_gui("linux", {"PHONET_AGENT_WINDOW_GUI": "tk"}, gtk=YES, qt=YES)


def test_the_token_travels_in_the_fragment_and_the_target_in_the_query() -> None:
    url = start_url("http://127.0.0.1:5000", "t/k=n", "call:" + "a" * 32)
    assert url == f"http://127.0.0.1:5000/?open=call:{'a' * 32}#token=t%2Fk%3Dn"
    assert start_url("http://127.0.0.1:5000/", "tok") == "http://127.0.0.1:5000/#token=tok"


def test_only_known_targets_open() -> None:
    assert check_target("event:12") == "event:12"
    assert check_target(None) is None
    for bad in ("javascript:alert(1)", "call:", "call:x\nquit", "x" * 300):
        with pytest.raises(InvalidInput):
            check_target(bad)


def test_the_token_comes_from_the_environment_or_the_first_line_of_stdin() -> None:
    assert read_token(io.StringIO("from-stdin\nshow\n"), {}) == "from-stdin"
    assert read_token(io.StringIO(""), {"PHONET_AGENT_TOKEN": "from-env"}) == "from-env"
    with pytest.raises(InvalidInput):
        read_token(io.StringIO(""), {})


def test_the_child_is_the_same_program_and_its_command_line_holds_no_token() -> None:
    command = window_command("http://127.0.0.1:5000", "call:" + "b" * 32)
    assert command[:3] == [sys.executable, "-m", "agent"]
    assert command[3:] == ["window", "--url", "http://127.0.0.1:5000", "--open", "call:" + "b" * 32]


# A stand-in window: a real child process that records what the agent sends it.
RECORDER = textwrap.dedent(
    """
    import sys, pathlib
    out = pathlib.Path(sys.argv[1])
    with out.open("a") as f:
        f.write("argv " + " ".join(sys.argv[2:]) + "\\n")
        f.flush()
        for line in sys.stdin:
            f.write(line)
            f.flush()
            if line.strip() == "quit":
                break
    """
)


def wait_for_text(path: Path, text: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = path.read_text() if path.exists() else ""
        if text in content:
            return content
        time.sleep(0.02)
    raise AssertionError(f"{text!r} never reached {path}: {content!r}")


def test_open_starts_one_child_raises_it_afterwards_and_close_ends_it(tmp_path: Path) -> None:
    record = tmp_path / "record.txt"
    script = tmp_path / "recorder.py"
    script.write_text(RECORDER)
    published: list[tuple[str, Any]] = []
    launcher = WindowLauncher(
        endpoint=lambda: ("http://127.0.0.1:5000", "secret-token"),
        publish=lambda topic, data: published.append((topic, data)),
        log_file=tmp_path / "window.log",
        command=lambda url, target: [sys.executable, str(script), str(record), url, target or ""],
    )
    assert launcher.open("call:" + "c" * 32)
    content = wait_for_text(record, "secret-token")
    assert content.startswith(f"argv http://127.0.0.1:5000 call:{'c' * 32}\n")
    first_pid = launcher.pid
    assert launcher.open("contact:7")  # already open: raised, and the page is told
    wait_for_text(record, "show")
    assert launcher.pid == first_pid
    assert published == [("open", {"target": "contact:7"})]
    launcher.close()
    assert not launcher.running
    assert wait_for_text(record, "quit").count("secret-token") == 1


def test_open_before_the_api_listens_reports_false(tmp_path: Path) -> None:
    launcher = WindowLauncher(endpoint=lambda: None, publish=lambda topic, data: None)
    assert launcher.open() is False
    assert not launcher.running


# ------------------------------------------------------------------ Qt needs Qt WebEngine


@pytest.fixture
def fake_pyside6(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A PySide6 package on sys.path as PySide6-Essentials installs it: no
    QtWebEngineWidgets (that is PySide6-Addons' / PySide6-WebEngine's)."""
    for name in ("PySide6", "PyQt6", "PyQt5"):
        if importlib.util.find_spec(name) is not None:
            pytest.skip(f"a real {name} is installed")
    package = tmp_path / "site" / "PySide6"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "QtWidgets.py").write_text("")
    monkeypatch.syspath_prepend(str(package.parent))
    importlib.invalidate_caches()
    yield package
    for name in [m for m in sys.modules if m == "PySide6" or m.startswith("PySide6.")]:
        del sys.modules[name]


def test_pyside6_without_qt_webengine_is_no_window_backend(fake_pyside6: Path) -> None:
    assert qt_binding() is None and not qt_available()
    with pytest.raises(ConfigError, match="Qt WebEngine"):
        choose_gui("linux", {}, gtk=NO)


def test_pyside6_with_qt_webengine_is_the_qt_backend(fake_pyside6: Path) -> None:
    (fake_pyside6 / "QtWebEngineWidgets.py").write_text("")
    importlib.invalidate_caches()
    assert qt_binding() == "pyside6"
    assert choose_gui("linux", {}, gtk=NO) == "qt"


# ------------------------------------------------------------------ no webview: the browser


def test_the_redirect_page_is_private_and_the_token_stays_inside_it(tmp_path: Path) -> None:
    address = start_url("http://127.0.0.1:5000", "tok/en", "call:" + "d" * 32)
    page = redirect_page(tmp_path, address)
    assert stat.S_IMODE(page.stat().st_mode) == 0o600
    assert f"location.replace({json.dumps(address)})" in page.read_text()
    assert "tok" not in page.as_uri()  # what goes on the browser's command line
    hostile = tmp_path / "hostile"
    hostile.mkdir()
    text = redirect_page(hostile, "http://127.0.0.1:5000/</script><b>x").read_text()
    assert "</script><b>" not in text  # no way out of the script element


def test_without_any_backend_the_window_opens_in_the_browser(tmp_path: Path) -> None:
    opened: list[str] = []
    contents: list[str] = []

    def browser(uri: str) -> bool:  # what webbrowser.open would start, recorded
        opened.append(uri)
        contents.append(Path(uri.removeprefix("file://")).read_text())
        return True

    def none() -> str:
        raise ConfigError("no window backend")

    stdin = io.StringIO("show\nquit\n")
    code = run_window(
        "http://127.0.0.1:5000",
        "tok-123",
        target="page:jobs",
        stdin=stdin,
        choose=none,
        opener=browser,
    )
    assert code == 0
    assert len(opened) == 2  # at start, and again on "show"
    assert all("tok-123" not in uri for uri in opened)
    assert "http://127.0.0.1:5000/?open=page:jobs#token=tok-123" in contents[0]
    assert not Path(opened[0].removeprefix("file://")).exists()  # removed after "quit"


def test_no_browser_either_is_said_in_words() -> None:
    with pytest.raises(ConfigError, match="no web browser"):
        open_in_browser("http://127.0.0.1:5000", "t", opener=lambda uri: False)


# ------------------------------------------------------------------ the child's environment

ENV_RECORDER = textwrap.dedent(
    """
    import os, sys, pathlib
    names = ("PHONET_API_KEY", "PGPASSWORD", "PHONET_AGENT_TOKEN", "KEPT")
    pathlib.Path(sys.argv[1]).write_text(
        "\\n".join(f"{n}={os.environ.get(n, '-')}" for n in names) + "\\n"
    )
    sys.stdin.read()
    """
)


def test_the_window_child_inherits_no_api_key_token_or_database_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHONET_API_KEY", "operator-key")
    monkeypatch.setenv("PGPASSWORD", "db-password")
    monkeypatch.setenv("PHONET_AGENT_TOKEN", "old-token")
    monkeypatch.setenv("KEPT", "yes")
    record = tmp_path / "env.txt"
    script = tmp_path / "env_recorder.py"
    script.write_text(ENV_RECORDER)
    launcher = WindowLauncher(
        endpoint=lambda: ("http://127.0.0.1:5000", "secret-token"),
        publish=lambda topic, data: None,
        command=lambda url, target: [sys.executable, str(script), str(record)],
    )
    assert launcher.open()
    text = wait_for_text(record, "KEPT=")
    launcher.close()
    assert text.split() == ["PHONET_API_KEY=-", "PGPASSWORD=-", "PHONET_AGENT_TOKEN=-", "KEPT=yes"]
    assert os.environ["PHONET_API_KEY"] == "operator-key"  # the agent keeps its own
