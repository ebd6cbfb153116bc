"""``wayfare send``: rows of a CSV or JSON-lines file, filled into a message template and sent
to an inlet (Wayfare's or Adobe's) in concurrent batches."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import IO, Any, TypeVar

import click
import msgspec

from wayfare.cli.context import CliContext, pass_context
from wayfare.cli.definitions import load_file
from wayfare.client.admin import AdminClient
from wayfare.client.inlet import AsyncInlet
from wayfare.client.mapping import Filler, MappingError
from wayfare.client.send import Summary, read_rows, send_rows, write_rejects
from wayfare.errors import WayfareError

T = TypeVar("T")

SHOWN_REJECTIONS = 100


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def _mapping(pairs: tuple[str, ...], mapping_file: Path | None) -> dict[str, str]:
    mapping: dict[str, str] = {}
    if mapping_file is not None:
        loaded = load_file(mapping_file)
        if not isinstance(loaded, dict):
            raise click.UsageError(f"{mapping_file}: expected an object of PATH: FIELD")
        mapping.update({str(k): str(v) for k, v in loaded.items()})
    for pair in pairs:
        path, sep, field = pair.partition("=")
        if not sep or not path or not field:
            raise click.UsageError(f"--map {pair!r}: expected PATH=FIELD")
        mapping[path.strip()] = field.strip()
    return mapping


@click.command()
@click.option("--inlet-url", required=True, help="The inlet URL (Wayfare's or Adobe's).")
@click.option(
    "--org", envvar="WAYFARE_ORG", default=None, help="Organisation id (required; or on the group)."
)
@click.option(
    "--template",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="A message to fill in (e.g. a saved payload preview).",
)
@click.option("--event", default=None, help="Take the template from this event's preview.")
@click.option(
    "--input",
    "input_file",
    type=click.File("r"),
    required=True,
    help="CSV or JSON-lines file, or - for standard input.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl"]),
    default=None,
    help="Input format (default: from the file name, else csv).",
)
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="PATH=FIELD",
    help="Fill the xdmEntity path PATH from input field FIELD.",
)
@click.option(
    "--mapping",
    "mapping_file",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="YAML/JSON file of PATH: FIELD.",
)
@click.option(
    "--omit",
    "omits",
    multiple=True,
    metavar="PATH",
    help="Leave this xdmEntity path out of every message.",
)
@click.option(
    "--rejects",
    type=click.File("w"),
    default=None,
    help="Write rejected input rows here, with a reason column.",
)
@click.option("--dry-run", is_flag=True, help="Print the filled messages; send nothing.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=4, show_default=True)
@click.option("--batch-size", type=click.IntRange(1, 5000), default=500, show_default=True)
@click.option("--token", envvar="WAYFARE_TOKEN", default=None, help="Inlet bearer token.")
@click.option(
    "--sync-validation/--no-sync-validation",
    default=True,
    show_default=True,
    help="Have the inlet reject invalid messages (so they are reported here).",
)
@click.option(
    "--url",
    envvar="WAYFARE_URL",
    default=None,
    help="Admin API base URL for --event (default: the inlet URL's origin).",
)
@click.option("--admin-token", envvar="WAYFARE_ADMIN_TOKEN", default=None, help="Admin token.")
@pass_context
def send(
    cli: CliContext,
    inlet_url: str,
    org: str | None,
    template: Path | None,
    event: str | None,
    input_file: IO[str],
    fmt: str | None,
    maps: tuple[str, ...],
    mapping_file: Path | None,
    omits: tuple[str, ...],
    rejects: IO[str] | None,
    dry_run: bool,
    concurrency: int,
    batch_size: int,
    token: str | None,
    sync_validation: bool,
    url: str | None,
    admin_token: str | None,
) -> None:
    """Send rows of a CSV or JSON-lines file as messages, filled into a template (a saved
    payload preview, or --event's). Prints what was read, sent, accepted, rejected and
    retried; exit code 1 when any row was rejected, 2 when a placeholder is not mapped.

    \b
    Example:
      wayfare send --inlet-url http://127.0.0.1:8080/collection/<inletId> \\
        --org DEMO@WayfareOrg --event newsletter_signup --input people.csv \\
        --map _instance_name.person.emailAddress=email --rejects rejects.csv
    """
    if (template is None) == (event is None):
        raise click.UsageError("give exactly one of --template FILE or --event NAME")
    org = org or cli.chosen("org")  # the group's options count too: wayfare --org X send ...
    if org is None:
        raise click.MissingParameter(param_hint="'--org'", param_type="option")
    admin_url = url or cli.chosen("url") or _origin(inlet_url)
    admin_token = admin_token or cli.chosen("admin_token")
    with AdminClient(admin_url, org, admin_token) as admin:
        message = (
            msgspec.to_builtins(admin.events.preview(event))
            if event is not None
            else _read_template(template)
        )
        json_schema = _json_schema(admin, message)
    filler = _filler(message, _mapping(maps, mapping_file), json_schema, omits)
    fmt = fmt or _format_of(input_file)
    rows = read_rows(input_file, fmt)
    if dry_run:
        sys.exit(_dry_run(rows, filler))
    summary = _run(
        _send(rows, filler, inlet_url, org, token, sync_validation, batch_size, concurrency)
    )
    _report(summary)
    if rejects is not None:
        write_rejects(rejects, fmt, summary.rejected)
    if summary.rejected:
        sys.exit(1)


def _run(sending: Coroutine[Any, Any, T]) -> T:
    """``sending`` on uvloop where it is installed (a tenth of the sender's CPU went to the
    standard loop's selector), else on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is installed wherever the server runs
        return asyncio.run(sending)
    return uvloop.run(sending)


def _read_template(template: Path | None) -> Any:
    assert template is not None
    return load_file(template)


def _json_schema(admin: AdminClient, message: Any) -> Any:
    """The JSON Schema of the message's schemaRef, for the types of filled values; ``None``
    when there is none or the server is not Wayfare (types then come from placeholders)."""
    header = message.get("header", {}) if isinstance(message, dict) else {}
    schema_id = (header.get("schemaRef") or {}).get("id")
    if not schema_id:
        return None
    try:
        return admin.schemas.get(schema_id).jsonSchema
    except WayfareError:
        return None


def _filler(
    message: Any, mapping: dict[str, str], json_schema: Any, omits: tuple[str, ...]
) -> Filler:
    """The compiled template; exit code 2 when a placeholder is left unmapped."""
    try:
        filler = Filler.compile(message, mapping, json_schema, omits)
    except MappingError as exc:
        raise click.UsageError(str(exc)) from None
    unmapped = filler.unmapped_placeholders()
    if unmapped:
        click.secho(
            "error: these placeholders are not mapped (use --map PATH=FIELD, --omit PATH, "
            "or put a value in the template):",
            fg="red",
            err=True,
        )
        for path in unmapped:
            click.echo(f"  {path}", err=True)
        sys.exit(2)
    return filler


def _format_of(input_file: IO[str]) -> str:
    name = str(getattr(input_file, "name", ""))
    return "jsonl" if name.endswith((".jsonl", ".ndjson", ".json")) else "csv"


def _dry_run(rows: Any, filler: Filler) -> int:
    """Print each filled message; the exit code is 1 when a row cannot be filled."""
    bad = 0
    for row in rows:
        error = row.data.get("__error__")
        if error is None:
            try:
                click.echo(json.dumps(filler.fill(row.data), ensure_ascii=False))
                continue
            except MappingError as exc:
                error = str(exc)
        bad += 1
        click.echo(f"  line {row.line}: {error}", err=True)
    return 1 if bad else 0


async def _send(
    rows: Any,
    filler: Filler,
    inlet_url: str,
    org: str,
    token: str | None,
    sync_validation: bool,
    batch_size: int,
    concurrency: int,
) -> Summary:
    """Send every row, with a progress bar when standard error is a terminal."""
    from rich.progress import Progress

    async with AsyncInlet(inlet_url, org, token, sync_validation=sync_validation) as inlet:
        if not sys.stderr.isatty():
            return await send_rows(
                rows, filler, inlet, batch_size=batch_size, concurrency=concurrency
            )
        with Progress(transient=True) as bar:
            task = bar.add_task("sending", total=None)
            return await send_rows(
                rows,
                filler,
                inlet,
                batch_size=batch_size,
                concurrency=concurrency,
                progress=lambda n: bar.advance(task, n),
            )


def _report(summary: Summary) -> None:
    click.echo(
        f"read {summary.read}, sent {summary.sent}, accepted {summary.accepted}, "
        f"rejected {len(summary.rejected)}, retried {summary.retried}"
    )
    for r in summary.rejected[:SHOWN_REJECTIONS]:
        click.echo(f"  line {r.line}: {r.reason}", err=True)
    if len(summary.rejected) > SHOWN_REJECTIONS:
        click.echo(f"  ... and {len(summary.rejected) - SHOWN_REJECTIONS} more", err=True)
