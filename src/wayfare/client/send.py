"""The data system's job: read rows, fill the template, send in concurrent batches, report.

Used by ``wayfare send``; the summary says what was read, sent, accepted, rejected (with the
input line and the reason) and retried.
"""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import msgspec

from wayfare.client.batching import plan_batches
from wayfare.client.inlet import AsyncInlet
from wayfare.client.mapping import Filler, MappingError


class Row(msgspec.Struct, frozen=True):
    line: int
    data: dict[str, Any]


@dataclass
class Rejected:
    line: int
    reason: str
    data: dict[str, Any]


@dataclass
class Summary:
    read: int = 0
    sent: int = 0
    accepted: int = 0
    retried: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "sent": self.sent,
            "accepted": self.accepted,
            "rejected": len(self.rejected),
            "retried": self.retried,
            "rejections": [{"line": r.line, "reason": r.reason} for r in self.rejected],
        }


def read_rows(stream: IO[str], fmt: str) -> Iterator[Row]:
    """Rows with the input line they start on (CSV: the header is line 1)."""
    if fmt == "csv":
        reader = csv.DictReader(stream)
        line = reader.line_num + 1
        for record in reader:  # a new dict for each row
            yield Row(line, record)
            line = reader.line_num + 1
        return
    for number, text in enumerate(stream, start=1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            yield Row(number, {"__error__": f"not valid JSON: {exc.msg} (column {exc.colno})"})
            continue
        if not isinstance(value, dict):
            value = {"__error__": "each JSON line must be an object"}
        yield Row(number, value)


def _reason(message: str | None, violations: list[dict[str, Any]]) -> str:
    if violations:
        return "; ".join(
            f"{v.get('pointerToViolation', '#')}: {v.get('message', '')} ({v.get('keyword', '')})"
            for v in violations
        )
    return message or "rejected"


async def send_rows(
    rows: Iterable[Row],
    filler: Filler,
    inlet: AsyncInlet,
    *,
    batch_size: int = 500,
    concurrency: int = 4,
    progress: Callable[[int], None] | None = None,
) -> Summary:
    """Fill and send every row; at most ``concurrency`` batches in flight."""
    summary = Summary()
    queue: asyncio.Queue[list[tuple[Row, bytes]] | None] = asyncio.Queue(concurrency * 2)

    async def worker() -> None:
        while (batch := await queue.get()) is not None:
            encoded = [body for _, body in batch]
            results = []
            for indexes in plan_batches(
                encoded, max_bytes=inlet.max_bytes, max_messages=inlet.max_messages
            ):
                results.extend(await inlet.send_planned(encoded, indexes))
            for result in results:
                row = batch[result.index][0]
                summary.retried += result.retries
                if result.ok:
                    summary.accepted += 1
                else:
                    summary.rejected.append(
                        Rejected(row.line, _reason(result.message, result.violations), row.data)
                    )
            if progress:
                progress(len(batch))

    workers = [asyncio.create_task(worker()) for _ in range(max(1, concurrency))]
    try:
        pending: list[tuple[Row, bytes]] = []
        for row in rows:
            summary.read += 1
            error = row.data.get("__error__")
            if error is None:
                try:
                    pending.append((row, filler.render(row.data)))
                except MappingError as exc:
                    error = str(exc)
            if error is not None:
                summary.rejected.append(Rejected(row.line, str(error), row.data))
                if progress:
                    progress(1)
                continue
            if len(pending) >= batch_size:
                summary.sent += len(pending)
                await queue.put(pending)
                pending = []
        if pending:
            summary.sent += len(pending)
            await queue.put(pending)
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers)
    finally:
        for task in workers:
            task.cancel()
    summary.rejected.sort(key=lambda r: r.line)
    return summary


def write_rejects(stream: IO[str], fmt: str, rejected: list[Rejected]) -> None:
    """The rejected input rows plus a ``reason`` column (CSV) or field (JSON lines)."""
    if fmt == "csv":
        columns: list[str] = []
        for r in rejected:
            columns.extend(c for c in r.data if c not in columns and c != "__error__")
        writer = csv.DictWriter(
            stream, fieldnames=["line", *columns, "reason"], extrasaction="ignore"
        )
        writer.writeheader()
        for r in rejected:
            writer.writerow({**r.data, "line": r.line, "reason": r.reason})
        return
    for r in rejected:
        data = {k: v for k, v in r.data.items() if k != "__error__"}
        stream.write(json.dumps({**data, "line": r.line, "reason": r.reason}) + "\n")
