"""YAML as definitions are written in it (``wayfare apply``, ``create``, ``save``, the
console's journey editor): PyYAML's safe loader, but ``on`` and ``off`` stay words.

PyYAML reads YAML 1.1, where ``on``, ``off``, ``yes`` and ``no`` are booleans, so that a
journey's ``entry: {audience: gold, on: exited}`` would read as ``{True: "exited"}``. YAML 1.2
reads only ``true`` and ``false`` as booleans; the words ``on`` and ``off`` are left to it
here (``yes`` and ``no`` are still booleans, as definitions written before may say
``allowed: yes``)."""

from __future__ import annotations

import re
from typing import Any

import yaml

_BOOL = "tag:yaml.org,2002:bool"


class DefinitionLoader(yaml.SafeLoader):
    """The safe loader, with ``on``/``off`` read as strings."""


DefinitionLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != _BOOL]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
DefinitionLoader.add_implicit_resolver(
    _BOOL,
    re.compile(r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE)$"),
    list("yYnNtTfF"),
)


def load(text: str) -> Any:
    """One YAML document."""
    return yaml.load(text, Loader=DefinitionLoader)  # noqa: S506 (a safe loader)


def load_all(text: str) -> list[Any]:
    """Every YAML document of ``text``."""
    return list(yaml.load_all(text, Loader=DefinitionLoader))


def compose(text: str) -> yaml.Node | None:
    """The node tree of one YAML document, as ``load`` reads it."""
    return yaml.compose(text, Loader=DefinitionLoader)
