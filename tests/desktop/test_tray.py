"""The tray's backend choice (agent/tray_backend.py, probed by agent/desktop/tray.py;
issue 3 §1), and that ``--selftest`` names the same backend on the same desktop."""

from __future__ import annotations

import pytest

from agent.desktop.tray import probe_desktop
from agent.selftest import choose_tray_backend
from agent.tray_backend import choose_backend
from tests.desktop.session import DesktopSession

X = {"DISPLAY": ":0"}


def probes(*present: str):  # type: ignore[no-untyped-def]
    return lambda what: what in {*present, "bus"}


def test_windows_gets_win32_and_no_display_gets_none() -> None:
    assert choose_backend("win32", {}, probes()) == "win32"
    assert choose_backend("linux", {}, probes("gtk", "xembed")) == "dummy"


def test_a_statusnotifier_host_gets_appindicator_an_xembed_tray_gets_gtk() -> None:
    both = probes("appindicator", "gtk", "sni", "xembed")
    assert choose_backend("linux", X, both) == "appindicator"
    assert choose_backend("linux", X, probes("appindicator", "gtk", "xembed")) == "gtk"
    assert (
        choose_backend("linux", {"WAYLAND_DISPLAY": "w"}, probes("appindicator", "sni"))
        == "appindicator"
    )


def test_without_a_host_yet_the_backend_that_docks_later_and_xorg_last() -> None:
    assert choose_backend("linux", X, probes("appindicator", "gtk")) == "appindicator"
    assert choose_backend("linux", X, probes("gtk")) == "gtk"
    assert choose_backend("linux", X, probes()) == "xorg"


def test_without_a_session_bus_only_the_bare_x11_icon() -> None:
    everything = {"appindicator", "gtk", "sni", "xembed"}
    assert choose_backend("linux", X, lambda what: what in everything) == "xorg"


def test_an_explicit_choice_wins_and_a_wrong_one_is_refused() -> None:
    assert choose_backend("linux", {**X, "PHONET_TRAY_BACKEND": "xorg"}, probes("gtk")) == "xorg"
    assert choose_backend("linux", {**X, "PYSTRAY_BACKEND": "gtk"}, probes()) == "gtk"
    with pytest.raises(ValueError, match="unknown tray backend"):
        choose_backend("linux", {**X, "PHONET_TRAY_BACKEND": "qt"}, probes())


@pytest.mark.desktop
def test_the_probes_see_this_session_as_an_xembed_desktop(
    desktop: DesktopSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in desktop.env.items():
        monkeypatch.setenv(name, value)
    assert probe_desktop("xembed") is True  # trayer
    assert probe_desktop("sni") is False  # no StatusNotifier watcher on this bus
    assert probe_desktop("gtk") is True


@pytest.mark.desktop
def test_the_selftest_names_the_backend_the_tray_takes_on_this_desktop(
    desktop: DesktopSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One decision (agent/tray_backend.py): the self-test's file and bus probes and the
    tray's toolkit probes answer it alike on a real XEmbed desktop."""
    for name in ("PHONET_TRAY_BACKEND", "PYSTRAY_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    for name, value in desktop.env.items():
        monkeypatch.setenv(name, value)
    env = {k: v for k, v in desktop.env.items() if "TRAY_BACKEND" not in k}
    tray = choose_backend("linux", env, probe_desktop)
    assert tray == "gtk"
    assert choose_tray_backend("linux", env) == tray
