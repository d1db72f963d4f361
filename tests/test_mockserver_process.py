"""The server as a process: CLI errors, readiness, signals, and a launcher that leaves no orphan."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from asyncio_perf_lab.mockserver import MockServer, MockServerError
from asyncio_perf_lab.mockserver.launcher import REPO_ROOT

READY_LINE = re.compile(r"mockserver listening on http://127\.0\.0\.1:(\d+)")
PROMPT_EXIT_S = 2.0


def alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie (exited, not yet reaped by init) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc here: ask the kernel directly
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_gone(pid: int, timeout: float) -> bool:
    """Poll until ``pid`` is gone or ``timeout`` passes; return whether it is gone."""
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def pids_with_arg(marker: str) -> list[int]:
    """Live processes whose command line contains ``marker`` (each test uses a unique one)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker in cmdline and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` in the process tree (children, grandchildren, ...)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
                )
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return {p for p in found if alive(p)}


def unique_seed() -> str:
    """A seed no other running server uses, to find this test's process in the process table."""
    return str(time.time_ns() % 10**15 + os.getpid())


def get_health(url: str) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{url}/health", timeout=5) as resp:
        return resp.status


@pytest.fixture(name="server_proc")
def _server_proc() -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "asyncio_perf_lab.mockserver", "--watch-stdin"],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().rstrip("\n")
        yield proc, line
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


# --- command line ------------------------------------------------------------------------------


def test_readiness_line_is_exactly_one_line_with_the_url(
    server_proc: tuple[subprocess.Popen[str], str],
) -> None:
    """The server prints exactly `mockserver listening on http://127.0.0.1:PORT`, nothing more."""
    proc, line = server_proc
    match = READY_LINE.fullmatch(line)
    assert match, line
    assert get_health(f"http://127.0.0.1:{match[1]}") == 200
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert proc.stdout is not None
    assert proc.stdout.read() == ""


