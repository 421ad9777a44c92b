"""Every message key the agent and the window use is in English, and Ukrainian and
Russian carry exactly English's keys with the same placeholders (B7; architecture.md
rule 8: user-facing errors are message keys translated by agent/i18n).

The keys are found the way the code uses them, not by their look:

- Python (``agent/``, read with :mod:`ast`): ``message_key=`` arguments and
  ``message_key`` class attributes of the error tree (agent/core/errors.py), the
  message key of an :class:`~agent.core.numbers.InvalidNumber`, the settings errors
  (``FieldError``, routes_settings ``_error``), and the first argument of every
  ``t(...)`` / ``self.t(...)`` (a :class:`~agent.i18n.Translator`), including the
  keys a module constant feeds it (``JOURNAL_COLUMNS``, ``_KNOWN_REASONS``).
- The window (``webui/``, tokenised): the first argument of ``t(...)``, ``has(...)``
  and the licence view's ``tr(ctx, key, english, values)``; ``data-i18n*``
  attributes; and any other string literal in a message namespace (labels handed to
  small helpers such as ``field(...)`` or ``rows([...])``), except CSS selectors,
  file names and comments.
- Keys built at run time (``f"outcome.{...}"``, ``t(`link.${state}`)``) are expanded
  from the enums and settings that feed them (:data:`FAMILIES`); a new kind of built
  key fails here until it is declared there.
"""

from __future__ import annotations

import ast
import json
import re
import string
import typing
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path

import pytest

from agent.api.routes_settings import SECRETS
from agent.core.call_events import EventState
from agent.core.connection import LinkState
from agent.core.dial_list import EntryState
from agent.core.dialer import DialerState
from agent.core.events import Direction
from agent.core.journal import Source
from agent.core.license import Fault
from agent.core.license_seats import LicenseState
from agent.core.lines import LineState
from agent.core.outcomes import Outcome
from agent.core.settings import OperatorSettings, TeamSettings
from agent.i18n import LANGUAGES
from agent.jobs.service import JOBS

ROOT = Path(__file__).resolve().parents[1]
I18N = ROOT / "agent" / "i18n"

# A message key: dotted lower-case words ("popup.title.ring", "weekday.1").
KEY = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+")
# A key built at run time, its variable parts as "*" ("outcome.*", "*.*").
PATTERN = re.compile(r"(?:[a-z][a-z0-9_]*|\*)(?:\.(?:[a-z0-9_]+|\*))+")
# Strings in a message namespace that are not messages: file names and selectors.
FILE_SUFFIXES = frozenset(
    {"csv", "css", "html", "js", "json", "log", "ods", "png", "xls", "xlsx", "zip"}
)
SELECTOR_CALLS = frozenset({"querySelector", "querySelectorAll", "closest", "matches"})


def _english() -> dict[str, str]:
    return _messages("en")


