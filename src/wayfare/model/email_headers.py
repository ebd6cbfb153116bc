"""What an email action may put in its headers once its templates are rendered.

Each recipient is exactly one address: a ``to`` rendered as ``"victim@example.com,
other@example.org"`` is refused, not sent to both. An activity that writes ``to`` as a list
sends to each of its entries, each of them one address. No header holds a line break or
another control character (a subject rendered with CR/LF is refused). These are checked right
before sending, and a refusal is for good: sending again would render the same values.
"""

from __future__ import annotations

import email.policy
import re
from email.headerregistry import Address

from wayfare.errors import InvalidRequestError

MAX_RECIPIENTS = 50
"""At most this many entries in an email activity's ``to`` list."""
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def recipients(value: object) -> tuple[Address, ...]:
    """The addresses of a rendered ``to``: one string, one address; a list (an activity
    whose ``to`` is a list), one address per entry."""
    entries = value if isinstance(value, list) else [value]
    if not entries:
        raise InvalidRequestError("to names nobody")
    return tuple(one_address("to", entry) for entry in entries)


def one_address(field: str, value: object) -> Address:
    """``value`` as exactly one address (``ada@example.com``, ``Ada <ada@example.com>``)."""
    if not isinstance(value, str):
        raise InvalidRequestError(f"{field} must be an email address, not {value!r}")
    text = header_text(field, value)
    try:
        header = email.policy.default.header_factory(field, text)
        found: list[Address] = list(header.addresses)
        fine = (
            len(found) == 1
            and not header.defects
            and all(group.display_name is None for group in header.groups)
            and bool(found[0].username)
            and bool(found[0].domain)
        )
    except Exception:  # the standard parser fails in more ways than it documents
        fine = False
    if not fine:
        raise InvalidRequestError(f"{field} must be exactly one email address, not {text!r}")
    return found[0]


def header_text(field: str, value: object) -> str:
    """``value`` as a header's text; a line break or a control character in it is refused."""
    text = "" if value is None else str(value)
    if (bad := _CONTROL.search(text)) is not None:
        raise InvalidRequestError(
            f"{field} holds a control character ({bad.group()!r}) and cannot be a header"
        )
    return text
