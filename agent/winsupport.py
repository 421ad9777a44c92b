"""The Windows-only parts of the agent: named mutexes, the quit request, session end.

Everything here is importable on Linux; there the functions raise :class:`NotOnWindows`
(or :func:`is_agent_running` says False), so callers guard with
``sys.platform == "win32"``. Only ctypes and winreg from the standard library: no
pywin32 in the frozen build.

How the pieces fit (windows-packaging.md, installer.iss):

- The agent calls :func:`hold_instance_mutexes` at start and keeps the result for the
  process lifetime. ``installer.iss`` names the same two mutexes in ``AppMutex``, so
  setup and the uninstaller refuse while the agent runs.
- Before that check, setup signals the named event :data:`QUIT_EVENT_NAME` (the same
  thing ``agent.exe --quit`` does through :func:`request_quit`); the agent's
  :class:`QuitListener` hears it and shuts down cleanly.
- :class:`SessionEndHook` owns a hidden top-level window, so logoff, shutdown and the
  Restart Manager (``WM_QUERYENDSESSION``/``WM_ENDSESSION`` with ``ENDSESSION_CLOSEAPP``)
  reach the agent even when no other window exists, plus a console control handler
  for console builds.

What only real Windows shows (docs/release-checklist.md): that a real logoff or the
Restart Manager delivers those messages in time, and that a second user's agent on a
terminal server opens the null-DACL ``Global\\`` mutex instead of failing. Under wine
the selftest checks the wiring by sending the messages itself.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from agent.core.errors import AgentError

APP_NAME = "Phonet Agent"
# The installer's AppMutex names both: the session one, and the Global one so a setup
# run by another user on the same machine sees the agent too (Inno Setup docs, AppMutex).
MUTEX_NAMES = (APP_NAME, "Global\\" + APP_NAME)
# Session-local on purpose: a setup asks the agents of its own session to quit.
QUIT_EVENT_NAME = APP_NAME + " Quit"
# AppUserModelID of the Start-menu shortcut and the toasts ("Company.Product", no
# spaces, as Microsoft's AppUserModelID rules ask); installer.iss uses the same.
APP_USER_MODEL_ID = "Phonet.Agent"
# The autostart value: the installer's task and the agent's own setting write the
# same one, so they never disagree (windows-packaging.md, "Inno Setup").
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
RUN_VALUE_NAME = APP_NAME
AUTOSTART_FLAG = "--autostart"

ShutdownCallback = Callable[[str], object]

# Win32 constants (winuser.h, winbase.h, synchapi.h).
_WM_CLOSE = 0x0010
_WM_QUERYENDSESSION = 0x0011
_WM_ENDSESSION = 0x0016
_WM_APP_STOP = 0x8000 + 1  # WM_APP + 1: our own "close the hook" message
_ENDSESSION_CLOSEAPP = 0x00000001
_CTRL_CLOSE_EVENT = 2
_CTRL_LOGOFF_EVENT = 5
_CTRL_SHUTDOWN_EVENT = 6
_SYNCHRONIZE = 0x00100000
_EVENT_MODIFY_STATE = 0x0002
_ERROR_FILE_NOT_FOUND = 2
_ERROR_ALREADY_EXISTS = 183
_WAIT_OBJECT_0 = 0
_INFINITE = 0xFFFFFFFF


class NotOnWindows(AgentError):
    """A Windows-only facility was asked for on another system."""

    message_key = "error.windows_only"


def reason_for_end_session(lparam: int) -> str:
    """Name why Windows asks us to end: the Restart Manager sets ENDSESSION_CLOSEAPP."""
    return "restart-manager" if lparam & _ENDSESSION_CLOSEAPP else "session-end"


def autostart_command(exe: Path) -> str:
    """The Run-key command line: the installer's task writes exactly this too."""
    return f'"{exe}" {AUTOSTART_FLAG}'


def is_protocol_url(arg: str) -> bool:
    """True for the ``tel:``/``callto:`` arguments Windows passes from the URL handler."""
    return arg.lower().startswith(("tel:", "callto:"))


