"""Small checks shared by the definitions: each failure becomes a Violation with a pointer."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from wayfare.errors import InvalidRequestError, Violation

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


MAX_DAYS = 36_500
"""A hundred years: the longest retention a dataset takes."""


class Checker:
    """Collects violations so that a definition reports every problem at once."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.violations: list[Violation] = []

    def fail(self, pointer: str, keyword: str, message: str) -> None:
        self.violations.append(Violation(pointer=pointer, keyword=keyword, message=message))

    def string(
        self, data: Mapping[str, Any], key: str, *, required: bool = False, default: str = ""
    ) -> str:
        value = data.get(key)
        if value is None:
            if required:
                self.fail(f"/{key}", "required", f"{key} is required")
            return default
        if not isinstance(value, str):
            self.fail(f"/{key}", "type", f"{key} must be a string")
            return default
        return value

    def boolean(self, data: Mapping[str, Any], key: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            self.fail(f"/{key}", "type", f"{key} must be true or false")
            return default
        return value

    def days(self, data: Mapping[str, Any], key: str) -> int | None:
        """A whole number of days from 1 to ``MAX_DAYS``, or None when absent or null."""
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DAYS:
            self.fail(
                f"/{key}",
                "range",
                f"{key} must be a whole number of days from 1 to {MAX_DAYS}, or null",
            )
            return None
        return value

    def name(self, data: Mapping[str, Any], key: str = "name") -> str:
        value = self.string(data, key, required=True)
        if isinstance(data.get(key), str) and not NAME_PATTERN.match(value):
            self.fail(
                f"/{key}",
                "pattern",
                f"{key} must start with a letter or digit and hold only letters, digits, "
                "'_', '-' and '.', at most 100 characters",
            )
        return value

    def done(self) -> None:
        if self.violations:
            detail = "; ".join(f"{v.pointer}: {v.message}" for v in self.violations)
            raise InvalidRequestError(
                f"invalid {self.what}: {detail}", violations=tuple(self.violations)
            )


def require_object(data: object, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidRequestError(
            f"invalid {what}: expected a JSON object",
            violations=(Violation("", "type", "expected a JSON object"),),
        )
    return data
