"""Every route of the console, from each page's module."""

from __future__ import annotations

from starlette.routing import BaseRoute

from wayfare.bootstrap import Services
from wayfare.console import (
    assets,
    events,
    failures,
    home,
    inlets,
    journeys,
    profiles,
    schemas,
    signin,
)
from wayfare.console.pages import Console


def console_routes(services: Services) -> list[BaseRoute]:
    console = Console.build(services)
    return [
        *assets.routes(),
        *signin.routes(console),
        *home.routes(console),
        *schemas.routes(console),
        *inlets.routes(console),
        *events.routes(console),
        *journeys.routes(console),
        *failures.routes(console),
        *profiles.routes(console),
    ]
