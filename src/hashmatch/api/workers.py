"""Several server processes on one port, each with a listening socket of its own.

    run_workers(settings)

uvicorn's own ``--workers`` shares one listening socket, and whichever worker
wakes first accepts a whole burst of connections: with keep-alive clients one
worker may end up with every connection while the other idles.  Here each
worker binds the port itself with ``SO_REUSEPORT``, and the kernel spreads new
connections across the workers.  The parent process only supervises: it
restarts a worker that dies and stops them all on SIGINT or SIGTERM.  Each
worker gets the settings as its argument (the parent's environment is left
alone).

``SO_REUSEPORT`` would as gladly let a second server (another data folder,
another database) join the port and take half its requests, so a server
first claims its port with :func:`port_held`.
"""

from __future__ import annotations

import logging
import logging.config
import multiprocessing
import signal
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

import uvicorn
import uvicorn.config

from hashmatch.api.app import create_app
from hashmatch.errors import ConfigurationError
from hashmatch.settings import Settings

BACKLOG = 2048
# uvicorn's logger: the supervisor's lines look like the workers'.
log = logging.getLogger("uvicorn.error")


@contextmanager
def port_held(host: str, port: int) -> Iterator[None]:
    """Claim ``host:port`` for this server while the block runs, or raise
    ConfigurationError when another server has it.

    Two checks.  A lock only one hashmatch server can hold per ``host:port``
    (on Linux, an abstract Unix socket: scoped like the port, to the network
    namespace, and released by the kernel when the process ends), so that two
    servers started at the same moment cannot both pass.  Then a bind without
    ``SO_REUSEPORT``, which fails while anything listens on the port.
    """
    lock = _lock(host, port)
    try:
        _check_free(host, port)
        yield
    finally:
        if lock is not None:
            lock.close()


def _lock(host: str, port: int) -> socket.socket | None:
    if not sys.platform.startswith("linux"):
        return None
    lock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        lock.bind(f"\0hashmatch-serve {host}:{port}")
    except OSError:
        lock.close()
        raise ConfigurationError(
            f"another hashmatch server is already running on {host}:{port}"
        ) from None
    return lock


def _check_free(host: str, port: int) -> None:
    family, kind, proto, address = _address(host, port)
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is free
        try:
            probe.bind(address)
        except OSError as error:
            raise ConfigurationError(
                f"cannot listen on {host}:{port}: {error.strerror} "
                "(is another server running there?)"
            ) from None


def _address(host: str, port: int) -> tuple[socket.AddressFamily, socket.SocketKind, int, Any]:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except OSError as error:
        raise ConfigurationError(f"cannot listen on {host}:{port}: {error}") from None
    return family, kind, proto, address


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` with SO_REUSEPORT, listening."""
    family, kind, proto, address = _address(host, port)
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind(address)
    except OSError as error:
        sock.close()
        raise ConfigurationError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock


def _worker(settings: Settings) -> None:
    sock = listening_socket(settings.host, settings.port)
    config = uvicorn.Config(create_app(settings), log_level="info", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


def run_workers(settings: Settings) -> None:
    """Run ``settings.workers`` workers until SIGINT or SIGTERM."""
    with port_held(settings.host, settings.port):
        _supervise(settings)


def _supervise(settings: Settings) -> None:
    logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)  # uvicorn's logging here too
    context = multiprocessing.get_context("spawn")
    stopping = False

    def start() -> BaseProcess:
        process = context.Process(target=_worker, args=(settings,), name="hashmatch-worker")
        process.start()
        return process

    def stop(_signal: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    processes = [start() for _ in range(settings.workers)]
    log.info("serving on %s:%d with %d workers", settings.host, settings.port, settings.workers)
    try:
        while not stopping:
            time.sleep(0.2)
            for number, process in enumerate(processes):
                if not process.is_alive() and not stopping:
                    log.warning(
                        "worker %s exited (%s): starting another", process.pid, process.exitcode
                    )
                    processes[number] = start()
    finally:
        for process in processes:
            process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        for process in processes:
            process.join(30)
            if process.is_alive():
                process.kill()
