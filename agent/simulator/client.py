"""A small synchronous client of the control API ``/_sim/`` (contracts.md §3).

For tests, the demo and the bench. Every method raises ``httpx.HTTPStatusError``
on an error answer, so a mistake in a test setup shows at the line that made it.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

T = TypeVar("T")


class SimControl:
    def __init__(self, base_url: str, ca_file: str | None = None, timeout: float = 10.0) -> None:
        verify: ssl.SSLContext | bool = True
        if ca_file is not None:
            verify = ssl.create_default_context(cafile=ca_file)
        elif base_url.startswith("http://"):
            # Plain HTTP has no TLS to verify; this skips loading the system CA
            # bundle, which costs ~70 ms a client (tests make one per test).
            verify = False
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + "/_sim", verify=verify, timeout=timeout
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SimControl:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """A raw control request (``path`` below ``/_sim``), not raising on errors."""
        return self._http.request(method, path, json=body)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.request(method, path, body)
        response.raise_for_status()
        return response.json()

    # -- people and calls -------------------------------------------------------

    def add_user(
        self, ext: str, display_name: str, email: str | None, dnd_code: str | None = None
    ) -> None:
        body = {"ext": ext, "displayName": display_name, "email": email, "dnd_code": dnd_code}
        self._call("POST", "/users", body)

    def users(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._call("GET", "/users")["items"]
        return items

    def play_call(
        self,
        direction: str,
        ext: str,
        number: str,
        ring_s: float | None = 1.0,
        answer: bool = True,
        talk_s: float | None = 2.0,
        disposition: int | None = None,
        *,
        name: str | None = None,
        company: str | None = None,
    ) -> str:
        """Play a call; returns its uuid once its ``call.dial`` was sent."""
        body: dict[str, Any] = {
            "direction": direction,
            "ext": ext,
            "number": number,
            "ring_s": ring_s,
            "answer": answer,
            "talk_s": talk_s,
            "disposition": disposition,
        }
        if name is not None:
            body["name"] = name
        if company is not None:
            body["company"] = company
        uuid: str = self._call("POST", "/calls", body)["uuid"]
        return uuid

    def answer(self, uuid: str) -> dict[str, Any]:
        item: dict[str, Any] = self._call("POST", f"/calls/{uuid}/answer")
        return item

    def hangup(self, uuid: str, disposition: int | None = None) -> dict[str, Any]:
        body = {} if disposition is None else {"disposition": disposition}
        item: dict[str, Any] = self._call("POST", f"/calls/{uuid}/hangup", body)
        return item

    def calls(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._call("GET", "/calls")["items"]
        return items

    def call(self, uuid: str) -> dict[str, Any]:
        item: dict[str, Any] = self._call("GET", f"/calls/{uuid}")["items"][0]
        return item

    def script(
        self,
        number: str,
        answer: bool = True,
        ring_s: float | None = 2.0,
        talk_s: float | None = 5.0,
        disposition: int | None = None,
    ) -> None:
        body = {
            "number": number,
            "answer": answer,
            "ring_s": ring_s,
            "talk_s": talk_s,
            "disposition": disposition,
        }
        self._call("POST", "/script", body)

    # -- the wire ---------------------------------------------------------------

    def push(self, subscriber: str, frame: Any) -> int:
        delivered: int = self._call("POST", "/push", {"subscriber": subscriber, "frame": frame})[
            "delivered"
        ]
        return delivered

    def add_history(self, records: list[dict[str, Any]]) -> int:
        added: int = self._call("POST", "/history", {"records": records})["added"]
        return added

    def history(self) -> list[dict[str, Any]]:
        """Every history record, newest ``endAt`` first."""
        items: list[dict[str, Any]] = self._call("GET", "/history")["items"]
        return items

    def drop(self) -> int:
        dropped: int = self._call("POST", "/drop")["dropped"]
        return dropped

    def expire(self) -> int:
        expired: int = self._call("POST", "/expire")["expired"]
        return expired

    def faults(self, **faults: Any) -> dict[str, Any]:
        """Set faults: ``rest_5xx``, ``rest_delay_ms``, ``rest_delay_n``, ``ws_refuse``,
        ``duplicate_events``, ``history_lag_ms``; returns them all."""
        current: dict[str, Any] = self._call("POST", "/faults", faults)
        return current

    def connections(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._call("GET", "/connections")["items"]
        return items

    def requests(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._call("GET", "/requests")["items"]
        return items

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

    def reset(self) -> None:
        self._call("POST", "/reset")

    def config(self, **config: Any) -> dict[str, Any]:
        """``operator_answer_s``, ``session_ttl_s``; returns the whole configuration."""
        current: dict[str, Any] = self._call("POST", "/config", config)
        return current

    # -- waiting ----------------------------------------------------------------

    def wait_for(
        self, predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.02
    ) -> T:
        """Poll ``predicate`` until it returns something truthy; return that.

        Raises ``TimeoutError`` naming the predicate when ``timeout`` passes.
        """
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout} s: {predicate!r}")
            time.sleep(interval)