if sys.platform == "win32":
    import ctypes
    import winreg
    from ctypes import wintypes

    _kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    _user32 = ctypes.WinDLL("user32", use_last_error=True)
    _advapi32 = ctypes.WinDLL("advapi32", use_last_error=True)
    _shell32 = ctypes.WinDLL("shell32", use_last_error=True)

    _LRESULT = ctypes.c_ssize_t
    _WNDPROC = ctypes.WINFUNCTYPE(
        _LRESULT, wintypes.HWND, wintypes.UINT, wintypes.WPARAM, wintypes.LPARAM
    )
    _HANDLER_ROUTINE = ctypes.WINFUNCTYPE(wintypes.BOOL, wintypes.DWORD)

    class _SECURITY_ATTRIBUTES(ctypes.Structure):
        _fields_ = (
            ("nLength", wintypes.DWORD),
            ("lpSecurityDescriptor", wintypes.LPVOID),
            ("bInheritHandle", wintypes.BOOL),
        )

    class _WNDCLASSW(ctypes.Structure):
        _fields_ = (
            ("style", wintypes.UINT),
            ("lpfnWndProc", _WNDPROC),
            ("cbClsExtra", ctypes.c_int),
            ("cbWndExtra", ctypes.c_int),
            ("hInstance", wintypes.HINSTANCE),
            ("hIcon", wintypes.HICON),
            ("hCursor", wintypes.HANDLE),
            ("hbrBackground", wintypes.HBRUSH),
            ("lpszMenuName", wintypes.LPCWSTR),
            ("lpszClassName", wintypes.LPCWSTR),
        )

    def _signature(fn: ctypes._NamedFuncPointer, res: object, *args: object) -> None:
        fn.restype = res  # type: ignore[assignment]
        fn.argtypes = args  # type: ignore[assignment]

    _LPSA = ctypes.POINTER(_SECURITY_ATTRIBUTES)
    _signature(_kernel32.CreateMutexW, wintypes.HANDLE, _LPSA, wintypes.BOOL, wintypes.LPCWSTR)
    _signature(_kernel32.OpenMutexW, wintypes.HANDLE, wintypes.DWORD, wintypes.BOOL,
               wintypes.LPCWSTR)  # fmt: skip
    _signature(_kernel32.CreateEventW, wintypes.HANDLE, _LPSA, wintypes.BOOL, wintypes.BOOL,
               wintypes.LPCWSTR)  # fmt: skip
    _signature(_kernel32.OpenEventW, wintypes.HANDLE, wintypes.DWORD, wintypes.BOOL,
               wintypes.LPCWSTR)  # fmt: skip
    _signature(_kernel32.SetEvent, wintypes.BOOL, wintypes.HANDLE)
    _signature(_kernel32.CloseHandle, wintypes.BOOL, wintypes.HANDLE)
    _signature(_kernel32.WaitForMultipleObjects, wintypes.DWORD, wintypes.DWORD,
               ctypes.POINTER(wintypes.HANDLE), wintypes.BOOL, wintypes.DWORD)  # fmt: skip
    _signature(_kernel32.GetModuleHandleW, wintypes.HMODULE, wintypes.LPCWSTR)
    _signature(_kernel32.SetConsoleCtrlHandler, wintypes.BOOL, _HANDLER_ROUTINE, wintypes.BOOL)
    _signature(_advapi32.InitializeSecurityDescriptor, wintypes.BOOL, wintypes.LPVOID,
               wintypes.DWORD)  # fmt: skip
    _signature(_advapi32.SetSecurityDescriptorDacl, wintypes.BOOL, wintypes.LPVOID,
               wintypes.BOOL, wintypes.LPVOID, wintypes.BOOL)  # fmt: skip
    _signature(_user32.RegisterClassW, wintypes.ATOM, ctypes.POINTER(_WNDCLASSW))
    _signature(_user32.UnregisterClassW, wintypes.BOOL, wintypes.LPCWSTR, wintypes.HINSTANCE)
    _signature(_user32.CreateWindowExW, wintypes.HWND, wintypes.DWORD, wintypes.LPCWSTR,
               wintypes.LPCWSTR, wintypes.DWORD, ctypes.c_int, ctypes.c_int, ctypes.c_int,
               ctypes.c_int, wintypes.HWND, wintypes.HMENU, wintypes.HINSTANCE,
               wintypes.LPVOID)  # fmt: skip
    _signature(_user32.DefWindowProcW, _LRESULT, wintypes.HWND, wintypes.UINT,
               wintypes.WPARAM, wintypes.LPARAM)  # fmt: skip
    _signature(_user32.SendMessageW, _LRESULT, wintypes.HWND, wintypes.UINT,
               wintypes.WPARAM, wintypes.LPARAM)  # fmt: skip
    _signature(_user32.PostMessageW, wintypes.BOOL, wintypes.HWND, wintypes.UINT,
               wintypes.WPARAM, wintypes.LPARAM)  # fmt: skip
    _signature(_user32.GetMessageW, wintypes.BOOL, ctypes.POINTER(wintypes.MSG),
               wintypes.HWND, wintypes.UINT, wintypes.UINT)  # fmt: skip
    _signature(_user32.TranslateMessage, wintypes.BOOL, ctypes.POINTER(wintypes.MSG))
    _signature(_user32.DispatchMessageW, _LRESULT, ctypes.POINTER(wintypes.MSG))
    _signature(_user32.DestroyWindow, wintypes.BOOL, wintypes.HWND)
    _signature(_user32.PostQuitMessage, None, ctypes.c_int)
    _signature(_shell32.SetCurrentProcessExplicitAppUserModelID, ctypes.c_long,
               wintypes.LPCWSTR)  # fmt: skip

    class _OpenToEveryone:
        """SECURITY_ATTRIBUTES with a NULL DACL (Inno Setup's AppMutex advice): another
        user's setup, or an elevated one, must be able to open the agent's objects."""

        def __init__(self) -> None:
            self.descriptor = ctypes.create_string_buffer(64)  # >= SECURITY_DESCRIPTOR_MIN_LENGTH
            if not _advapi32.InitializeSecurityDescriptor(self.descriptor, 1):
                raise ctypes.WinError(ctypes.get_last_error())
            if not _advapi32.SetSecurityDescriptorDacl(self.descriptor, True, None, False):
                raise ctypes.WinError(ctypes.get_last_error())
            self.attributes = _SECURITY_ATTRIBUTES(
                ctypes.sizeof(_SECURITY_ATTRIBUTES),
                ctypes.cast(self.descriptor, wintypes.LPVOID),
                False,
            )

        def pointer(self) -> ctypes._Pointer[_SECURITY_ATTRIBUTES]:
            return ctypes.pointer(self.attributes)


