"""YAML as definitions are written in it (``wayfare apply``, ``create``, ``save``, the
console's journey editor): PyYAML's safe loader, but ``on`` and ``off`` stay words.

PyYAML reads YAML 1.1, where ``on``, ``off``, ``yes`` and ``no`` are booleans, so that a
journey's ``entry: {audience: gold, on: exited}`` would read as ``{True: "exited"}``. YAML 1.2
reads only ``true`` and ``false`` as booleans; the words ``on`` and ``off`` are left to it
here (``yes`` and ``no`` are still booleans, as definitions written before may say
``allowed: yes``).

Definitions also come from people the server does not trust (the console's journey editor):
the text is read by libyaml's parser where PyYAML has it (faster than PyYAML's own, which
recurses a level of nesting), and a document's aliases are checked before it is built: they
may not make it much larger than its text. An alias is a reference, so ten lines of them can
stand for a billion values (``a1: &a1 [*a0, *a0, ...]``), which checking or storing the
definition would then walk one by one."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import yaml

_BOOL = "tag:yaml.org,2002:bool"
MAX_ALIASED = 1_000_000
"""What aliases may add to a document, in values and the characters of its scalars: a
reused block of settings costs little; a document growing past its own text by more than
this is refused."""

_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class DefinitionError(yaml.YAMLError):
    """YAML that parses but is not taken: nested too deeply, or aliased too much."""


class DefinitionLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """The safe loader, with ``on``/``off`` read as strings, and a document's aliases
    checked (above) before it is built."""

    may_alias = True
    """False when the text has no ``*``, so no alias: nothing to check."""

    def construct_document(self, node: yaml.Node) -> Any:
        if self.may_alias:
            check_aliases(node)
        return super().construct_document(node)


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
    with _loader(text) as loader:
        return loader.get_single_data()


def load_all(text: str) -> list[Any]:
    """Every YAML document of ``text``."""
    found = []
    with _loader(text) as loader:
        while loader.check_data():
            found.append(loader.get_data())
    return found


def compose(text: str) -> yaml.Node | None:
    """The node tree of one YAML document, as ``load`` reads it."""
    with _loader(text) as loader:
        node: yaml.Node | None = loader.get_single_node()
        return node


def check_aliases(root: yaml.Node) -> None:
    """Raise DefinitionError when the aliases of the document of ``root`` add more than
    MAX_ALIASED to it, or one stands for a node holding it. Each node is visited once,
    however many aliases stand for it."""
    weight: dict[int, int] = {}  # a node's, what its aliases stand for included
    own = 0  # the weight of the nodes as written
    open_nodes: set[int] = set()  # the nodes being walked: the path from the root
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, walked = stack.pop()
        key = id(node)
        if walked:
            open_nodes.discard(key)
            alone = 1 + len(node.value) if isinstance(node, yaml.ScalarNode) else 1
            own += alone
            weight[key] = alone + sum(weight[id(c)] for c in _children(node))
            if weight[key] - own > MAX_ALIASED:
                raise DefinitionError(
                    f"the document's aliases (*name) make it over {MAX_ALIASED:,} values "
                    "and characters larger than its text"
                )
        elif key in open_nodes:
            raise DefinitionError("an alias (*name) stands for a node that holds it")
        elif key not in weight:
            open_nodes.add(key)
            stack.append((node, True))
            stack.extend((c, False) for c in _children(node))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


@contextlib.contextmanager
def _loader(text: str) -> Iterator[DefinitionLoader]:
    loader = DefinitionLoader(text)
    loader.may_alias = "*" in text
    try:
        yield loader
    except RecursionError:  # PyYAML's own parser (where libyaml is missing) recurses a level
        raise DefinitionError("the document is nested too deeply") from None
    finally:
        loader.dispose()
