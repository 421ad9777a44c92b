"""Running the simulator: on the caller's loop, or on its own loop in a thread.

uvicorn serves HTTP and WebSocket on one port (``ws="websockets-sansio"``,
``http="h11"``, no lifespan; architecture.md "Processes and threads"). The socket
is bound here first, so a port of 0 becomes a real free port before anyone is told
where to connect (contracts.md §3: the banner carries the real port).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from functools import partial

import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from agent.simulator.app import LIVE_PATH, build_app
from agent.simulator.engine import Engine
from agent.simulator.live import Hub
from agent.simulator.masking import MaskingFilter
from agent.simulator.options import SimulatorInfo, SimulatorOptions
from agent.simulator.shapes import WireStyle
from agent.simulator.state import Config, SimState, random_api_key

log = logging.getLogger(__name__)

# Every logger the simulator's records come from: each gets the masking filter
# (a logger's filters see only its own records, not its children's).
_LOGGERS = (
    "uvicorn.error",
    "uvicorn.access",
    "agent.simulator.server",
    "agent.simulator.engine",
    "agent.simulator.live",
    "agent.simulator.rest",
)
_GRACE_S = 1  # seconds: how long a stop waits for open connections to close


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The caller owns the signals (run_cli, the demo, a test's thread).
        yield


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must be TCP by name: asyncio sets TCP_NODELAY on accepted sockets only
    # then, and without it every keep-alive response waits ~40 ms for delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        if os.name != "nt":  # on Windows SO_REUSEADDR would let two servers share a port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _abort_live(server: uvicorn.Server) -> int:
    """Abort the transport of every open WebSocket: no close frame, no handshake.

    uvicorn keeps its protocol objects in ``server_state.connections``; a
    WebSocket protocol there owns its transport once the upgrade happened.
    """
    count = 0
    for protocol in list(server.server_state.connections):
        transport = getattr(protocol, "transport", None)
        if isinstance(protocol, WebSocketsSansIOProtocol) and transport is not None:
            if not transport.is_closing():
                count += 1
            transport.abort()
    return count


def _abort_all(server: uvicorn.Server) -> None:
    for protocol in list(server.server_state.connections):
        transport = getattr(protocol, "transport", None)
        if transport is not None:
            transport.abort()


async def serve_simulator(
    options: SimulatorOptions, started: Callable[[SimulatorInfo], None] | None = None
) -> None:
    """Serve until cancelled; ``started`` gets the banner once the port listens."""
    api_key = options.api_key or random_api_key()
    with contextlib.ExitStack() as stack:
        tls = None
        if options.tls:
            # Imported here: trustme pulls in cryptography (~65 ms) that plain runs skip.
            from agent.simulator.tls import tls_files

            tls = stack.enter_context(tls_files())
        sock = bind_socket(options.host, options.port)
        stack.callback(sock.close)
        host = f"[{options.host}]" if ":" in options.host else options.host
        port = sock.getsockname()[1]
        secure = "s" if tls is not None else ""
        info = SimulatorInfo(
            base_url=f"http{secure}://{host}:{port}",
            ws_url=f"ws{secure}://{host}:{port}{LIVE_PATH}",
            domain=options.domain,
            api_key=api_key,
            ca_file=tls.ca_file if tls is not None else None,
        )
        style = WireStyle(options.domain, info.base_url, options.seconds, options.dashed_uuids)
        config = Config(operator_answer_s=options.operator_answer_s)
        engine = Engine(SimState(style, api_key, config), Hub())
        stack.callback(engine.close)
        masking = MaskingFilter(engine.state.secret_values)
        for name in _LOGGERS:
            logging.getLogger(name).addFilter(masking)
            stack.callback(logging.getLogger(name).removeFilter, masking)
        server = _Server(
            uvicorn.Config(
                build_app(engine),
                http="h11",
                ws="websockets-sansio",
                lifespan="off",
                log_config=None,
                timeout_graceful_shutdown=_GRACE_S,
                ssl_certfile=tls.cert_file if tls is not None else None,
            )
        )
        engine.abort_live = partial(_abort_live, server)
        stack.callback(_abort_all, server)
        await _serve(server, sock, info, started)


async def _serve(
    server: uvicorn.Server,
    sock: socket.socket,
    info: SimulatorInfo,
    started: Callable[[SimulatorInfo], None] | None,
) -> None:
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # startup failed: raise its error
                return
            await asyncio.sleep(0.005)
        log.info("simulator listening on %s (domain %s)", info.base_url, info.domain)
        if started is not None:
            started(info)
        await asyncio.shield(task)
    except asyncio.CancelledError:
        server.should_exit = True
        await task
        raise


class SimulatorThread:
    """The simulator on its own event loop in a daemon thread (tests, tools)."""

    def __init__(self, options: SimulatorOptions | None = None) -> None:
        self.options = options or SimulatorOptions()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._info: SimulatorInfo | None = None
        self._error: BaseException | None = None

    @property
    def info(self) -> SimulatorInfo:
        if self._info is None:
            raise RuntimeError("the simulator is not started")
        return self._info

    def start(self, timeout: float = 30.0) -> SimulatorInfo:
        """Start it and return its banner once the port listens."""
        if self._thread is not None:
            raise RuntimeError("the simulator is already started")
        self._ready.clear()
        self._info = self._error = None
        self._thread = threading.Thread(target=self._run, name="phonet-simulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the simulator did not start in time")
        if self._error is not None:
            raise RuntimeError("the simulator failed to start") from self._error
        return self.info

    def stop(self) -> None:
        loop, task, thread = self._loop, self._task, self._thread
        if loop is not None and task is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(task.cancel)
        if thread is not None:
            thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> SimulatorInfo:
        """``with SimulatorThread(options) as info:`` starts it and gives the banner."""
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:  # the thread's entry point: the error barrier
        try:
            asyncio.run(self._main())
        except asyncio.CancelledError:
            pass
        except BaseException as exc:
            self._error = exc
            log.exception("the simulator thread failed")
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        await serve_simulator(self.options, self._started)

    def _started(self, info: SimulatorInfo) -> None:
        self._info = info
        self._ready.set()