def _messages(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((I18N / f"{lang}.json").read_text(encoding="utf-8"))
    return data


def placeholders(text: str) -> set[str]:
    """The ``{name}`` fields of a text as both translators fill them (str.format_map in
    agent/i18n, /\\{(\\w+)\\}/ in webui/js/i18n.js); a text str.format cannot read is an
    error, since Python then shows it unfilled."""
    names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    for name in names:
        if not re.fullmatch(r"\w+", name):
            raise ValueError(f"placeholder {{{name}}} in {text!r} is not a plain name")
    return names


# ------------------------------------------------------------------ what a use looks like


@dataclass
class Use:
    """Where a key (or a built key's pattern) is used, and what the user of it fills in.

    ``values`` is None when unknown (a helper passes it on), else the placeholder names
    the call supplies; ``optional`` marks a lookup guarded by ``has()`` with a fallback.
    """

    where: str
    values: frozenset[str] | None = None
    optional: bool = False


@dataclass
class Found:
    keys: dict[str, list[Use]] = field(default_factory=lambda: defaultdict(list))
    patterns: dict[str, list[Use]] = field(default_factory=lambda: defaultdict(list))

    def add(self, text: str, use: Use) -> None:
        if "*" in text:
            if PATTERN.fullmatch(text):
                self.patterns[text].append(use)
        elif KEY.fullmatch(text):
            self.keys[text].append(use)


NO_VALUES: frozenset[str] = frozenset()


# ------------------------------------------------------------------ Python (agent/)

# Calls that take a message key as a positional argument: (index, values filled in).
# FieldError/_error: agent/core/settings.py and agent/api/routes_settings.py; the window
# shows them with {message} (webui/js/views/settings.js). InvalidNumber's key is its
# ``code`` (agent/core/numbers.py docstring); it is shown without values.
KEY_ARGUMENTS: dict[str, tuple[int, frozenset[str]]] = {
    "FieldError": (1, frozenset({"message"})),
    "_error": (2, frozenset({"message"})),
    "InvalidNumber": (1, NO_VALUES),
}


def _python_files() -> Iterator[Path]:
    yield from sorted((ROOT / "agent").rglob("*.py"))


def _pattern_of(node: ast.expr) -> str | None:
    """A string constant, or an f-string with its replacement fields as "*"."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for part in node.values:
            if isinstance(part, ast.Constant):
                parts.append(str(part.value))
            else:
                parts.append("*")
        return "".join(parts)
    return None


def _strings_in(node: ast.AST) -> Iterator[str]:
    """The strings an expression can evaluate to: constants and f-strings anywhere in
    it (``"a" if x else "b"``), not inside calls it makes."""
    if isinstance(node, ast.Call):
        return
    text = _pattern_of(node) if isinstance(node, ast.expr) else None
    if text is not None:
        yield text
        return
    for child in ast.iter_child_nodes(node):
        yield from _strings_in(child)


def _module_constants(tree: ast.Module) -> dict[str, list[str]]:
    """Module-level tuples, lists, sets and dicts (their values) of strings."""
    found: dict[str, list[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if isinstance(value, ast.Dict):
            items: list[ast.expr | None] = list(value.values)
        elif isinstance(value, ast.Tuple | ast.List | ast.Set):
            items = list(value.elts)
        else:
            continue
        strings = [
            i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)
        ]
        if strings and len(strings) == len(items):
            for target in targets:
                if isinstance(target, ast.Name):
                    found[target.id] = strings
    return found


def _bound_from_constant(scope: ast.AST, name: str, constants: dict[str, list[str]]) -> list[str]:
    """The strings a local name takes when it is bound from a module constant: ``for
    name in CONST``, ``[... for name in CONST]``, ``name = CONST.get(...)``/``CONST[...]``."""
    found: list[str] = []
    for node in ast.walk(scope):
        if isinstance(node, ast.For | ast.comprehension):
            target, source = node.target, node.iter
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, source = node.targets[0], node.value
        else:
            continue
        if not (isinstance(target, ast.Name) and target.id == name):
            continue
        for inner in ast.walk(source):
            if isinstance(inner, ast.Name) and inner.id in constants:
                found += constants[inner.id]
    return found


def _is_translation(call: ast.Call) -> bool:
    func = call.func
    return (isinstance(func, ast.Name) and func.id == "t") or (
        isinstance(func, ast.Attribute) and func.attr == "t"
    )


def _call_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def python_keys() -> Found:
    found = Found()
    for path in _python_files():
        rel = path.relative_to(ROOT)
        tree = ast.parse(path.read_text(encoding="utf-8"), str(rel))
        constants = _module_constants(tree)
        scopes: list[ast.AST] = [tree]
        for scope in ast.walk(tree):
            if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
                scopes.append(scope)
        parent_scope: dict[ast.AST, ast.AST] = {}
        for scope in scopes:  # innermost wins: functions come after the module
            for node in ast.walk(scope):
                parent_scope[node] = scope
        for node in ast.walk(tree):
            where = f"{rel}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Call):
                _python_call(node, where, found, constants, parent_scope[node])
            elif isinstance(node, ast.ClassDef):
                _python_class(node, rel, found)
    return found


def _python_call(
    call: ast.Call,
    where: str,
    found: Found,
    constants: dict[str, list[str]],
    scope: ast.AST,
) -> None:
    for keyword in call.keywords:
        if keyword.arg == "message_key":
            for text in _strings_in(keyword.value):
                found.add(text, Use(where, NO_VALUES))
    name = _call_name(call)
    if name in KEY_ARGUMENTS:
        index, values = KEY_ARGUMENTS[name]
        argument = call.args[index] if len(call.args) > index else None
        if argument is None and name == "InvalidNumber":
            argument = next((k.value for k in call.keywords if k.arg == "code"), None)
        if argument is not None:
            for text in _strings_in(argument):
                found.add(text, Use(where, values))
    if _is_translation(call) and call.args:
        first = call.args[0]
        given: frozenset[str] | None = frozenset(k.arg for k in call.keywords if k.arg)
        if any(k.arg is None for k in call.keywords):
            given = None  # **values: not known here
        for text in _strings_in(first):
            found.add(text, Use(where, given))
        if isinstance(first, ast.Name):
            for text in _bound_from_constant(scope, first.id, constants):
                found.add(text, Use(where, given))


def _python_class(node: ast.ClassDef, rel: Path, found: Found) -> None:
    for item in node.body:
        where = f"{rel}:{item.lineno}"
        if isinstance(item, ast.Assign | ast.AnnAssign):
            targets = item.targets if isinstance(item, ast.Assign) else [item.target]
            names = {t.id for t in targets if isinstance(t, ast.Name)}
            # An InvalidNumber's ``code`` defaults to a key, like ``message_key`` does.
            keyed = "message_key" in names or (node.name == "InvalidNumber" and "code" in names)
            if keyed and item.value is not None:
                for text in _strings_in(item.value):
                    found.add(text, Use(where, NO_VALUES))
        elif isinstance(item, ast.FunctionDef) and item.name == "message_key":
            for inner in ast.walk(item):
                if isinstance(inner, ast.Return) and inner.value is not None:
                    for text in _strings_in(inner.value):
                        found.add(text, Use(where, NO_VALUES))


# ------------------------------------------------------------------ the window (webui/)


@dataclass
class Token:
    kind: str  # "str", "tpl" (a template literal, its ${...} as "*"), "name", "punct"
    text: str
    line: int
    parts: tuple[str, ...] = ()  # a template's ${...} code, in order


class JsLexer:
    """Just enough JavaScript: strings, template literals (their ``${...}`` code is
    lexed too), regex literals and comments skipped, names and punctuation."""

    REGEX_AFTER = frozenset({"return", "typeof", "case"})  # else a "/" after a name divides

    def __init__(self, source: str) -> None:
        self.src = source
        self.i = 0
        self.line = 1
        self.tokens: list[Token] = []

    def lex(self) -> list[Token]:
        self._lex_until(None)
        return self.tokens

    def _emit(self, kind: str, text: str, line: int) -> None:
        self.tokens.append(Token(kind, text, line))

    def _regex_may_start(self) -> bool:
        if not self.tokens:
            return True
        last = self.tokens[-1]
        if last.kind == "punct":
            return last.text not in ")]}"
        return last.kind == "name" and last.text in self.REGEX_AFTER

    def _lex_until(self, closer: str | None) -> None:
        depth = 0
        src = self.src
        while self.i < len(src):
            c = src[self.i]
            if c == "\n":
                self.line += 1
                self.i += 1
            elif c.isspace():
                self.i += 1
            elif src.startswith("//", self.i):
                end = src.find("\n", self.i)
                self.i = len(src) if end < 0 else end
            elif src.startswith("/*", self.i):
                end = src.find("*/", self.i + 2)
                end = len(src) if end < 0 else end + 2
                self.line += src.count("\n", self.i, end)
                self.i = end
            elif c in "\"'":
                self._string(c)
            elif c == "`":
                self._template()
            elif c == "/" and self._regex_may_start():
                self._regex()
            elif c.isalpha() or c in "_$":
                m = re.compile(r"[\w$]+").match(src, self.i)
                assert m is not None
                self._emit("name", m.group(), self.line)
                self.i = m.end()
            elif c.isdigit():
                m = re.compile(r"[\w.]+").match(src, self.i)
                assert m is not None
                self._emit("number", m.group(), self.line)
                self.i = m.end()
            else:
                if closer is not None and c == "}" and depth == 0:
                    self.i += 1
                    return
                if c == "{":
                    depth += 1
                elif c == "}":
                    depth -= 1
                self._emit("punct", c, self.line)
                self.i += 1

    def _string(self, quote: str) -> None:
        line = self.line
        self.i += 1
        out = []
        while self.i < len(self.src) and self.src[self.i] not in (quote, "\n"):
            if self.src[self.i] == "\\":
                self.i += 1
            out.append(self.src[self.i])
            self.i += 1
        self.i += 1
        self._emit("str", "".join(out), line)

    def _template(self) -> None:
        # The template's token comes before the tokens of the code in its ${...}.
        token = Token("tpl", "", self.line)
        self.tokens.append(token)
        self.i += 1
        out = []
        parts = []
        while self.i < len(self.src) and self.src[self.i] != "`":
            c = self.src[self.i]
            if c == "\\":
                out.append(self.src[self.i + 1])
                self.i += 2
            elif self.src.startswith("${", self.i):
                self.i += 2
                start = self.i
                out.append("*")
                self._lex_until("}")
                parts.append(self.src[start : self.i - 1].strip())
            else:
                if c == "\n":
                    self.line += 1
                out.append(c)
                self.i += 1
        self.i += 1
        token.text, token.parts = "".join(out), tuple(parts)

    def _regex(self) -> None:
        self.i += 1
        in_class = False
        while self.i < len(self.src) and self.src[self.i] != "\n":
            c = self.src[self.i]
            if c == "\\":
                self.i += 2
                continue
            if c == "[":
                in_class = True
            elif c == "]":
                in_class = False
            elif c == "/" and not in_class:
                break
            self.i += 1
        self.i += 1
        while self.i < len(self.src) and self.src[self.i].isalpha():
            self.i += 1
        self._emit("regex", "", self.line)


def _argument_spans(tokens: list[Token], open_index: int) -> list[tuple[int, int]]:
    """The [start, end) token ranges of a call's arguments; ``open_index`` is its "("."""
    spans = []
    depth = 0
    start = open_index + 1
    for i in range(open_index + 1, len(tokens)):
        tok = tokens[i]
        if tok.kind == "punct" and tok.text in "([{":
            depth += 1
        elif tok.kind == "punct" and tok.text in ")]}":
            if depth == 0:
                if i > start:
                    spans.append((start, i))
                return spans
            depth -= 1
        elif tok.kind == "punct" and tok.text == "," and depth == 0:
            spans.append((start, i))
            start = i + 1
    return spans


def _object_keys(tokens: list[Token]) -> frozenset[str] | None:
    """The property names of an object literal ``{ a, b: x }``; None if it is not one
    (a variable, a spread)."""
    if not tokens or tokens[0].text != "{" or tokens[-1].text != "}":
        return None
    names = set()
    depth = 0
    expect_key = True
    for tok in tokens[1:-1]:
        if tok.kind == "punct" and tok.text in "([{":
            depth += 1
        elif tok.kind == "punct" and tok.text in ")]}":
            depth -= 1
        elif depth == 0 and tok.kind == "punct" and tok.text == ",":
            expect_key = True
        elif depth == 0 and expect_key:
            if tok.text == ".":
                return None  # ...spread
            if tok.kind in ("name", "str"):
                names.add(tok.text)
            expect_key = False
    return frozenset(names)


def _array_strings(tokens: list[Token], close: int) -> list[str] | None:
    """The strings of the array literal whose "]" is at ``close``; None if it holds
    anything else."""
    depth = 0
    for i in range(close, -1, -1):
        if tokens[i].text in (")", "]", "}") and tokens[i].kind == "punct":
            depth += 1
        elif tokens[i].text in ("(", "[", "{") and tokens[i].kind == "punct":
            depth -= 1
            if depth == 0:
                items = tokens[i + 1 : close]
                strings = [t.text for t in items if t.kind == "str"]
                others = [t for t in items if t.kind != "str" and t.text != ","]
                return None if others else strings
    return None


def _mapped_values(tokens: list[Token], at: int, name: str) -> list[str] | None:
    """The values ``name`` takes when the nearest binding of it before token ``at`` is
    ``ARRAY.map((name) => …)`` or ``for (const name of ARRAY)``, ARRAY a literal or a
    name bound to one (``const FILTERS = [...]``); None when it is not that."""
    for k in range(at - 1, 3, -1):
        if tokens[k].text != name or tokens[k].kind != "name":
            continue
        texts = [t.text for t in tokens[k - 3 : k + 4]]
        if texts[:3] == ["for", "(", "const"] or texts[:3] == ["for", "(", "let"]:
            if texts[4] == "of" and texts[6] == ")":
                return _array_values(tokens, k + 2)
            return None
        if tokens[k - 1].text == "(" and tokens[k + 1].text == ")":
            head, tail = k - 2, k + 2  # .map((name) =>
        else:
            head, tail = k - 1, k + 1  # .map(name =>
        arrow = [t.text for t in tokens[tail : tail + 2]] == ["=", ">"]
        called = [t.text for t in tokens[head - 2 : head + 1]] == [".", "map", "("]
        if arrow and called:
            return _array_values(tokens, head - 3)
        if arrow:
            return None  # bound by another arrow function
    return None


def _array_values(tokens: list[Token], at: int) -> list[str] | None:
    """The strings of the array literal ending at token ``at``, or of the array literal
    the name at ``at`` is bound to (``NAME = [...]``)."""
    receiver = tokens[at]
    if receiver.text == "]":
        return _array_strings(tokens, at)
    if receiver.kind != "name":
        return None
    for q in range(len(tokens) - 2):
        bound = tokens[q].text == receiver.text and tokens[q + 1].text == "="
        if bound and tokens[q + 2].text == "[":
            depth = 0
            for e in range(q + 2, len(tokens)):
                if tokens[e].text == "[":
                    depth += 1
                elif tokens[e].text == "]":
                    depth -= 1
                    if depth == 0:
                        return _array_strings(tokens, e)
    return None


def _expanded(tokens: list[Token], j: int) -> list[str]:
    """A template key as the keys it makes, when its one ``${name}`` comes from an
    array literal; else the template's pattern, for :data:`FAMILIES`."""
    tok = tokens[j]
    if len(tok.parts) == 1 and re.fullmatch(r"[A-Za-z_$][\w$]*", tok.parts[0]):
        values = _mapped_values(tokens, j, tok.parts[0])
        if values is not None:
            return [tok.text.replace("*", v) for v in values]
    return [tok.text]


TRANSLATING_CALLS = {"t": (0, 1), "has": (0, None), "tr": (1, 3)}  # name: (key, values)


def window_keys() -> Found:
    found = Found()
    for path in sorted((ROOT / "webui").rglob("*.js")):
        rel = path.relative_to(ROOT)
        tokens = JsLexer(path.read_text(encoding="utf-8")).lex()
        in_call: set[int] = set()
        for i, tok in enumerate(tokens[:-1]):
            if tok.kind != "name" or tok.text not in TRANSLATING_CALLS:
                continue
            if tokens[i + 1].text != "(" or (i and tokens[i - 1].text == "function"):
                continue
            key_at, values_at = TRANSLATING_CALLS[tok.text]
            spans = _argument_spans(tokens, i + 1)
            if len(spans) <= key_at:
                continue
            values: frozenset[str] | None = None  # has() fills nothing in
            if values_at is not None:
                values = NO_VALUES
                if len(spans) > values_at:
                    values = _object_keys(tokens[slice(*spans[values_at])])
            start, end = spans[key_at]
            for j in range(start, end):
                inner = tokens[j]
                if inner.kind in ("str", "tpl"):
                    in_call.add(j)
                    use = Use(f"{rel}:{inner.line}", values, optional=tok.text == "has")
                    for text in _expanded(tokens, j) if inner.kind == "tpl" else [inner.text]:
                        found.add(text, use)
        namespaces = {key.split(".")[0] for key in _english()}
        for j, tok in enumerate(tokens):
            if j in in_call or tok.kind not in ("str", "tpl"):
                continue
            text = tok.text
            if text.split(".")[0] not in namespaces or text.rsplit(".", 1)[-1] in FILE_SUFFIXES:
                continue
            if j >= 2 and tokens[j - 1].text == "(" and tokens[j - 2].text in SELECTOR_CALLS:
                continue
            found.add(text, Use(f"{rel}:{tok.line}"))
    for path in sorted((ROOT / "webui").rglob("*.html")):
        rel = path.relative_to(ROOT)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for key in re.findall(r'data-i18n(?:-[\w-]+)?="([^"]+)"', line):
                found.add(key, Use(f"{rel}:{number}", NO_VALUES))
    return found


# ------------------------------------------------------------------ keys built at run time


def _values(enum: typing.Any) -> list[str]:
    return [str(member.value) for member in enum]


def _settings_fields() -> list[str]:
    return [f.name for cls in (TeamSettings, OperatorSettings) for f in fields(cls)]


def _settings_labels() -> list[str]:
    """The window labels every setting and every secret (webui/js/views/settings.js)."""
    return _settings_fields() + [secret.name for secret in SECRETS]


def _settings_options() -> list[str]:
    keys = []
    for cls in (TeamSettings, OperatorSettings):
        hints = typing.get_type_hints(cls)
        for f in fields(cls):
            if typing.get_origin(hints[f.name]) is typing.Literal:
                keys += [f"{f.name}.{v}" for v in typing.get_args(hints[f.name])]
    return keys


def _popup_buttons() -> list[str]:
    """The button ids ``popup_text._buttons`` returns (their titles: popup.action.<id>)."""
    tree = ast.parse((ROOT / "agent" / "desktop" / "popup_text.py").read_text(encoding="utf-8"))
    function = next(
        n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "_buttons"
    )
    body = function.body[1:] if ast.get_docstring(function) else function.body
    return sorted(
        {
            n.value
            for statement in body
            for n in ast.walk(statement)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
        }
    )


def _callback_kinds() -> list[str]:
    """The ``kind`` of callback queue items (agent/dialer/missed.py ``_item(kind, …)``)."""
    tree = ast.parse((ROOT / "agent" / "dialer" / "missed.py").read_text(encoding="utf-8"))
    return sorted(
        {
            n.args[0].value
            for n in ast.walk(tree)
            if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Name)
            and n.func.id == "_item"
            and isinstance(n.args[0], ast.Constant)
            and isinstance(n.args[0].value, str)
        }
    )


