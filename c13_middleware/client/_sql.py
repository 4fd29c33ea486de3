"""SQL text as it may leave the process: literals replaced by ``?``, and the short summary spans are named after.

``sanitize_sql`` is one regular-expression pass over at most ``MAX_SCAN`` characters. Every alternative of the scanner
either matches at a position or fails within a character, and a quoted string, quoted identifier or comment that is
never closed runs to the end of the text (so its content is replaced, never leaked, and the scan stays linear). The
result is cached: ORMs send the same few texts with placeholders, so a repeated query costs a dictionary look-up.
"""

from __future__ import annotations

import functools
import re

__all__ = ["MAX_SCAN", "sanitize_sql", "summarize_sql"]

# Text past this is not scanned (bounded work per query); a literal cut here still becomes "?".
MAX_SCAN = 8192

_SCANNER = re.compile(
    r"""
      (?P<gap>(?:\s|--[^\n]*|/\*.*?(?:\*/|\Z))+)
    | (?P<ident>"(?:[^"]|"")*(?:"|\Z)|`(?:[^`]|``)*(?:`|\Z))
    | (?P<string>(?:[EeNnBbXxUu]&?)?'(?:[^'\\]|\\.|'')*(?:'|\Z))
    | (?P<dollar>\$(?P<tag>(?:[A-Za-z_][A-Za-z_0-9]*)?)\$.*?(?:\$(?P=tag)\$|\Z))
    | (?P<param>\$\d+|%\(\w+\)s|%s|::|:[A-Za-z_]\w*|\?)
    | (?P<word>[A-Za-z_][\w$]*)
    | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    """,
    re.VERBOSE | re.DOTALL,
)
_LITERAL_WORDS = frozenset({"TRUE", "FALSE"})
_PLACEHOLDER = r"(?:\?|%s|%\(\w+\)s|\$\d+|:[A-Za-z_]\w*)"
_IN_LIST = re.compile(rf"\b(IN)\s*\(\s*{_PLACEHOLDER}(?:\s*,\s*{_PLACEHOLDER})*\s*\)", re.IGNORECASE)
_ROW = rf"\(\s*{_PLACEHOLDER}(?:\s*,\s*{_PLACEHOLDER})*\s*\)"
_VALUES_ROWS = re.compile(rf"({_ROW})(?:\s*,\s*{_ROW})+")


def _replace(match: re.Match[str]) -> str:
    kind = match.lastgroup
    if kind == "word":
        word = match.group()
        return "?" if word.upper() in _LITERAL_WORDS else word
    if kind == "gap":  # whitespace and comments
        return " "
    if kind == "string" or kind == "dollar" or kind == "number":
        return "?"
    return match.group()  # quoted identifiers and placeholders are not data


@functools.lru_cache(maxsize=1024)
def sanitize_sql(text: str) -> str:
    """``SELECT * FROM t WHERE a = 'x' AND b IN (1, 2, 3) -- note`` → ``SELECT * FROM t WHERE a = ? AND b IN (?)``.

    Strings (also ``E''``, ``N''``, ``X''`` and ``$tag$...$tag$``), numbers, hex numbers and ``TRUE``/``FALSE`` become
    ``?``; comments are dropped; whitespace runs become one space; an ``IN`` list of placeholders becomes ``IN (?)``
    and a run of ``VALUES`` rows the first row. Placeholders (``%s``, ``$1``, ``:name``, ``?``) and identifiers stay.
    """
    if len(text) > MAX_SCAN:
        text = text[:MAX_SCAN]
    out = _SCANNER.sub(_replace, text).strip()
    if "(" in out:
        out = _IN_LIST.sub(r"\1 (?)", out)
        out = _VALUES_ROWS.sub(r"\1", out)
    return out


_OPERATIONS = frozenset(
    {
        "SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "REPLACE", "UPSERT", "CREATE", "DROP", "ALTER", "TRUNCATE",
        "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "SET", "SHOW", "EXPLAIN", "PRAGMA", "CALL", "EXEC",
        "EXECUTE", "GRANT", "REVOKE", "VACUUM", "ANALYZE", "COPY", "LOCK", "LISTEN", "NOTIFY", "DECLARE", "FETCH",
    }
)  # fmt: skip
# After these words comes the table an operation acts on.
_TARGET_AFTER = {"SELECT": "FROM", "DELETE": "FROM", "INSERT": "INTO", "REPLACE": "INTO", "MERGE": "INTO"}
_OBJECT_KINDS = frozenset({"TABLE", "INDEX", "VIEW", "SEQUENCE", "SCHEMA", "DATABASE", "TRIGGER", "FUNCTION"})
_SKIP_BEFORE_NAME = frozenset({"IF", "NOT", "EXISTS", "UNIQUE", "TEMP", "TEMPORARY", "OR", "ONLY", "CONCURRENTLY"})
_TOKENS = re.compile(r'"(?:[^"]|"")*"|`[^`]*`|[A-Za-z_][\w$]*(?:\.(?:"(?:[^"]|"")*"|`[^`]*`|[A-Za-z_][\w$]*))*|[()]')
_MAX_SUMMARY_TOKENS = 200


def _name(token: str) -> str:
    return ".".join(part.strip('"`') for part in token.split("."))


@functools.lru_cache(maxsize=1024)
def summarize_sql(sanitized: str) -> tuple[str | None, str | None]:
    """(operation, collection) of a sanitized statement: ``SELECT orders`` → ("SELECT", "orders"). ``WITH`` is named
    by the statement after its common table expressions; the collection is the first table the operation names."""
    tokens = _TOKENS.findall(sanitized, 0, 2000)[:_MAX_SUMMARY_TOKENS]
    depth = 0
    operation: str | None = None
    position = 0
    for position, token in enumerate(tokens):
        if token == "(":
            depth += 1
            continue
        if token == ")":
            depth = max(0, depth - 1)
            continue
        upper = token.upper()
        if depth == 0 and upper in _OPERATIONS:
            operation = upper
            break
        if position == 0 and upper != "WITH":
            return None, None
    if operation is None:
        return None, None
    rest = tokens[position + 1 :]
    collection: str | None = None
    if operation in _TARGET_AFTER:
        marker = _TARGET_AFTER[operation]
        depth = 0
        for index, token in enumerate(rest[:-1]):
            if token == "(":
                depth += 1
            elif token == ")":
                depth = max(0, depth - 1)
            elif depth == 0 and token.upper() == marker and rest[index + 1] != "(":
                collection = _name(rest[index + 1])
                break
    elif operation == "UPDATE":
        names = [t for t in rest[:3] if t not in "()" and t.upper() not in _SKIP_BEFORE_NAME]
        collection = _name(names[0]) if names else None
    elif operation in ("CREATE", "DROP", "ALTER", "TRUNCATE"):
        words = [t for t in rest[:8] if t not in "()"]
        for index, token in enumerate(words):
            upper = token.upper()
            if upper in _OBJECT_KINDS or upper in _SKIP_BEFORE_NAME:
                continue
            collection = _name(token) if index > 0 or operation == "TRUNCATE" else None
            break
    return operation, collection