@pytest.mark.parametrize(
    ("args", "bad_value"),
    [
        (["--host", "0.0.0.0"], "0.0.0.0"),
        (["--host", "example.com"], "example.com"),
        (["--port", "abc"], "abc"),
        (["--port", "70000"], "70000"),
        (["--latency", "fast"], "fast"),
        (["--latency", "0.5ms"], "0.5ms"),
        (["--seed", "-3"], "-3"),
        (["--bogus"], "--bogus"),
    ],
)
def test_bad_cli_input_is_one_line_and_exit_2(args: list[str], bad_value: str) -> None:
    """Bad CLI input prints one stderr line naming the bad value (and what is allowed), exits 2."""
    proc = subprocess.run(
        [sys.executable, "-m", "asyncio_perf_lab.mockserver", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert bad_value in lines[0]
    assert "Traceback" not in proc.stderr
    if args[0] != "--bogus":
        assert "allowed" in lines[0]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_server_promptly_with_exit_0(
    server_proc: tuple[subprocess.Popen[str], str], sig: signal.Signals
) -> None:
    """SIGTERM and SIGINT (Ctrl-C) stop the server with exit 0 in under 2 s, even mid-hang."""
    proc, line = server_proc
    match = READY_LINE.fullmatch(line)
    assert match, line
    port = int(match[1])
    # Requests that would outlive the shutdown: one hangs forever, one waits 30 s.
    with (
        socket.create_connection(("127.0.0.1", port)) as hang,
        socket.create_connection(("127.0.0.1", port)) as slow,
    ):
        hang.sendall(b"GET /users/1?hang HTTP/1.1\r\nHost: x\r\n\r\n")
        slow.sendall(b"GET /work/async-sleep?ms=30000 HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        start = time.monotonic()
        proc.send_signal(sig)
        code = proc.wait(timeout=10)
        elapsed = time.monotonic() - start
    assert code == 0
    assert elapsed < PROMPT_EXIT_S
    assert proc.stderr is not None
    assert "Traceback" not in proc.stderr.read()


def test_stdin_eof_stops_the_watching_server(
    server_proc: tuple[subprocess.Popen[str], str],
) -> None:
    """With --watch-stdin, closing the server's stdin stops it with exit 0."""
    proc, _ = server_proc
    assert proc.stdin is not None
    proc.stdin.close()
    assert proc.wait(timeout=PROMPT_EXIT_S) == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_process_pool_workers_go_with_the_server(
    server_proc: tuple[subprocess.Popen[str], str], sig: signal.Signals
) -> None:
    """After /work/cpu-offloaded started a pool, stopping or even killing the server ends it all."""
    proc, line = server_proc
    match = READY_LINE.fullmatch(line)
    assert match, line
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://127.0.0.1:{match[1]}/work/cpu-offloaded?ms=5", timeout=30) as resp:
        assert resp.status == 200
    helpers = descendants(proc.pid)
    assert helpers, "the pool should have started worker processes"
    proc.send_signal(sig)
    proc.wait(timeout=10)
    left = [pid for pid in helpers if not wait_gone(pid, timeout=5)]
    assert left == [], f"left behind: {left}"


def test_port_taken_is_a_one_line_error() -> None:
    """Asking for a port that is in use fails with one line naming the address, exit 1."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "asyncio_perf_lab.mockserver", "--port", str(port)],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert proc.returncode == 1
    assert proc.stderr.strip() == proc.stderr.strip().splitlines()[0]
    assert f"127.0.0.1:{port}" in proc.stderr


# --- launcher ----------------------------------------------------------------------------------


def test_launcher_serves_and_leaves_nothing_after_normal_exit() -> None:
    """`with MockServer()` serves at server.url and its process is gone when the block ends."""
    with MockServer() as server:
        pid = server.pid
        assert pid is not None
        assert not server.url.endswith("/")
        assert get_health(server.url) == 200
    assert not alive(pid)


def raise_inside(exc: BaseException, pids: list[int]) -> None:
    """Start a server, note its pid, and raise ``exc`` inside the with-block."""
    with MockServer() as server:
        assert server.pid is not None
        pids.append(server.pid)
        raise exc


def test_launcher_stops_the_server_when_the_body_raises() -> None:
    """An exception in the with-block propagates and the server process is still stopped."""
    pids: list[int] = []
    with pytest.raises(RuntimeError, match="boom"):
        raise_inside(RuntimeError("boom"), pids)
    assert not alive(pids[0])


def test_launcher_stops_the_server_on_keyboard_interrupt() -> None:
    """Ctrl-C in the with-block propagates and the server process is still stopped."""
    pids: list[int] = []
    with pytest.raises(KeyboardInterrupt):
        raise_inside(KeyboardInterrupt(), pids)
    assert not alive(pids[0])


@pytest.mark.asyncio
async def test_async_launcher_serves_and_stops() -> None:
    """`async with MockServer()` works the same way and stops its process on exit."""
    async with MockServer(seed=4) as server:
        pid = server.pid
        assert pid is not None
        assert server.stats()["total_requests"] == 0
    assert not alive(pid)


def test_launcher_reports_a_taken_port_and_leaves_nothing() -> None:
    """A server that cannot bind raises MockServerError with its stderr; no process remains."""
    seed = unique_seed()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with (
            pytest.raises(MockServerError, match=rf"cannot listen on 127\.0\.0\.1:{port}"),
            MockServer(seed=int(seed), extra_args=["--port", str(port)]),
        ):
            pytest.fail("the server should not have started")
    assert pids_with_arg(f"--seed {seed}") == []


def test_launcher_reports_bad_arguments_with_the_servers_message() -> None:
    """A server that rejects its arguments raises MockServerError quoting its one-line error."""
    with pytest.raises(MockServerError, match="bad latency 'fast'"), MockServer(latency="fast"):
        pytest.fail("the server should not have started")


def test_launcher_times_out_and_leaves_nothing() -> None:
    """A server not ready within startup_timeout raises MockServerError and is killed."""
    seed = unique_seed()
    with (
        pytest.raises(MockServerError, match="not ready within"),
        MockServer(seed=int(seed), startup_timeout=0.01),
    ):
        pytest.fail("the server should not have started")
    assert pids_with_arg(f"--seed {seed}") == []


def test_killed_parent_leaves_no_server_behind() -> None:
    """SIGKILL of the launching process closes the server's stdin and the server exits itself."""
    script = textwrap.dedent(
        """
        import time
        from asyncio_perf_lab.mockserver import MockServer
        with MockServer() as server:
            print(server.pid, flush=True)
            time.sleep(60)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        server_pid = int(parent.stdout.readline())
        assert alive(server_pid)
        parent.kill()
        parent.wait(timeout=10)
        assert wait_gone(server_pid, timeout=5), f"server {server_pid} outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()
        parent.communicate(timeout=10)