def _fill(prefix: str, values: Callable[[], list[str]]) -> Callable[[], list[str]]:
    return lambda: [f"{prefix}{v}" for v in values()]


# pattern -> the keys it stands for; None: an optional lookup with a fallback of its own.
FAMILIES: dict[str, Callable[[], list[str]] | None] = {
    # agent/
    "popup.direction.*": _fill("popup.direction.", lambda: _values(Direction)),
    "popup.action.*": _fill("popup.action.", _popup_buttons),
    "direction.*": _fill("direction.", lambda: _values(Direction)),
    "outcome.*": _fill("outcome.", lambda: _values(Outcome)),
    "source.*": _fill("source.", lambda: _values(Source)),
    "settings.invalid.*": _fill("settings.invalid.", _settings_fields),
    "license.*": _fill("license.", lambda: _values(Fault)),  # Rejection.message_key
    # the tray's Jobs menu and its result popups: one per job (agent/jobs)
    "tray.job.*": _fill("tray.job.", lambda: list(JOBS)),
    "popup.job.*": _fill("popup.job.", lambda: list(JOBS)),
    # webui/
    "link.*": _fill("link.", lambda: _values(LinkState)),
    "dialer.state.*": _fill("dialer.state.", lambda: _values(DialerState)),
    "event.state.*": _fill("event.state.", lambda: _values(EventState)),
    "entry.state.*": _fill("entry.state.", lambda: _values(EntryState)),
    "line.state.*": _fill("line.state.", lambda: [v for v in _values(LineState) if v != "none"]),
    "license.state.*": _fill("license.state.", lambda: _values(LicenseState)),
    "callbacks.kind.*": _fill("callbacks.kind.", _callback_kinds),
    "weekday.*": _fill("weekday.", lambda: [str(d) for d in range(1, 8)]),
    "settings.field.*": _fill("settings.field.", _settings_labels),
    "settings.option.*.*": _fill("settings.option.", _settings_options),
    # journal.js select(name, options): name is "direction" or "outcome"
    "*.*": lambda: (
        [f"direction.{v}" for v in _values(Direction)] + [f"outcome.{v}" for v in _values(Outcome)]
    ),
    # Values the views make in code that is not an array literal
    "report.preset.*": _fill(  # report.js presets()
        "report.preset.", lambda: ["week", "month", "last_month"]
    ),
    "phone.suggestion.*": _fill(  # phone.js suggestions' kind
        "phone.suggestion.", lambda: ["recent", "contact"]
    ),
    # i18n.js errorText: error.<API code>, else the code when it is a key of its own,
    # else the agent's own sentence; that every code the API can send has a message:
    # tests/i18n/test_error_messages.py.
    "error.*": None,
}


