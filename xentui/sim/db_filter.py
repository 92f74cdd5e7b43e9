"""xapi's database filter language, for <class>.get_all_records_where.

Grammar and evaluation follow ocaml/database/db_filter_lex.mll,
db_filter_parse.mly and db_filter.ml `eval_expr`:

    expr  := value "=" value | expr "and" expr | expr "or" expr | "not" expr
           | "true" | "false" | "(" expr ")"
    value := '"' chars '"'  (a literal)  |  "field" '"' name '"'

`and` and `or` share one precedence level and associate to the left
(`%left LAND LOR`); `not` binds tighter (`%right LNOT`). Comparison is string
equality of the field as the database stores it (bools "true"/"false",
sets and maps as s-expressions, as state.db has them). Keywords are matched
by the lexer anywhere (`fieldx` lexes as FIELD then junk), quoted strings
have no escapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, List, Mapping, Tuple, Union

from xentui.sim.dom0_files import marshal_value


class FilterError(ValueError):
    """The expression does not parse (xapi: Db_filter.Expression_error)."""


@dataclass(frozen=True)
class Field:
    name: str


@dataclass(frozen=True)
class Literal:
    text: str


Value = Union[Field, Literal]
Expr = Tuple[Any, ...]  # ("true",) ("false",) ("not", e) ("and", a, b) ("or", a, b) ("eq", v, v)

_KEYWORDS = ("true", "false", "field", "and", "or", "not")


def tokenize(text: str) -> List[Tuple[str, str]]:
    tokens: List[Tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\n":
            i += 1
        elif c in "=()":
            tokens.append((c, c))
            i += 1
        elif c == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise FilterError("unterminated string")
            tokens.append(("IDENT", text[i + 1 : end]))
            i = end + 1
        else:
            for word in _KEYWORDS:
                if text.startswith(word, i):
                    tokens.append((word, word))
                    i += len(word)
                    break
            else:
                raise FilterError(f"unexpected character {c!r}")
    tokens.append(("EOF", ""))
    return tokens


class _Parser:
    def __init__(self, tokens: List[Tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str:
        return self.tokens[self.pos][0]

    def take(self, kind: str) -> str:
        got, text = self.tokens[self.pos]
        if got != kind:
            raise FilterError(f"expected {kind}, got {got}")
        self.pos += 1
        return text

    def expr(self) -> Expr:
        left = self.unary()
        while self.peek() in ("and", "or"):
            op = self.take(self.peek())
            left = (op, left, self.unary())
        return left

    def unary(self) -> Expr:
        kind = self.peek()
        if kind == "not":
            self.take("not")
            return ("not", self.unary())
        if kind in ("true", "false"):
            self.take(kind)
            return (kind,)
        if kind == "(":
            self.take("(")
            inner = self.expr()
            self.take(")")
            return inner
        left = self.value()
        self.take("=")
        return ("eq", left, self.value())

    def value(self) -> Value:
        if self.peek() == "field":
            self.take("field")
            return Field(self.take("IDENT"))
        return Literal(self.take("IDENT"))


def parse(text: str) -> Expr:
    parser = _Parser(tokenize(str(text)))
    expr = parser.expr()
    parser.take("EOF")
    return expr


def evaluate(expr: Expr, lookup: Callable[[str], str]) -> bool:
    kind = expr[0]
    if kind == "true":
        return True
    if kind == "false":
        return False
    if kind == "not":
        return not evaluate(expr[1], lookup)
    if kind == "and":
        return evaluate(expr[1], lookup) and evaluate(expr[2], lookup)
    if kind == "or":
        return evaluate(expr[1], lookup) or evaluate(expr[2], lookup)
    a, b = expr[1], expr[2]
    left = lookup(a.name) if isinstance(a, Field) else a.text
    right = lookup(b.name) if isinstance(b, Field) else b.text
    return left == right


def fields_used(expr: Expr) -> List[str]:
    if expr[0] in ("true", "false"):
        return []
    if expr[0] == "not":
        return fields_used(expr[1])
    if expr[0] in ("and", "or"):
        return fields_used(expr[1]) + fields_used(expr[2])
    return [v.name for v in expr[1:] if isinstance(v, Field)]


def db_text(value: Any) -> str:
    """A field as the database stores it (what a Field compares as)."""
    return marshal_value(value)


def matches(expr: Expr, record: Mapping[str, Any]) -> bool:
    return evaluate(expr, lambda name: db_text(record[name]))
