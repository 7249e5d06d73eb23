"""Several server processes on one port, each with a listening socket of its own.

    run_workers(settings)

uvicorn's own ``--workers`` shares one listening socket, and whichever worker
wakes first accepts a whole burst of connections: with keep-alive clients one
worker may end up with every connection while the other idles.  Here each
worker binds the port itself with ``SO_REUSEPORT``, and the kernel spreads new
connections across the workers.  The parent process only supervises: it
restarts a worker that dies and stops them all on SIGINT or SIGTERM.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import time
from multiprocessing.process import BaseProcess
from types import FrameType

import uvicorn

from hashmatch.errors import ConfigurationError
from hashmatch.settings import Settings

APP = "hashmatch.api.app:app_from_environment"
BACKLOG = 2048
# uvicorn's logger: the supervisor's lines look like the workers'.
log = logging.getLogger("uvicorn.error")


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` with SO_REUSEPORT, listening."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except OSError as error:
        raise ConfigurationError(f"cannot listen on {host}:{port}: {error}") from None
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


def _worker(host: str, port: int) -> None:
    sock = listening_socket(host, port)
    config = uvicorn.Config(APP, factory=True, log_level="info", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


def run_workers(settings: Settings) -> None:
    """Run ``settings.workers`` workers until SIGINT or SIGTERM (the settings
    reach them through the environment, as ``HASHMATCH_*`` variables)."""
    listening_socket(settings.host, settings.port).close()  # a clear error before any fork
    uvicorn.Config(APP, log_level="info")  # sets up uvicorn's logging here too
    context = multiprocessing.get_context("spawn")
    stopping = False

    def start() -> BaseProcess:
        process = context.Process(
            target=_worker, args=(settings.host, settings.port), name="hashmatch-worker"
        )
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