# ------------------------------------------------------------------ the checks


@pytest.fixture(scope="module")
def used() -> dict[str, list[Use]]:
    """Every key in use, built keys expanded, with where each is used."""
    keys: dict[str, list[Use]] = defaultdict(list)
    for found in (python_keys(), window_keys()):
        for key, uses in found.keys.items():
            keys[key] += uses
        for pattern, uses in found.patterns.items():
            if pattern not in FAMILIES:
                keys[f"<built key {pattern}: declare its values in FAMILIES>"] += uses
                continue
            expand = FAMILIES[pattern]
            if expand is not None:
                for key in expand():
                    keys[key] += uses
    return keys


def test_the_scan_finds_the_keys_of_each_kind_of_use(used: dict[str, list[Use]]) -> None:
    # One key of each way of using one, so the scan cannot silently go blind.
    for key in (
        "error.job_not_runnable",  # message_key= (agent/jobs/scheduler.py)
        "event.bad_state",  # class attribute (agent/core/call_events.py)
        "number.none_in_text",  # InvalidNumber (agent/desktop/links.py)
        "number.invalid",  # InvalidNumber.code's default
        "settings.invalid.robot_password",  # routes_settings _error
        "settings.invalid.missed_days",  # settings.invalid.{field}
        "license.bad_expiry",  # Rejection.message_key, Fault
        "tray.open_window",  # t("…") in Python
        "journal.col.talk_s",  # t(key) for key in JOURNAL_COLUMNS
        "tray.state.key_refused",  # t(known) from _KNOWN_REASONS
        "popup.action.call_back",  # f"popup.action.{bid}"
        "export.done",  # t("…", {name}) in the window
        "health.uptime",  # rows([["health.uptime", …]])
        "license.state.expired",  # tr(ctx, `license.state.${…}`)
        "filter.direction",  # a label handed to a helper
        "nav.journal",  # titleKey
    ):
        assert key in used, key
    for not_a_message in (
        "contacts.search_fields",  # a kv key (agent/contacts/service.py)
        "window.log",  # a file name (agent/api/webui.py)
        "journal.xlsx",  # a download's name (webui/js/views/journal.js)
        "nav.tabs",  # a CSS selector (webui/js/app.js)
        "scope.name",  # in a comment (webui/js/views/settings.js)
    ):
        assert not_a_message not in used, not_a_message


