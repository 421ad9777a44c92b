"""No webview on the machine (no WebKit2GTK, a Qt without Qt WebEngine): "Open window"
shows the same page in the default browser (agent/window.py, open_in_browser). The real
child process (`phonet-agent window`) opens a private redirect file, so the token is on
no command line, and the page it leads to is the working web UI."""

from __future__ import annotations

import stat
import sys
import textwrap
from pathlib import Path

import pytest

from agent.window import GUI_ENV, WindowLauncher
from tests.scenarios.conftest import wait_until
from tests.webui.conftest import UIFactory

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

# The "browser" webbrowser starts (BROWSER, a command with %s): records its command
# line, the file it was given and that file's permissions, then ends, as a browser
# that hands the address to its running instance does.
BROWSER = textwrap.dedent(
    """
    import json, os, pathlib, stat, sys
    uri = sys.argv[2]
    path = pathlib.Path(uri.removeprefix("file://"))
    pathlib.Path(sys.argv[1]).write_text(json.dumps({
        "argv": sys.argv[2:],
        "mode": stat.S_IMODE(path.stat().st_mode),
        "text": path.read_text(),
        "api_key": os.environ.get("PHONET_API_KEY"),
    }))
    """
)


async def test_without_a_webview_open_window_shows_the_ui_in_the_browser(
    ui_factory: UIFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    ui = await ui_factory()
    record = tmp_path / "browser.json"
    script = tmp_path / "browser.py"
    script.write_text(BROWSER)
    monkeypatch.setenv(GUI_ENV, "browser")  # as when neither GTK nor Qt WebEngine is there
    monkeypatch.setenv("BROWSER", f"{sys.executable} {script} {record} %s")
    monkeypatch.setenv("PHONET_API_KEY", "operator-key")
    launcher = WindowLauncher(
        endpoint=lambda: (ui.url, ui.token),
        publish=lambda topic, data: None,
        log_file=tmp_path / "window.log",
    )
    try:
        assert launcher.open("page:jobs")
        await wait_until(record.exists, timeout=30, what="the browser started by the child")
        seen = json.loads(record.read_text())
        assert len(seen["argv"]) == 1 and seen["argv"][0].startswith("file://")
        assert ui.token not in seen["argv"][0]  # nothing secret on a command line
        assert seen["mode"] == stat.S_IMODE(0o600)
        assert seen["api_key"] is None
        assert f"#token={ui.token}" in seen["text"]
        await ui.page.goto(seen["argv"][0])  # what the browser does with it
        await ui.page.wait_for_selector("body[data-ready='1']")
        await ui.page.wait_for_selector("#view[data-view='jobs'][data-ready='1']")
        assert ui.page.url.startswith(ui.url) and ui.token not in ui.page.url
        await ui.screenshot("window-in-browser")
    finally:
        launcher.close()
    assert not Path(seen["argv"][0].removeprefix("file://")).exists()  # gone with the child
    ui.assert_clean()
