"""The desktop shell (issue 3): tray, popups, click-to-dial, hotkey, autostart, lock DND.

Imported only by the composition root (agent/app.py: ``run_desktop``); ruff bans it
elsewhere (architecture.md, rule 4). GUI libraries are imported lazily inside.

- ``view.py``, ``menu.py``: what the tray shows, as pure values of the agent's state.
- ``icons.py``: the icons, drawn with Pillow.
- ``tray.py``: the pystray adapter on the main thread; ``feed.py`` keeps it true.
- ``popup_text.py`` (pure) and ``popups.py``: desktop-notifier on the agent's loop, with fallbacks.
- ``links.py``: clipboard, selected text, the global hotkey.
- ``actions.py``: what menu items, popup buttons and the hotkey do, on the loop.
- ``autostart.py``, ``session_lock.py``: logon start, DND while locked.
- ``shell.py``: the threads; ``wiring.py``: the adapters wired to a started agent.
"""
