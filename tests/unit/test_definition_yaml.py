"""Definitions read from YAML: ``on`` and ``off`` stay words (a journey's ``entry: {on:
exited}``), the other YAML 1.1 booleans are still booleans."""

from __future__ import annotations

import pytest
import yaml

from wayfare import definition_yaml


def test_on_and_off_are_words_and_yes_no_true_false_booleans() -> None:
    text = "entry: {audience: gold, on: exited}\nflags: [off, On, yes, no, true, FALSE]\n"
    assert definition_yaml.load(text) == {
        "entry": {"audience": "gold", "on": "exited"},
        "flags": ["off", "On", True, False, True, False],
    }
    assert definition_yaml.load_all("a: on\n---\nb: yes\n") == [{"a": "on"}, {"b": True}]
    root = definition_yaml.compose("on: 1\n")
    assert root is not None


def laughs(levels: int) -> str:
    """Ten lines that stand for 9**levels values: each list holds the one before nine times."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_aliases_may_reuse_blocks_but_not_make_a_document_much_larger_than_its_text() -> None:
    reused = "base: &base {retries: 3, timeoutSeconds: 10}\nhook:\n  <<: *base\n  url: x\n"
    assert definition_yaml.load(reused)["hook"] == {"retries": 3, "timeoutSeconds": 10, "url": "x"}
    assert len(definition_yaml.load(laughs(5))["a4"]) == 9  # 9**5 values: within the bound

    for text in (
        laughs(7),  # 4.8 million values from 300 characters
        "s: &s " + "x" * 600_000 + "\ntwice: [*s, *s]\n",  # a long scalar, repeated
    ):
        with pytest.raises(definition_yaml.DefinitionError, match="aliases"):
            definition_yaml.load(text)
        with pytest.raises(definition_yaml.DefinitionError):
            definition_yaml.load_all("a: 1\n---\n" + text)
    assert definition_yaml.compose(laughs(7)) is not None  # a node tree shares what aliases name


def test_an_alias_inside_the_node_it_names_is_refused_not_built_as_a_loop() -> None:
    for text in ("a: &a [1, *a]\n", "&m {k: *m}\n"):
        with pytest.raises(definition_yaml.DefinitionError, match="holds it"):
            definition_yaml.load(text)


def test_nesting_deeper_than_the_parser_takes_is_a_yaml_error() -> None:
    """Not a RecursionError (PyYAML's own parser) that a caller would not catch."""
    with pytest.raises(yaml.YAMLError):
        definition_yaml.load("[" * 100_000 + "]" * 100_000)
    nested: list[object] = []
    for _ in range(199):
        nested = [nested]
    assert definition_yaml.load("a: " + "[" * 200 + "]" * 200) == {"a": nested}