def test_every_key_in_use_is_in_english(used: dict[str, list[Use]]) -> None:
    english = _english()
    missing = {
        key: sorted({u.where for u in uses})[:3]
        for key, uses in used.items()
        if key not in english and not all(u.optional for u in uses)
    }
    assert missing == {}


def test_every_placeholder_of_a_key_is_filled_where_it_is_used(
    used: dict[str, list[Use]],
) -> None:
    english = _english()
    unfilled = {}
    for key, uses in used.items():
        if key not in english:
            continue
        wanted = placeholders(english[key])
        for use in uses:
            if use.values is not None and not wanted <= use.values:
                unfilled[f"{key} at {use.where}"] = sorted(wanted - use.values)
    assert unfilled == {}


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_each_language_has_exactly_the_english_keys_and_placeholders(lang: str) -> None:
    english = _english()
    texts = _messages(lang)
    assert sorted(set(english) - set(texts)) == [], "missing"
    assert sorted(set(texts) - set(english)) == [], "not in English"
    differ = {
        key: (sorted(placeholders(english[key])), sorted(placeholders(text)))
        for key, text in texts.items()
        if placeholders(text) != placeholders(english[key])
    }
    assert differ == {}
    assert [key for key, text in texts.items() if not text.strip()] == []


def test_every_text_reads_as_a_template_in_python_and_in_the_window() -> None:
    unreadable = {}
    for lang in LANGUAGES:
        for key, text in _messages(lang).items():
            try:
                names = placeholders(text)
            except ValueError as exc:  # a "{" str.format cannot read
                unreadable[f"{lang} {key}"] = str(exc)
                continue
            if set(re.findall(r"\{(\w+)\}", text)) != names:
                unreadable[f"{lang} {key}"] = "the window would fill other fields"
    assert unreadable == {}