class InstanceMutexes:
    """The named mutexes, held until :meth:`release` (or the process ends).

    ``already_running`` tells whether another process held the session mutex first;
    the agent's one-instance rule is its data-dir lock (contracts.md §2), so this is
    for information and for ``--quit``, not a refusal to start.
    """

    def __init__(self, handles: list[int], already_running: bool) -> None:
        self._handles = handles
        self.already_running = already_running

    @property
    def held(self) -> int:
        return len(self._handles)

    def release(self) -> None:
        if sys.platform == "win32":
            for handle in self._handles:
                _kernel32.CloseHandle(handle)
        self._handles = []


def hold_instance_mutexes(names: tuple[str, ...] = MUTEX_NAMES) -> InstanceMutexes:
    """Create (or open) the named mutexes the installer's AppMutex watches.

    Both names are tried; a ``Global\\`` name that another user's agent created may be
    refused on some systems, which is logged by the caller from the result's
    ``held`` count, not raised: the session mutex is what a setup of this user sees.
    """
    if sys.platform == "win32":
        security = _OpenToEveryone()
        handles: list[int] = []
        already = False
        for index, name in enumerate(names):
            handle = _kernel32.CreateMutexW(security.pointer(), False, name)
            error = ctypes.get_last_error()
            if not handle:
                if index == 0:
                    raise ctypes.WinError(error)
                continue
            handles.append(handle)
            if index == 0 and error == _ERROR_ALREADY_EXISTS:
                already = True
        return InstanceMutexes(handles, already)
    else:
        raise NotOnWindows("named mutexes exists only on Windows")


