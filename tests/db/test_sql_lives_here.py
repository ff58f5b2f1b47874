"""All SQL for dbvend's store lives in service/db/ (one repository module per table): a string
literal that reads like a statement anywhere else in service/ fails here. Docstrings and
comments may talk about SQL; engines/ is left out, as what it sends is MariaDB's SQL to a
tenant's server (probes, a claim's re-key), not the store's."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from tests.helpers import ROOT

SERVICE = ROOT / "service"
ALLOWED = (SERVICE / "db", SERVICE / "engines")
# Upper-case keywords in a statement's shape: prose ("select a host", "update the row") and
# identifiers do not match; a fragment of a statement does.
STATEMENT = re.compile(
    r"\bSELECT\b.*\bFROM\b|\bSELECT\s+(pg_|\$\d)|\bINSERT\s+INTO\b|\bUPDATE\s+\w+\s+SET\b|\bDELETE\s+FROM\b"
    r"|\b(CREATE|ALTER|DROP)\s+(TABLE|INDEX|TRIGGER|FUNCTION)\b|\bFOR\s+UPDATE\b|\bSKIP\s+LOCKED\b"
    r"|\bRETURNING\b|\bpg_(advisory\w*|notify|try_advisory\w*)\s*\(",
    re.S,
)


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def statements(source: str) -> Iterator[tuple[int, str]]:
    """(line, text) of every string literal of `source` that reads like SQL, docstrings aside;
    an f-string is read with its placeholders left out."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        text = None
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            text = node.value
        elif isinstance(node, ast.JoinedStr):
            text = "".join(
                v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)
            )
        if text is not None and STATEMENT.search(text):
            yield node.lineno, text


def test_no_sql_outside_db() -> None:
    found = []
    for path in sorted(SERVICE.rglob("*.py")):
        if any(path.is_relative_to(allowed) for allowed in ALLOWED):
            continue
        for line, text in statements(path.read_text()):
            found.append(f"{path.relative_to(ROOT)}:{line}: {text[:80]!r}")
    assert not found, "SQL outside service/db/ (move it into a repository):\n" + "\n".join(found)


def test_the_check_tells_statements_from_prose() -> None:
    sql = [
        'x = "SELECT id FROM operations WHERE status = $1"',
        'await conn.execute("SELECT pg_advisory_xact_lock($1)", KEY)',
        'q = ("UPDATE operations SET status = $2" " WHERE id = $1")',
        'q = f"DELETE FROM {table} WHERE id = $1"',
        'q = "INSERT INTO users (name) VALUES ($1) RETURNING id"',
    ]
    prose = [
        '"""Claimed FOR UPDATE SKIP LOCKED, then SELECT ... FROM in one round trip."""',
        'message = "select a host, then update the row and delete the file"',
        'log.info("the worker selects from the queue")',
        "# SELECT id FROM operations (a comment)\nx = 1",
    ]
    for source in sql:
        assert list(statements(source)), source
    for source in prose:
        assert not list(statements(source)), source


def test_the_repositories_are_where_it_looks() -> None:
    assert (SERVICE / "db" / "operations.py").is_file()
    assert any(statements((SERVICE / "db" / "operations.py").read_text()))
