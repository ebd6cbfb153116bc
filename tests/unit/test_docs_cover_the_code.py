"""The user docs name everything the code has, so that they cannot drift from it: every
expression function, every activity type and each field it reads, every status code the API
answers with; and the README shows the example journey as the file holds it."""

from __future__ import annotations

import ast
import inspect
import re

import yaml

from tests.conftest import ROOT
from wayfare.api.problems import _STATUS
from wayfare.model import journey
from wayfare.model.functions import FUNCTIONS
from wayfare.model.journey import ACTIVITY_TYPES

DOCS = ROOT / "docs"
READERS = {"get", "ref", "clock", "text", "json", "duration", "expr"}
"""Methods of the activity reader (and of ``raw``) whose first argument is a field's name."""


def test_every_function_has_a_row_with_an_example() -> None:
    text = (DOCS / "expressions.md").read_text()
    for name in FUNCTIONS:
        row = re.search(rf"^\| `{name}\(.*?\)` \| `(.*?)` \|", text, re.M)
        assert row, f"docs/expressions.md has no row for {name}()"
        assert f"{name}(" in row.group(1), f"the example of {name}() does not call it"


def _fields_read(statements: list[ast.stmt]) -> set[str]:
    found: set[str] = set()
    for statement in statements:
        for node in ast.walk(statement):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in READERS
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.update(node.args[0].value.split("/"))
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "branches":
                events = any(k.arg == "events" for k in node.keywords)
                found.add("events" if events else "branches")
            elif (
                isinstance(node, ast.Compare)
                and isinstance(node.ops[0], ast.In)
                and isinstance(node.left, ast.Constant)
            ):
                found.add(node.left.value)
    return found


def _fields_by_type() -> dict[str, set[str]]:
    tree = ast.parse(inspect.getsource(journey))
    (reader,) = [
        n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "_activity"
    ]
    by_type: dict[str, set[str]] = {}
    for node in ast.walk(reader):
        if (
            isinstance(node, ast.If)
            and isinstance(node.test, ast.Compare)
            and isinstance(node.test.left, ast.Name)
            and node.test.left.id == "kind"
            and isinstance(node.test.comparators[0], ast.Constant)
        ):
            by_type[node.test.comparators[0].value] = _fields_read(node.body)
    return by_type


def _section(text: str, kind: str) -> str:
    start = text.index(f"\n### `{kind}`\n")
    end = text.find("\n##", start + 1)
    return text[start : end if end != -1 else None]


def test_every_activity_type_has_a_section_naming_each_field_it_reads() -> None:
    text = (DOCS / "activities.md").read_text()
    by_type = _fields_by_type()
    assert set(by_type) | {"end"} == set(ACTIVITY_TYPES)  # the reader was understood
    assert by_type["http"] >= {"url", "method", "timeoutSeconds", "body"}
    for kind in ACTIVITY_TYPES:
        section = _section(text, kind)
        for field in by_type.get(kind, set()):
            assert f"`{field}`" in section, f"docs/activities.md: {kind} does not name {field}"


def test_the_fields_every_activity_and_branch_has_are_named() -> None:
    text = (DOCS / "activities.md").read_text()
    source = inspect.getsource(journey)
    for field in ("type", "next", "error", "label", "when", "percent", "event"):
        assert f'"{field}"' in source, field  # still read by the code
        assert re.search(rf"`{field}`|\{{[^}}]*\b{field}\b", text), field


def test_every_status_the_api_answers_has_a_row() -> None:
    text = (DOCS / "troubleshooting.md").read_text()
    for _kind, status, title in _STATUS:
        assert re.search(rf"^\| {status} \| {re.escape(title)} \|", text, re.M), (status, title)
    assert re.search(r"^\| 500 \| Internal Server Error \|", text, re.M)


def test_the_readme_shows_the_example_journey_as_the_file_holds_it() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = [
        d
        for b in re.findall(r"^```yaml\n(.*?)^```", readme, re.M | re.S)
        for d in yaml.safe_load_all(b)
    ]
    shown = [b for b in blocks if isinstance(b, dict) and b.get("kind") == "Journey"]
    example = ROOT / "examples" / "cart-abandonment" / "config" / "journey.yaml"
    assert shown == [yaml.safe_load(example.read_text())]
