"""Ready-to-paste ways to send a message: a curl command and a Python snippet."""

from __future__ import annotations

import json
import pprint
import shlex
from typing import Any


def curl_command(url: str, org_id: str, message: dict[str, Any], token: str | None = None) -> str:
    lines = [
        f"curl -X POST {shlex.quote(url)}",
        "-H 'Content-Type: application/json'",
        f"-H {shlex.quote('x-gw-ims-org-id: ' + org_id)}",
    ]
    if token:
        lines.append(f"-H {shlex.quote('Authorization: Bearer ' + token)}")
    lines.append(f"-d {shlex.quote(json.dumps(message, indent=2))}")
    return " \\\n  ".join(lines)


def python_snippet(
    url: str, org_id: str, message: dict[str, Any], token_required: bool = False
) -> str:
    token = ', token="<access token>"' if token_required else ""
    body = pprint.pformat(message, indent=1, width=88, sort_dicts=False)
    return (
        "from wayfare.client import Inlet\n\n"
        f"message = {body}\n\n"
        f"with Inlet({url!r}, {org_id!r}{token}) as inlet:\n"
        "    result = inlet.send(message)\n"
        "    print(result.ok, result.xaction_id, result.message)\n"
    )
