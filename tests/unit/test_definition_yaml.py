"""Definitions read from YAML: ``on`` and ``off`` stay words (a journey's ``entry: {on:
exited}``), the other YAML 1.1 booleans are still booleans."""

from __future__ import annotations

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