def is_agent_running(name: str = MUTEX_NAMES[0]) -> bool:
    """True while some process of this session holds the agent's mutex (never on Linux)."""
    if sys.platform == "win32":
        handle = _kernel32.OpenMutexW(_SYNCHRONIZE, False, name)
        if handle:
            _kernel32.CloseHandle(handle)
            return True
        # Any other error (access denied) still means the object exists.
        return ctypes.get_last_error() != _ERROR_FILE_NOT_FOUND
    else:
        return False


def request_quit(
    timeout: float = 10.0,
    *,
    event_name: str = QUIT_EVENT_NAME,
    mutex_name: str = MUTEX_NAMES[0],
) -> bool:
    """``--quit``: ask the running agent to exit; True once none runs (or none did).

    Signals the agent's quit event and waits until its mutex is gone; the mutex
    outlives the event only by the agent's clean shutdown.
    """
    if sys.platform == "win32":
        handle = _kernel32.OpenEventW(_EVENT_MODIFY_STATE, False, event_name)
        if handle:
            try:
                _kernel32.SetEvent(handle)
            finally:
                _kernel32.CloseHandle(handle)
        deadline = time.monotonic() + timeout
        while is_agent_running(mutex_name):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True
    else:
        raise NotOnWindows("--quit exists only on Windows")


class QuitListener:
    """Waits on the named quit event on a daemon thread and calls ``on_quit("quit")``."""

    def __init__(self, on_quit: ShutdownCallback, *, name: str = QUIT_EVENT_NAME) -> None:
        if sys.platform == "win32":
            self._on_quit = on_quit
            security = _OpenToEveryone()
            # Auto-reset: one request wakes the listener once.
            self._event = _kernel32.CreateEventW(security.pointer(), False, False, name)
            if not self._event:
                raise ctypes.WinError(ctypes.get_last_error())
            self._stop = _kernel32.CreateEventW(None, True, False, None)
            self._thread = threading.Thread(target=self._wait, name="quit-listener", daemon=True)
            self._thread.start()
        else:
            raise NotOnWindows("the quit event exists only on Windows")

    def _wait(self) -> None:
        if sys.platform == "win32":
            handles = (wintypes.HANDLE * 2)(self._event, self._stop)
            result = _kernel32.WaitForMultipleObjects(2, handles, False, _INFINITE)
            if result == _WAIT_OBJECT_0:
                self._on_quit("quit")
        else:
            raise NotOnWindows("_wait runs only on Windows")

    def close(self) -> None:
        if sys.platform == "win32":
            _kernel32.SetEvent(self._stop)
            self._thread.join(timeout=5)
            _kernel32.CloseHandle(self._event)
            _kernel32.CloseHandle(self._stop)
        else:
            raise NotOnWindows("close runs only on Windows")


