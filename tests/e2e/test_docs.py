"""The user docs (docs/*.md but the design notes, and the examples' READMEs) run as a reader
runs them: every ```sh block that needs nothing but a Wayfare server, in order, in one shell
per page, against a fresh server whose data directory is ``.wayfare`` in the shell's working
directory (where ``examples/`` is this checkout's). The only change made to the blocks:
``http://127.0.0.1:8080`` becomes the test server's URL (``WAYFARE_URL`` says the same to
the CLI).

Blocks that start long-running processes, need PostgreSQL, NATS, systemd or root, or hold a
placeholder (``<inletId>``) are left to the reader.

The README's blocks run the same way against ``serve --demo``, with the ids a reader copies
from what ``make run`` printed filled in, and its YAML definitions apply; its Python snippet prints
what it shows.

The cart-abandonment example is then checked for what its README says happened: Tess went
through the draft in test mode, Grace waits in ``hold`` on the live version (her stay
counted in the report's ``inJourney``), Ada's purchase
ended her stay.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import ROOT, Server, wait_until
from wayfare.registry.demo import DEMO_INLET, DEMO_ORG, DEMO_SCHEMA

pytestmark = pytest.mark.integration

PAGES = [
    "docs/concepts.md",
    "docs/expressions.md",
    "docs/activities.md",
    "docs/troubleshooting.md",
    "docs/operations.md",
    "docs/profiles.md",
    "examples/cart-abandonment/README.md",
]
README_URL = "http://127.0.0.1:8080"
LEFT_TO_THE_READER = (
    "wayfare serve",
    "wayfare worker",
    "make ",
    "systemctl",
    "createdb",
    "postgresql://",
    "nats://",
)
EXIT_STATUS = {"--rejects rejects.csv": 1}
"""Blocks whose command exits with another status than 0, as the page says."""
PLACEHOLDER = re.compile(r"<[A-Za-z][A-Za-z_ ]*>")
ORG = "ACME@AdobeOrg"


def shell_blocks(text: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"^```sh\n(.*?)^```", text, re.DOTALL | re.MULTILINE)]


def runnable(block: str) -> bool:
    return not PLACEHOLDER.search(block) and not any(w in block for w in LEFT_TO_THE_READER)


def script_of(page: str, url: str, filled: dict[str, str] | None = None) -> str:
    """The page's blocks a test can run, once ``filled``'s placeholders are filled in."""
    blocks = []
    for block in shell_blocks((ROOT / page).read_text()):
        for placeholder, value in (filled or {}).items():
            block = block.replace(placeholder, value)
        if runnable(block):
            block = block.replace(README_URL, url)
            status = next((code for mark, code in EXIT_STATUS.items() if mark in block), 0)
            if status:
                block = f"set +e\n{block}\nstatus=$?\nset -e\n[ $status -eq {status} ]\n"
            blocks.append(block)
    assert blocks, f"{page} has no block a test can run"
    return "\n".join(blocks)


def test_the_pages_are_the_ones_the_readme_links() -> None:
    readme = (ROOT / "README.md").read_text()
    for page in PAGES:
        assert f"]({page})" in readme, f"README.md does not link {page}"


@pytest.fixture
def reader_dir(tmp_path: Path) -> Path:
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)  # .venv/bin/wayfare
    return tmp_path


@pytest.fixture
def docs_server(reader_dir: Path) -> Iterator[Server]:
    srv = Server(reader_dir / ".wayfare", env={"WAYFARE_TEST_WAIT_SECONDS": "0.5"}).start()
    try:
        yield srv
    finally:
        srv.stop()


def run_page(
    page: str, server: Server, cwd: Path, filled: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAYFARE_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["WAYFARE_URL"] = server.url
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-x", "-c", script_of(page, server.url, filled)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"{page}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.parametrize("page", PAGES)
def test_every_block_of_the_page_runs_as_written(
    page: str, docs_server: Server, reader_dir: Path
) -> None:
    run_page(page, docs_server, reader_dir)


def report(server: Server, journey: str) -> dict[str, Any]:
    answer = httpx.get(
        f"{server.url}/api/v1/journeys/{journey}/report",
        headers={"x-gw-ims-org-id": ORG},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def where_people_are(server: Server, journey: str) -> dict[str, set[str]]:
    answer = httpx.get(
        f"{server.url}/api/v1/journeys/{journey}/steps",
        headers={"x-gw-ims-org-id": ORG},
        params={"limit": 1000},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    seen: dict[str, set[str]] = {}
    for step in answer.json()["steps"]:
        seen.setdefault(step["identity"], set()).add(step["node"])
    return seen


def test_the_cart_abandonment_example_does_what_its_readme_says(
    docs_server: Server, reader_dir: Path
) -> None:
    output = run_page("examples/cart-abandonment/README.md", docs_server, reader_dir)
    assert "read 3, sent 3, accepted 3, rejected 0" in output.stdout

    def settled() -> dict[str, set[str]] | None:
        people = where_people_are(docs_server, "cart-reminder")
        done = {who for who, nodes in people.items() if "done" in nodes}
        return people if done >= {"tess@example.com", "ada@example.com"} else None

    people = wait_until(settled, timeout=60)
    assert people["grace@example.com"] == {"entry"}  # waiting in hold: no step ended yet
    assert "office_hours" not in people["ada@example.com"]  # her purchase ended the wait
    assert "office_hours" in people["tess@example.com"]  # the test-mode wait timed out
    counts = report(docs_server, "cart-reminder")
    assert (counts["entered"], counts["inJourney"]) == (3, 1), counts


def test_the_readme_python_snippet_runs_as_written_and_prints_what_it_shows(
    tmp_path: Path,
) -> None:
    (block,) = re.findall(r"^```python\n(.*?)^```", (ROOT / "README.md").read_text(), re.M | re.S)
    shown = [line.removeprefix("# ") for line in block.splitlines() if line.startswith("# ")]
    assert shown, "the snippet shows what it prints"
    demo = Server(tmp_path / "data", extra_args=["--demo"]).start()
    try:
        result = subprocess.run(
            [sys.executable, "-c", block.replace(README_URL, demo.url)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        demo.stop()
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == shown


def test_the_readme_blocks_run_against_the_demo_with_its_ids_filled_in(reader_dir: Path) -> None:
    """The README's blocks against ``serve --demo``, its placeholders (``<inletId>``,
    ``<datasetId>``, the schema's ``<hex>``) filled in as a reader fills them from what
    ``make run`` printed; the send example prints the counts it shows."""
    demo = Server(reader_dir / ".wayfare", extra_args=["--demo"]).start()
    try:
        with httpx.Client(
            base_url=f"{demo.url}/api/v1", headers={"x-gw-ims-org-id": DEMO_ORG}, timeout=10
        ) as admin:
            schema = admin.get(f"/schemas/{DEMO_SCHEMA}").json()["id"]
            filled = {
                "<inletId>": admin.get(f"/inlets/{DEMO_INLET}").json()["inletId"],
                "<datasetId>": next(
                    d["id"]
                    for d in admin.get("/datasets").json()["datasets"]
                    if d["schemaRef"]["id"] == schema
                ),
                "https://ns.adobe.com/instance_name/schemas/<hex>": schema,
            }
        result = run_page("README.md", demo, reader_dir, filled)
        readme = (ROOT / "README.md").read_text()
        for block in re.findall(r"^```yaml\n(.*?)^```", readme, re.M | re.S):
            documents = [d for d in yaml.safe_load_all(block) if d is not None]
            answer = httpx.post(
                f"{demo.url}/api/v1/apply",
                json={"documents": documents},
                headers={"x-gw-ims-org-id": "ACME@AdobeOrg"},  # the cart example's org
                timeout=10,
            )
            assert answer.status_code == 200, (block, answer.text)
    finally:
        demo.stop()
    assert "read 4, sent 3, accepted 2, rejected 2, retried 0" in result.stdout
    assert '"syncValidation":{"status":"pass"}' in result.stdout  # the first curl
