"""Every error code the local API can send has a message in English, Ukrainian and
Russian, found the way the window finds it (B7; contracts.md §4's error shape
``{"error": {"code", "message", "field"?}}``; webui/js/i18n.js ``errorText``).

The window looks up ``error.<code>`` first and then, for a code that is a message key
of its own (``file.corrupt``, ``import.column_missing``, ``number.invalid``: the server
sends an :class:`~agent.core.errors.AgentError`'s message key without its ``error.``
prefix, agent/api/server.py), the code itself. A message may name the error's
``field`` as ``{field}``, and then every raise of that code gives a field.

The codes are found in the code, not listed by hand (read with :mod:`ast`):

- every message key an :class:`~agent.core.errors.AgentError` can carry: ``message_key``
  class attributes and ``message_key=`` arguments, with the keys that reach them
  through a value (an :class:`~agent.core.numbers.InvalidNumber`'s ``code``, a licence
  :class:`~agent.core.license.Fault`), as the server maps them to a code;
- the codes routes answer by hand: ``error_response(status, code, …)``, a literal
  ``{"error": {"code": …}}`` body, the Guard's ``(status, code, message)`` refusals and
  the HTTP-error table of agent/api/server.py.

A code computed at run time must be declared in :func:`computed_codes` with the codes it
makes, or the scan fails.
"""

from __future__ import annotations

import ast
import functools
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.core.license import Fault
from agent.i18n import LANGUAGES
from tests.test_i18n_keys import placeholders

ROOT = Path(__file__).resolve().parents[2]
AGENT = ROOT / "agent"
I18N = AGENT / "i18n"

# Placeholders an error message may use: what the window fills from the error itself.
ERROR_VALUES = frozenset({"field"})


@dataclass(frozen=True)
class Site:
    """Where a code is sent from, and whether that raise always names a field."""

    where: str
    has_field: bool | None  # None: not known here (a class default, a helper)


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _strings(node: ast.expr) -> list[str] | None:
    """The strings an expression can be (``"a"``, ``"a" if x else "b"``), or None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        body, orelse = _strings(node.body), _strings(node.orelse)
        return None if body is None or orelse is None else body + orelse
    return None


def _code_of_key(key: str) -> str:
    """The code the server sends for an AgentError's message key (server.py)."""
    return key.removeprefix("error.")