class SessionEndHook:
    """A hidden top-level window (plus a console handler) that ends the agent cleanly.

    Windows broadcasts ``WM_QUERYENDSESSION`` then ``WM_ENDSESSION`` to top-level
    windows at logoff and shutdown, and the Restart Manager sends the same pair with
    ``ENDSESSION_CLOSEAPP`` (then ``WM_CLOSE``) to close an app for an update. After
    ``WM_ENDSESSION`` returns the process may be killed at once, so ``on_end(reason)``
    runs synchronously on the hook's thread and must finish the shutdown (or give up)
    within a few seconds. It is called at most once.
    """

    def __init__(self, on_end: ShutdownCallback, *, console: bool = True) -> None:
        self._on_end = on_end
        self._called = threading.Lock()
        self._fired = False
        self.hwnd = 0
        if sys.platform == "win32":
            self._ready = threading.Event()
            self._error: BaseException | None = None
            self._proc = _WNDPROC(self._window_proc)  # kept referenced: Windows calls it
            self._console_handler = _HANDLER_ROUTINE(self._console_event)
            self._class_name = f"PhonetAgentSessionEnd{id(self):x}"
            self._thread = threading.Thread(target=self._run, name="session-end", daemon=True)
            self._thread.start()
            if not self._ready.wait(timeout=10):
                raise TimeoutError("the session-end window did not start")
            if self._error is not None:
                raise self._error
            self._console = console and bool(
                _kernel32.SetConsoleCtrlHandler(self._console_handler, True)
            )
        else:
            raise NotOnWindows("the session-end hook exists only on Windows")

    @property
    def fired(self) -> bool:
        return self._fired

    def _fire(self, reason: str) -> None:
        with self._called:
            if self._fired:
                return
            self._fired = True
        self._on_end(reason)

    def _run(self) -> None:
        if sys.platform == "win32":
            try:
                instance = _kernel32.GetModuleHandleW(None)
                wc = _WNDCLASSW()
                wc.lpfnWndProc = self._proc
                wc.hInstance = instance
                wc.lpszClassName = self._class_name
                if not _user32.RegisterClassW(ctypes.byref(wc)):
                    raise ctypes.WinError(ctypes.get_last_error())
                # Hidden, not a message-only window: those never get the broadcasts.
                hwnd = _user32.CreateWindowExW(
                    0, self._class_name, APP_NAME, 0, 0, 0, 0, 0, None, None, instance, None
                )
                if not hwnd:
                    raise ctypes.WinError(ctypes.get_last_error())
                self.hwnd = hwnd
            except BaseException as exc:
                self._error = exc
                self._ready.set()
                return
            self._ready.set()
            msg = wintypes.MSG()
            while _user32.GetMessageW(ctypes.byref(msg), None, 0, 0) > 0:
                _user32.TranslateMessage(ctypes.byref(msg))
                _user32.DispatchMessageW(ctypes.byref(msg))
            _user32.UnregisterClassW(self._class_name, instance)
        else:
            raise NotOnWindows("_run runs only on Windows")

    def _window_proc(self, hwnd: int, msg: int, wparam: int, lparam: int) -> int:
        if sys.platform == "win32":
            if msg == _WM_QUERYENDSESSION:
                return 1  # never veto a logoff: the agent holds nothing unsaved
            if msg == _WM_ENDSESSION:
                if wparam:
                    self._fire(reason_for_end_session(lparam))
                return 0
            if msg == _WM_CLOSE:
                # The Restart Manager's last polite step before terminating.
                self._fire("close")
                return 0
            if msg == _WM_APP_STOP:
                _user32.DestroyWindow(hwnd)
                _user32.PostQuitMessage(0)
                return 0
            return int(_user32.DefWindowProcW(hwnd, msg, wparam, lparam))
        else:
            raise NotOnWindows("_window_proc runs only on Windows")

    def _console_event(self, event: int) -> bool:
        # Ctrl-C and Ctrl-Break stay with Python (KeyboardInterrupt); a closed console,
        # logoff and shutdown end the agent. Returning ends the process, so finish first.
        if event in (_CTRL_CLOSE_EVENT, _CTRL_LOGOFF_EVENT, _CTRL_SHUTDOWN_EVENT):
            self._fire("console")
            return True
        return False

    def send(self, msg: int, wparam: int, lparam: int) -> int:
        """Deliver a message to the hook's window as Windows would (selftest, tests)."""
        if sys.platform == "win32":
            return int(_user32.SendMessageW(self.hwnd, msg, wparam, lparam))
        else:
            raise NotOnWindows("send runs only on Windows")

    def close(self) -> None:
        if sys.platform == "win32":
            if self._console:
                _kernel32.SetConsoleCtrlHandler(self._console_handler, False)
            if self.hwnd:
                _user32.PostMessageW(self.hwnd, _WM_APP_STOP, 0, 0)
            self._thread.join(timeout=5)
        else:
            raise NotOnWindows("close runs only on Windows")


