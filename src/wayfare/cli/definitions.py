"""Definitions read from YAML or JSON files, for ``create``, ``save`` and ``apply``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import yaml

from wayfare import definition_yaml


def load_file(path: Path) -> Any:
    """One document: YAML for ``.yaml``/``.yml``, JSON otherwise."""
    with _readable(path):
        text = path.read_text()
        if path.suffix in (".yaml", ".yml"):
            return definition_yaml.load(text)
        return json.loads(text)


def documents(path: Path) -> list[Any]:
    """Every document of a file, or of every YAML/JSON file below a folder (by name)."""
    files = (
        sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
        if path.is_dir()
        else [path]
    )
    found: list[Any] = []
    for file in files:
        with _readable(file):
            text = file.read_text()
            if file.suffix == ".json":
                loaded = json.loads(text)
                found.extend(loaded if isinstance(loaded, list) else [loaded])
            else:
                found.extend(d for d in definition_yaml.load_all(text) if d is not None)
    return found


@contextmanager
def _readable(path: Path) -> Iterator[None]:
    """A file that cannot be read or parsed as a ``click.FileError`` (exit code 1)."""
    try:
        yield
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise click.FileError(str(path), hint=str(exc)) from exc