def _invalid_number_codes() -> list[str]:
    """``InvalidNumber.code``: its default and every code a call gives it."""
    codes = {"number.invalid"}
    for path in sorted(AGENT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and _name(node.func) == "InvalidNumber":
                given = node.args[1] if len(node.args) > 1 else None
                given = given or next((k.value for k in node.keywords if k.arg == "code"), None)
                if isinstance(given, ast.Constant) and isinstance(given.value, str):
                    codes.add(given.value)
    return sorted(codes)


def _licence_codes() -> list[str]:
    return [f"license.{fault.value}" for fault in Fault]


def _dialer_conflict_codes() -> list[str]:
    """routes_dialer answers a dialer ``Conflict`` with the last part of its key."""
    keys = {"dialer.conflict"}
    for path in sorted((AGENT / "dialer").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and _name(node.func) == "Conflict":
                for keyword in node.keywords:
                    if keyword.arg == "message_key" and isinstance(keyword.value, ast.Constant):
                        keys.add(str(keyword.value.value))
    return sorted(key.rpartition(".")[2] for key in keys)


@functools.cache
def computed_codes() -> dict[tuple[str, str], list[str]]:
    """Codes made at run time: (file, the expression as ast.unparse writes it) -> the
    codes it makes."""
    return {
        # app.py _dial_number: an InvalidNumber's code is the error's message key
        ("agent/app.py", "target.code"): _invalid_number_codes(),
        # the licence service and keys: a Rejection's key is license.<fault>
        ("agent/license/service.py", "rejection.message_key"): _licence_codes(),
        ("agent/license/keys.py", "checked.message_key"): _licence_codes(),
        # routes_dialer: a Conflict's key's last part
        ("agent/api/routes_dialer.py", "code"): _dialer_conflict_codes(),
        ("agent/api/routes_phone.py", "CALL_ENDED.removeprefix('error.')"): ["call_ended"],
        # server.py: an AgentError's key without "error." (the keys are found where they
        # are raised); the Guard's refusals and the HTTP-error table (scanned as such)
        ("agent/api/server.py", "exc.message_key.removeprefix('error.')"): [],
        ("agent/api/server.py", "code"): [],
        # InvalidInput passes its caller's key on (found at the caller)
        ("agent/core/errors.py", "message_key"): [],
    }


class Scan:
    def __init__(self) -> None:
        self.codes: dict[str, list[Site]] = defaultdict(list)
        self.unresolved: list[str] = []

    def add(self, codes: list[str], site: Site) -> None:
        for code in codes:
            self.codes[code].append(site)

    def computed(self, rel: str, node: ast.expr, where: str, has_field: bool | None) -> None:
        strings = _strings(node)
        if strings is not None:
            self.add(strings, Site(where, has_field))
            return
        declared = computed_codes().get((rel, ast.unparse(node)))
        if declared is None:
            self.unresolved.append(f"{where}: {ast.unparse(node)}")
        else:
            self.add(declared, Site(where, has_field))


def _is_int(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int


@functools.cache
def scan() -> Scan:
    """Every code found, once per test run (the walk reads all of agent/)."""
    found = Scan()
    for path in sorted(AGENT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("agent/simulator/"):
            continue  # the simulator is the PBX's stand-in, not the agent's API
        tree = ast.parse(path.read_text(encoding="utf-8"), rel)
        for node in ast.walk(tree):
            where = f"{rel}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.ClassDef):
                _class_keys(node, rel, found)
            elif isinstance(node, ast.Call):
                _call_codes(node, rel, where, found)
            elif isinstance(node, ast.Dict):
                _error_body_codes(node, rel, where, found)
            elif rel == "agent/api/server.py" and isinstance(node, ast.Tuple):
                # Guard._check's refusals: (status, code, message)
                elts = node.elts
                if len(elts) == 3 and _is_int(elts[0]) and (_strings(elts[1]) is not None):
                    found.add(_strings(elts[1]) or [], Site(where, False))
    return found


def _class_keys(node: ast.ClassDef, rel: str, found: Scan) -> None:
    for item in node.body:
        if isinstance(item, ast.Assign) and item.value is not None:
            names = {t.id for t in item.targets if isinstance(t, ast.Name)}
            if "message_key" in names:
                strings = _strings(item.value) or []
                found.add([_code_of_key(k) for k in strings], Site(f"{rel}:{item.lineno}", None))


def _call_codes(call: ast.Call, rel: str, where: str, found: Scan) -> None:
    name = _name(call.func)
    given = next((k.value for k in call.keywords if k.arg == "field"), None)
    if name == "error_response" and len(call.args) >= 2:
        given = call.args[3] if len(call.args) >= 4 else given
        found.computed(rel, call.args[1], where, _names_a_field(given))
        return
    has_field = _names_a_field(given)
    for keyword in call.keywords:
        if keyword.arg != "message_key":
            continue
        strings = _strings(keyword.value)
        if strings is not None:
            found.add([_code_of_key(k) for k in strings], Site(where, has_field))
        else:
            found.computed(rel, keyword.value, where, has_field)
    # server.py's HTTP-error table: {404: "not_found", …}.get(status, "http_error")
    if rel == "agent/api/server.py" and name == "get" and isinstance(call.func, ast.Attribute):
        table = call.func.value
        if isinstance(table, ast.Dict) and all(k is not None and _is_int(k) for k in table.keys):
            for value in [*table.values, *call.args[1:]]:
                found.add(_strings(value) or [], Site(where, False))


def _names_a_field(node: ast.expr | None) -> bool:
    """Whether a ``field`` argument always names one: not absent, not None, and no
    branch of it None (``"uuid" if uuid else None``)."""
    if node is None:
        return False
    return not any(isinstance(n, ast.Constant) and n.value is None for n in ast.walk(node))


def _error_body_codes(node: ast.Dict, rel: str, where: str, found: Scan) -> None:
    """A literal ``{"error": {"code": …, …}}`` answer."""
    for key, value in zip(node.keys, node.values, strict=True):
        if not (isinstance(key, ast.Constant) and key.value == "error"):
            continue
        if not isinstance(value, ast.Dict):
            continue
        inner = dict(zip(value.keys, value.values, strict=True))
        for inner_key, inner_value in inner.items():
            if isinstance(inner_key, ast.Constant) and inner_key.value == "code":
                has_field = any(isinstance(k, ast.Constant) and k.value == "field" for k in inner)
                found.computed(rel, inner_value, where, has_field)


def _messages(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((I18N / f"{lang}.json").read_text(encoding="utf-8"))
    return data


def message_key(code: str, messages: dict[str, str]) -> str | None:
    """The key webui/js/i18n.js ``errorText`` shows for a code, or None."""
    for key in candidate_keys(code):
        if key in messages:
            return key
    return None


def candidate_keys(code: str) -> Iterator[str]:
    yield f"error.{code}"
    if "." in code:
        yield code


@pytest.fixture(scope="module")
def codes() -> dict[str, list[Site]]:
    found = scan()
    assert found.unresolved == [], "declare these codes made at run time in computed_codes()"
    return dict(found.codes)


def api_error_codes() -> list[str]:
    """Every code the local API can send (for the window's own test)."""
    found = scan()
    return sorted(found.codes)


def test_the_scan_finds_the_codes_of_each_kind_of_sending(codes: dict[str, list[Site]]) -> None:
    for code in (
        "internal",  # AgentError's class attribute, and server.py's 500
        "pbx_unreachable",  # a subclass's class attribute (agent/core/errors.py)
        "job_not_runnable",  # message_key= (agent/jobs/scheduler.py)
        "file.corrupt",  # message_key= outside the error namespace (agent/files)
        "import.column_missing",  # agent/core/table_plan.py
        "number.bad_url",  # an InvalidNumber's code (app.py _dial_number)
        "license.tampered",  # a licence Fault
        "claimed",  # a dialer Conflict's last key part (routes_dialer)
        "bad_state",  # error_response(…) in a route (routes_contacts)
        "job_busy",  # a literal error body (routes_jobs)
        "invalid_settings",  # a literal error body (routes_settings)
        "forbidden_origin",  # the Guard (server.py)
        "method_not_allowed",  # server.py's HTTP-error table
        "http_error",  # … and its default
        "bad_request",  # server.py's ValueError answer
        "upgrade_required",  # the live channel over plain HTTP
    ):
        assert code in codes, code


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_error_code_the_api_can_send_has_a_message(
    codes: dict[str, list[Site]], lang: str
) -> None:
    messages = _messages(lang)
    missing = {
        code: sorted({s.where for s in sites})[:2]
        for code, sites in codes.items()
        if message_key(code, messages) is None
    }
    assert missing == {}


def test_an_error_message_names_only_the_field_and_only_where_each_raise_gives_one(
    codes: dict[str, list[Site]],
) -> None:
    english = _messages("en")
    wrong = {}
    for code, sites in codes.items():
        key = message_key(code, english)
        if key is None:
            continue
        wanted = placeholders(english[key])
        if wanted - ERROR_VALUES:
            wrong[key] = f"the window cannot fill {sorted(wanted - ERROR_VALUES)}"
        elif wanted and not all(site.has_field for site in sites):
            wrong[key] = "named {field}, but sent without one at " + ", ".join(
                sorted(s.where for s in sites if not s.has_field)
            )
    assert wrong == {}
