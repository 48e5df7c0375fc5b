"""Write TOML for the values an information model holds: tables, strings, booleans,
integers and arrays of them.

Python's standard library reads TOML (tomllib) but does not write it, and the project pins
no writer of its own. The documents written here are small and regular, so this writer
covers exactly their value types and refuses anything else; ``dumps`` reads its output
back with tomllib and fails unless it is the document it was given, so a quirk of this
writer can never reach a published file."""

from __future__ import annotations

import json
import re
import tomllib

BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
WRAP_AT = 96  # an array longer than this is written one item per line


class TomlError(ValueError):
    pass


def _key(key: str) -> str:
    return key if BARE_KEY.match(key) else _string(key)


def _string(text: str) -> str:
    # JSON's string escapes (\" \\ \n \t \uXXXX ...) are all valid in a TOML basic string;
    # JSON leaves DEL unescaped, which TOML forbids, so it is escaped here.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007F")


def _value(value, indent: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        items = [_value(v, indent + "  ") for v in value]
        one_line = "[" + ", ".join(items) + "]"
        if len(one_line) <= WRAP_AT or any("\n" in i for i in items):
            return one_line
        return "[\n" + "".join(f"{indent}  {i},\n" for i in items) + f"{indent}]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v, indent)}" for k, v in value.items()) + " }"
    raise TomlError(f"cannot write a {type(value).__name__} as TOML: {value!r}")


def dumps(document: dict, *, inline: frozenset[str] = frozenset(), header: str = "") -> str:
    """``document`` as TOML. A nested dict becomes a ``[table]`` unless its key is in
    ``inline``, where it is written as an inline table (``schema = { ... }``)."""
    out: list[str] = [header.rstrip("\n") + "\n"] if header else []

    def table(path: list[str], data: dict) -> None:
        plain = {k: v for k, v in data.items() if not (isinstance(v, dict) and k not in inline)}
        nested = {k: v for k, v in data.items() if k not in plain}
        if path and (plain or not nested):
            out.append(f"\n[{'.'.join(_key(p) for p in path)}]\n")
        for key, value in plain.items():
            out.append(f"{_key(key)} = {_value(value, '')}\n")
        for key, value in nested.items():
            table([*path, key], value)

    table([], document)
    text = "".join(out)
    if tomllib.loads(text) != document:
        raise TomlError("the TOML written does not read back as the document given")
    return text