def set_app_user_model_id(app_id: str = APP_USER_MODEL_ID) -> None:
    """Tie the process to the Start-menu shortcut's AppUserModelID (toasts, taskbar)."""
    if sys.platform == "win32":
        result = _shell32.SetCurrentProcessExplicitAppUserModelID(app_id)
        if result != 0:
            raise OSError(f"SetCurrentProcessExplicitAppUserModelID failed: HRESULT {result:#x}")
    else:
        raise NotOnWindows("AppUserModelID exists only on Windows")


def register_toast_identity(
    app_id: str = APP_USER_MODEL_ID, display_name: str = APP_NAME, icon: Path | None = None
) -> None:
    """HKCU AppUserModelId key: the name (and icon) toasts show for ``app_id``.

    desktop-notifier writes this key with its ``app_name`` as both id and name; calling
    this after creating the notifier restores the product's display name.
    """
    if sys.platform == "win32":
        path = rf"Software\Classes\AppUserModelId\{app_id}"
        with winreg.CreateKeyEx(winreg.HKEY_CURRENT_USER, path) as key:
            winreg.SetValueEx(key, "DisplayName", 0, winreg.REG_SZ, display_name)
            if icon is not None and icon.is_file():
                winreg.SetValueEx(key, "IconUri", 0, winreg.REG_SZ, str(icon))
    else:
        raise NotOnWindows("toast identity exists only on Windows")


def read_autostart() -> str | None:
    """The Run-key command for the agent, or None when autostart is off."""
    if sys.platform == "win32":
        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
                value, _ = winreg.QueryValueEx(key, RUN_VALUE_NAME)
        except FileNotFoundError:
            return None
        return str(value)
    else:
        raise NotOnWindows("autostart exists only on Windows")


def set_autostart(enabled: bool, exe: Path | None = None) -> None:
    """Write or remove the ``Phonet Agent`` Run value (the installer's task uses it too)."""
    if sys.platform == "win32":
        with winreg.CreateKeyEx(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
            if enabled:
                target = exe if exe is not None else Path(sys.executable)
                winreg.SetValueEx(key, RUN_VALUE_NAME, 0, winreg.REG_SZ, autostart_command(target))
            else:
                try:
                    winreg.DeleteValue(key, RUN_VALUE_NAME)
                except FileNotFoundError:
                    pass
    else:
        raise NotOnWindows("autostart exists only on Windows")


def windows_keyring() -> object:
    """The Windows Credential Manager backend, set explicitly (no entry-point lookup in
    a frozen build; windows-packaging.md, "PyInstaller notes")."""
    if sys.platform == "win32":
        from keyring.backends.Windows import WinVaultKeyring

        return WinVaultKeyring()  # type: ignore[no-untyped-call]
    else:
        raise NotOnWindows("the Credential Manager keyring exists only on Windows")


def webview2_version() -> str | None:
    """The installed WebView2 Evergreen runtime's version, or None.

    EdgeUpdate's client key under HKLM (WOW6432Node) or HKCU; ``0.0.0.0`` means removed.
    installer.iss checks the same keys.
    """
    if sys.platform == "win32":
        client = r"Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}"
        places = (
            (winreg.HKEY_LOCAL_MACHINE, rf"SOFTWARE\WOW6432Node\{client}"),
            (winreg.HKEY_LOCAL_MACHINE, rf"SOFTWARE\{client}"),
            (winreg.HKEY_CURRENT_USER, rf"Software\{client}"),
        )
        for hive, path in places:
            try:
                with winreg.OpenKey(hive, path) as key:
                    value, _ = winreg.QueryValueEx(key, "pv")
            except OSError:
                continue
            if value and value != "0.0.0.0":
                return str(value)
        return None
    else:
        raise NotOnWindows("WebView2 detection exists only on Windows")
