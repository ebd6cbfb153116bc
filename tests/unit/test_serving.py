"""The listening sockets of ``serve --workers N`` (serving.py)."""

from __future__ import annotations

import contextlib
import socket

import pytest

from tests.conftest import free_port
from wayfare.config import Settings
from wayfare.errors import InvalidRequestError
from wayfare.serving import bind


def test_each_http_process_gets_a_socket_on_the_port_and_connections_reach_all_of_them() -> None:
    settings = Settings(port=free_port(), workers=2)
    sockets = bind(settings)
    clients: list[socket.socket] = []
    try:
        assert len(sockets) == 2
        assert {s.getsockname()[1] for s in sockets} == {settings.port}
        for _ in range(64):
            clients.append(socket.create_connection(("127.0.0.1", settings.port), timeout=5))
        accepted = []
        for listening in sockets:
            listening.setblocking(False)
            count = 0
            while True:
                try:
                    conn, _ = listening.accept()
                except BlockingIOError:
                    break
                conn.close()
                count += 1
            accepted.append(count)
        assert sum(accepted) == 64
        assert min(accepted) > 0  # the kernel spread them; on one shared socket one took all
    finally:
        for sock in [*clients, *sockets]:
            sock.close()


def test_a_port_held_by_sockets_shared_the_same_way_is_refused() -> None:
    settings = Settings(port=free_port(), workers=2)
    sockets = bind(settings)
    try:
        with pytest.raises(
            InvalidRequestError, match=f"cannot listen on 127.0.0.1:{settings.port}"
        ):
            bind(settings)
    finally:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()


def test_one_http_process_listens_on_one_socket_of_its_own() -> None:
    settings = Settings(port=free_port(), workers=1)
    (only,) = bind(settings)
    try:
        assert only.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 0
    finally:
        only.close()
