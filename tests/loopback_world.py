"""Three ``hashmatch serve`` processes on loopback for the hub's end-to-end
test: the hub and two members, each with its own data folder and database,
configured through HASHMATCH_ variables as an operator would.  A test talks
to them over HTTP and runs the ``hashmatch`` CLI against each one's settings;
every child is killed when the block ends, whatever happened in it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx2

from tests.servers import free_port, wait_ready

T = TypeVar("T")
#: Longest wait for a server to answer, or for something it does in the background.
PATIENCE = 60.0
#: Longest one CLI command may take on a busy machine.
CLI_SECONDS = 60


@dataclass
class Instance:
    """One ``hashmatch serve`` process, its settings and an HTTP client for it."""

    name: str
    env: dict[str, str]
    base: str
    log: Path
    process: subprocess.Popen[bytes] | None = None
    http: httpx2.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx2.Client(base_url=self.base, timeout=30)

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``hashmatch ARGS`` with this instance's settings (and ``env`` besides)."""
        return subprocess.run(
            [sys.executable, "-m", "hashmatch.cli", *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=CLI_SECONDS,
            check=False,
        )

    def ok(self, *args: str, env: dict[str, str] | None = None) -> str:
        """``run``, which must succeed: its stdout."""
        done = self.run(*args, env=env)
        assert done.returncode == 0, f"{self.name}: hashmatch {' '.join(args)}:\n{done.stderr}"
        return done.stdout

    def json_lines(self, *args: str, env: dict[str, str] | None = None) -> list[Any]:
        return [json.loads(line) for line in self.ok(*args, env=env).splitlines() if line]

    def stop(self) -> None:
        self.http.close()
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        if self.process is not None:
            self.process.wait(30)

    def output(self) -> str:
        """The server's log, for a failure's message."""
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


def settings_env(data_dir: Path, database_url: str, port: int, **settings: str) -> dict[str, str]:
    """The environment of one instance: the test's, less its HASHMATCH_
    settings, plus this instance's."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("HASHMATCH_") or name.startswith("HASHMATCH_TEST_")
    }
    env.update(
        HASHMATCH_DATA_DIR=str(data_dir),
        HASHMATCH_DATABASE_URL=database_url,
        HASHMATCH_PORT=str(port),
        **{f"HASHMATCH_{name.upper()}": value for name, value in settings.items()},
    )
    return env


@contextmanager
def serving(
    root: Path, databases: dict[str, str], **settings: dict[str, str]
) -> Iterator[dict[str, Instance]]:
    """A ``hashmatch serve`` per name in ``databases`` (its database URL; an
    empty one: SQLite in its data folder), with ``settings[name]`` as
    HASHMATCH_ variables; all started at once, live when yielded, killed at
    the end."""
    with ExitStack() as stack:
        instances: dict[str, Instance] = {}
        for name, database_url in databases.items():
            folder = root / name
            folder.mkdir(parents=True)
            port = free_port()
            env = settings_env(folder / "data", database_url, port, **settings.get(name, {}))
            instance = Instance(name, env, f"http://127.0.0.1:{port}", folder / "serve.log")
            stack.callback(instance.stop)
            with instance.log.open("wb") as log:
                instance.process = subprocess.Popen(
                    [sys.executable, "-m", "hashmatch.cli", "serve"],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            instances[name] = instance
        for instance in instances.values():
            try:
                wait_ready(instance.base, None, PATIENCE)
            except AssertionError:
                raise AssertionError(
                    f"{instance.name} did not start:\n{instance.output()}"
                ) from None
        yield instances


def eventually(check: Callable[[], T | None], what: str, seconds: float = PATIENCE) -> T:
    """``check()``'s first truthy answer, asked every 0.1 s for at most
    ``seconds``: what a server does in the background, awaited with a
    deadline instead of a fixed sleep."""
    deadline = time.monotonic() + seconds
    while True:
        answer = check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(0.1)
