"""Filters of the exports, in the syntax of sphinx-needs' ``:filter:`` option.

``'patient-safety' in tags and type == 'req'`` selects needs as a needtable would. The
string is parsed with ``ast`` and interpreted here, node by node, instead of being handed to
``eval``: a filter typed on a command line or in a Makefile variable can only compare
fields, never run code. A missing or null field is ``None``; ``x in None`` is false and an
ordering comparison with ``None`` is false, so one filter works across need types."""

from __future__ import annotations

import ast
import difflib
import operator
import re

from .needs import ExportError

COMPARE = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
    ast.In: lambda a, b: b is not None and a in b,
    ast.NotIn: lambda a, b: b is None or a not in b,
}
STRING_METHODS = {"startswith", "endswith", "lower", "upper", "strip"}
FUNCTIONS = {"search", "len"}  # search(pattern, value) as in sphinx-needs


def shorthand(tags=(), stakeholders=(), phases=(), filter_string: str | None = None) -> str:
    """One filter string from the convenience options (--tag, --stakeholder, --phase) and a
    filter string, joined with ``and``; what the export records is this string."""
    parts = [f"{value!r} in {field}"
             for field, values in (("tags", tags), ("stakeholder", stakeholders), ("phase", phases))
             for value in values]
    if filter_string and filter_string.strip():
        parts.append(f"({filter_string.strip()})" if parts else filter_string.strip())
    return " and ".join(parts)


class NeedFilter:
    def __init__(self, text: str, known_fields: set[str]) -> None:
        self.text = text
        try:
            self.tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as e:
            raise ExportError(f"filter {text!r}: invalid syntax at column {e.offset}: {e.msg}") from None
        for node in ast.walk(self.tree):
            self._allowed(node, known_fields)

    def _allowed(self, node: ast.AST, known: set[str]) -> None:
        if isinstance(node, ast.Name) and node.id not in known and node.id not in FUNCTIONS:
            close = difflib.get_close_matches(node.id, sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ExportError(f"filter {self.text!r}: no need has a field {node.id!r}{hint}")
        if isinstance(node, ast.Call):
            func = node.func
            if not ((isinstance(func, ast.Name) and func.id in FUNCTIONS)
                    or (isinstance(func, ast.Attribute) and func.attr in STRING_METHODS)) or node.keywords:
                raise ExportError(f"filter {self.text!r}: only search(), len() and the string methods "
                                  f"{', '.join(sorted(STRING_METHODS))} may be called")
        elif isinstance(node, ast.Attribute) and node.attr not in STRING_METHODS:
            raise ExportError(f"filter {self.text!r}: attribute {node.attr!r} is not allowed")
        allowed = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub,
                   ast.Compare, ast.Name, ast.Load, ast.Constant, ast.List, ast.Tuple, ast.Set,
                   ast.Call, ast.Attribute, *COMPARE)
        if not isinstance(node, allowed):
            raise ExportError(f"filter {self.text!r}: {type(node).__name__} is not allowed in a filter")

    def __call__(self, need: dict) -> bool:
        try:
            return bool(self._eval(self.tree.body, need))
        except ExportError:
            raise
        except Exception as e:  # e.g. a bad regular expression in search()
            raise ExportError(f"filter {self.text!r} fails on need {need.get('id')!r}: {e}") from None

    def _eval(self, node: ast.AST, need: dict):
        match node:
            case ast.Constant(value=value):
                return value
            case ast.Name(id=name):
                return need.get(name)
            case ast.List(elts=items) | ast.Tuple(elts=items) | ast.Set(elts=items):
                return [self._eval(item, need) for item in items]
            case ast.BoolOp(op=ast.And(), values=values):
                result = True
                for value in values:
                    if not (result := self._eval(value, need)):
                        return result
                return result
            case ast.BoolOp(op=ast.Or(), values=values):
                result = False
                for value in values:
                    if result := self._eval(value, need):
                        return result
                return result
            case ast.UnaryOp(op=ast.Not(), operand=operand):
                return not self._eval(operand, need)
            case ast.UnaryOp(op=ast.USub(), operand=operand):
                return -self._eval(operand, need)
            case ast.Compare(left=left, ops=ops, comparators=rights):
                a = self._eval(left, need)
                for op, right in zip(ops, rights):
                    b = self._eval(right, need)
                    if not self._compare(op, a, b):
                        return False
                    a = b
                return True
            case ast.Call(func=ast.Name(id="search"), args=[pattern, value]):
                value = self._eval(value, need)
                return re.search(self._eval(pattern, need), "" if value is None else str(value)) is not None
            case ast.Call(func=ast.Name(id="len"), args=[value]):
                return len(self._eval(value, need) or ())
            case ast.Call(func=ast.Attribute(value=target, attr=method), args=args):
                target = self._eval(target, need)
                text = "" if target is None else str(target)
                return getattr(text, method)(*(self._eval(a, need) for a in args))
        raise ExportError(f"filter {self.text!r}: cannot evaluate {ast.unparse(node)!r}")

    @staticmethod
    def _compare(op: ast.cmpop, a, b) -> bool:
        if type(op) in (ast.Lt, ast.LtE, ast.Gt, ast.GtE) and (a is None or b is None):
            return False
        return bool(COMPARE[type(op)](a, b))


def select(needs: dict[str, dict], text: str | None) -> dict[str, dict]:
    """The needs that pass the filter, in their order; all of them without a filter."""
    if not text or not text.strip():
        return dict(needs)
    known = {key for need in needs.values() for key in need}
    keep = NeedFilter(text, known)
    return {need_id: need for need_id, need in needs.items() if keep(need)}
