"""The CRDs' CEL validation rules (`x-kubernetes-validations`), evaluated as the API server does.

A small interpreter for the part of CEL (github.com/google/cel-spec) the rules of
the shipped Istio and Linkerd schemas use: literals, `self` and field access,
`has()`, `.all()`/`.exists()`, `size()`, `int()`, `string()`, `contains`,
`startsWith`, `endsWith`, `matches`, arithmetic, comparisons, `in`, `!`, `&&`,
`||` and `?:`. A rule it cannot read is skipped (logged), never guessed; one that
fails, or errors while evaluating, is a 422 cause as the apiextensions server
words it: `<path>: Invalid value: "<type>": <message>`.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from typing import Any

LOG = logging.getLogger(__name__)
Cause = tuple[str, str]
_TOKEN = re.compile(r"""\s*(?:(?P<number>\d+)|(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>&&|\|\||==|!=|<=|>=|[-+*/%!<>?:.,()\[\]{}]))""",
                    re.VERBOSE)


class CelError(Exception):
    """The rule cannot be evaluated (a type error, a missing field)."""


class Unsupported(Exception):
    """The rule uses CEL this interpreter does not read."""


def _tokens(text: str) -> list[tuple[str, str]]:
    found, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None:
            raise Unsupported(f"cannot read {text[position:position + 10]!r}")
        kind = match.lastgroup or ""
        found.append((kind, match.group(kind)))
        position = match.end()
    return found


Node = Callable[[dict[str, Any]], Any]


class _Parser:
    """Recursive descent over the tokens, building closures over an environment."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> str:
        return self.tokens[self.at][1] if self.at < len(self.tokens) else ""

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.at >= len(self.tokens):
            raise Unsupported("unexpected end of rule")
        token = self.tokens[self.at]
        if expected is not None and token[1] != expected:
            raise Unsupported(f"expected {expected!r}, found {token[1]!r}")
        self.at += 1
        return token

    def parse(self) -> Node:
        node = self.ternary()
        if self.at != len(self.tokens):
            raise Unsupported(f"unexpected {self.peek()!r}")
        return node

    def ternary(self) -> Node:
        condition = self.binary(0)
        if self.peek() != "?":
            return condition
        self.take("?")
        yes = self.ternary()
        self.take(":")
        no = self.ternary()
        return lambda env: yes(env) if _bool(condition(env)) else no(env)

    _LEVELS = (("||",), ("&&",), ("==", "!=", "<", "<=", ">", ">=", "in"), ("+", "-"),
               ("*", "/", "%"))

    def binary(self, level: int) -> Node:
        if level == len(self._LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek() in self._LEVELS[level]:
            operator = self.take()[1]
            right = self.binary(level + 1)
            left = _binary(operator, left, right)
        return left

    def unary(self) -> Node:
        if self.peek() == "!":
            self.take()
            inner = self.unary()
            return lambda env: not _bool(inner(env))
        if self.peek() == "-":
            self.take()
            negated = self.unary()
            return lambda env: -_number(negated(env))
        return self.member(self.primary())

    def arguments(self) -> list[Node]:
        self.take("(")
        found: list[Node] = []
        while self.peek() != ")":
            found.append(self.ternary())
            if self.peek() == ",":
                self.take(",")
        self.take(")")
        return found

    def member(self, node: Node) -> Node:
        while self.peek() in (".", "["):
            if self.take()[1] == "[":
                index = self.ternary()
                self.take("]")
                node = _index(node, index)
                continue
            name = self.take()[1]
            if self.peek() != "(":
                node = _field(node, name)
            elif name in ("all", "exists"):
                self.take("(")
                variable = self.take()[1]
                self.take(",")
                body = self.ternary()
                self.take(")")
                node = _macro(name, node, variable, body)
            else:
                node = _method(name, node, self.arguments())
        return node

    def primary(self) -> Node:
        kind, text = self.take()
        if kind == "number":
            value: Any = int(text)
            return lambda env: value
        if kind == "string":
            literal = bytes(text[1:-1], "utf-8").decode("unicode_escape")
            return lambda env: literal
        if text == "(":
            inner = self.ternary()
            self.take(")")
            return inner
        if text == "{":
            self.take("}")
            return lambda env: {}
        if text == "[":
            items = []
            while self.peek() != "]":
                items.append(self.ternary())
                if self.peek() == ",":
                    self.take(",")
            self.take("]")
            return lambda env: [item(env) for item in items]
        if kind != "name":
            raise Unsupported(f"unexpected {text!r}")
        constants = {"true": True, "false": False, "null": None}
        if text in constants:
            constant = constants[text]
            return lambda env: constant
        if text == "has":
            self.take("(")
            target = self.member(self.primary())
            self.take(")")
            return _has(target)
        if self.peek() == "(":
            return _function(text, self.arguments())
        return lambda env: _variable(env, text)


def _variable(env: dict[str, Any], name: str) -> Any:
    if name not in env:
        raise CelError(f"undeclared reference to '{name}'")
    return env[name]


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise CelError(f"no such overload: expected bool, got {type(value).__name__}")
    return value


def _number(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CelError("no such overload for a number")
    return value  # type: ignore[return-value]


def _field(node: Node, name: str) -> Node:
    def get(env: dict[str, Any]) -> Any:
        value = node(env)
        if not isinstance(value, dict) or name not in value:
            raise CelError(f"no such key: {name}")
        return value[name]
    # has() needs the object and the name without evaluating the field itself.
    get.cel_field = (node, name)  # type: ignore[attr-defined]
    return get


def _has(target: Node) -> Node:
    found = getattr(target, "cel_field", None)
    if found is None:
        raise Unsupported("has() needs a field selection")
    node, name = found

    def has(env: dict[str, Any]) -> bool:
        value = node(env)
        return isinstance(value, dict) and name in value and value[name] is not None
    return has


def _index(node: Node, index: Node) -> Node:
    def get(env: dict[str, Any]) -> Any:
        value, key = node(env), index(env)
        try:
            return value[key]
        except (KeyError, IndexError, TypeError):
            raise CelError(f"no such key: {key}") from None
    return get


def _macro(name: str, node: Node, variable: str, body: Node) -> Node:
    def run(env: dict[str, Any]) -> bool:
        collection = node(env)
        if not isinstance(collection, dict | list):
            raise CelError(f"{name}() needs a list or a map")
        results = [_bool(body({**env, variable: item})) for item in collection]
        return all(results) if name == "all" else any(results)
    return run


def _size(value: Any) -> int:
    if not isinstance(value, str | list | dict):
        raise CelError("no such overload: size")
    return len(value)


def _to_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise CelError(f"type conversion error from '{value}' to int") from None


_FUNCTIONS: dict[str, Callable[..., Any]] = {"size": _size, "int": _to_int, "string": str}
_METHODS: dict[str, Callable[..., Any]] = {
    "size": lambda value: _size(value),
    "contains": lambda value, part: _text(value).__contains__(_text(part)),
    "startsWith": lambda value, part: _text(value).startswith(_text(part)),
    "endsWith": lambda value, part: _text(value).endswith(_text(part)),
    "matches": lambda value, pattern: re.search(_text(pattern), _text(value)) is not None,
}


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise CelError("no such overload: expected string")
    return value


def _function(name: str, arguments: list[Node]) -> Node:
    if name not in _FUNCTIONS:
        raise Unsupported(f"function {name}()")
    function = _FUNCTIONS[name]
    return lambda env: function(*(a(env) for a in arguments))


def _method(name: str, node: Node, arguments: list[Node]) -> Node:
    if name not in _METHODS:
        raise Unsupported(f"method .{name}()")
    method = _METHODS[name]
    return lambda env: method(node(env), *(a(env) for a in arguments))


def _binary(operator: str, left: Node, right: Node) -> Node:
    if operator == "&&":
        return lambda env: _bool(left(env)) and _bool(right(env))
    if operator == "||":
        return lambda env: _bool(left(env)) or _bool(right(env))
    operations: dict[str, Callable[[Any, Any], Any]] = {
        "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
        "<": lambda a, b: _number(a) < _number(b), "<=": lambda a, b: _number(a) <= _number(b),
        ">": lambda a, b: _number(a) > _number(b), ">=": lambda a, b: _number(a) >= _number(b),
        "in": lambda a, b: a in b, "+": _plus, "-": lambda a, b: _number(a) - _number(b),
        "*": lambda a, b: _number(a) * _number(b),
        "/": lambda a, b: _number(a) // _number(b) if _number(b) else _zero(),
        "%": lambda a, b: _number(a) % _number(b) if _number(b) else _zero()}
    operation = operations[operator]
    return lambda env: operation(left(env), right(env))


def _plus(a: Any, b: Any) -> Any:
    if isinstance(a, str) and isinstance(b, str):
        return a + b
    if isinstance(a, list) and isinstance(b, list):
        return a + b
    return _number(a) + _number(b)


def _zero() -> Any:
    raise CelError("division by zero")


@functools.cache
def compile_rule(rule: str) -> Node | None:
    """The rule as a callable over {"self": value}, None when it uses unread CEL."""
    try:
        return _Parser(rule).parse()
    except Unsupported as why:
        LOG.warning("CEL rule not evaluated by the drill cluster (%s): %s", why, rule)
        return None


def _type_name(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def violations(schema: Any, value: Any, path: str = "") -> list[Cause]:
    """Every failed x-kubernetes-validations rule over value, with its field path."""
    if not isinstance(schema, dict) or value is None:
        return []
    causes: list[Cause] = []
    for rule in schema.get("x-kubernetes-validations") or []:
        compiled = compile_rule(str(rule.get("rule", "")))
        if compiled is None:
            continue
        try:
            passed = compiled({"self": value}) is True
        except CelError:
            passed = False
        if not passed:
            message = rule.get("message") or f"failed rule: {rule.get('rule')}"
            causes.append((path or "<nil>", f'Invalid value: "{_type_name(value)}": {message}'))
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in properties:
                causes += violations(properties[key], item, f"{path}.{key}" if path else key)
            elif isinstance(extra, dict):  # a map's entry: field.Path writes it [key]
                causes += violations(extra, item, f"{path}[{key}]")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            causes += violations(schema.get("items"), item, f"{path}[{index}]")
    return causes
