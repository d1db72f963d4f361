"""The report opens offline in headless Chromium: no console errors, nothing fetched, text readable.

Chromium is driven over the DevTools protocol with aiohttp (already a dependency), so no browser
download or extra package is needed. The browser runs in its own process group, which is killed
whatever happens, so a failing test leaves no browser behind.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from asyncio_perf_lab.reports import build_report
from asyncio_perf_lab.reports.results_file import write_json_atomic
from asyncio_perf_lab.reports.trend import build_trend
from tests.fixtures_results import synthetic_results

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-breakpad",
    "--disable-crash-reporter",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
)
STARTUP_TIMEOUT_S = 60
COMMAND_TIMEOUT_S = 60


def find_chromium() -> str | None:
    """The Chromium binary to drive: $CHROMIUM, else the first of the usual names on PATH."""
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


class DevTools:
    """A minimal DevTools-protocol client: commands by id, events collected per session."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self.changed = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(msg.data)
            future = self.pending.pop(data.get("id", -1), None)
            if future is not None:
                if not future.done():
                    future.set_result(data)
            else:
                self.events.append(data)
                self.changed.set()
        for future in self.pending.values():
            if not future.done():
                future.set_exception(ConnectionError("DevTools connection closed"))

    async def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        """Send a command and return its result, raising on a protocol error."""
        message: dict[str, Any] = {"id": next(self.ids), "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        future = asyncio.get_running_loop().create_future()
        self.pending[message["id"]] = future
        await self.ws.send_str(json.dumps(message))
        reply = await asyncio.wait_for(future, COMMAND_TIMEOUT_S)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    async def wait_for(self, method: str, session: str | None = None) -> dict[str, Any]:
        """The first event ``method`` (of ``session``), waiting for it if it has not come yet."""
        async with asyncio.timeout(COMMAND_TIMEOUT_S):
            while True:
                for event in self.events:
                    if event.get("method") == method and event.get("sessionId") == session:
                        return event.get("params", {})
                self.changed.clear()
                await self.changed.wait()

    def of(self, method: str) -> list[dict[str, Any]]:
        """The params of every event ``method`` received so far."""
        return [e.get("params", {}) for e in self.events if e.get("method") == method]

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.reader


async def _devtools_url(stderr: asyncio.StreamReader) -> str:
    async with asyncio.timeout(STARTUP_TIMEOUT_S):
        while line := await stderr.readline():
            found = re.search(rb"DevTools listening on (ws://\S+)", line)
            if found:
                return found.group(1).decode()
    raise RuntimeError("chromium exited before printing its DevTools address")


async def _drain(stream: asyncio.StreamReader) -> None:
    """Keep reading Chromium's chatty stderr so a full pipe never stalls it."""
    while await stream.read(65536):
        pass


@contextlib.asynccontextmanager
async def chromium(binary: str, profile: Path) -> AsyncIterator[DevTools]:
    """Start headless Chromium and yield a DevTools client; the process group always dies after."""
    proc = await asyncio.create_subprocess_exec(
        binary,
        *FLAGS,
        f"--user-data-dir={profile}",
        "about:blank",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # its own process group: renderer and zygote die with it
    )
    assert proc.stderr is not None
    drain: asyncio.Task[None] | None = None
    try:
        url = await _devtools_url(proc.stderr)
        drain = asyncio.create_task(_drain(proc.stderr))
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(url, max_msg_size=0) as ws,
        ):
            devtools = DevTools(ws)
            try:
                yield devtools
            finally:
                await devtools.close()
    finally:
        await _kill_group(proc)
        if drain is not None:
            drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drain


async def _kill_group(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM the browser's process group, SIGKILL it if it lingers, and reap the leader."""
    for sig, grace in ((signal.SIGTERM, 5), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            await asyncio.wait_for(proc.wait(), grace)
            break
        except TimeoutError:
            continue
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # children that outlived the leader


async def open_tab(
    devtools: DevTools, url: str, width: int, height: int, mobile: bool = False
) -> str:
    """A new tab with the page loaded, its events recorded; the DevTools session id."""
    target = await devtools.send("Target.createTarget", {"url": "about:blank"})
    attached = await devtools.send(
        "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
    )
    session = attached["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        await devtools.send(f"{domain}.enable", session=session)
    await devtools.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
        session=session,
    )
    await devtools.send("Page.navigate", {"url": url}, session=session)
    await devtools.wait_for("Page.loadEventFired", session)
    return session


async def open_page(
    binary: str,
    profile: Path,
    url: str,
    screenshot: bool = False,
    width: int = 1280,
    mobile: bool = False,
    measure: str = "null",
) -> dict[str, Any]:
    """Load ``url`` and report what the page did: console errors, requests, text, layout, pixels.

    ``mobile``: emulate a phone's viewport; ``measure``: a JS expression whose (JSON) value is
    returned as ``measured``.
    """
    async with chromium(binary, profile) as devtools:
        session = await open_tab(devtools, url, width, 900, mobile)
        evaluated = await devtools.send(
            "Runtime.evaluate",
            {
                "expression": "JSON.stringify({text: document.body.innerText,"
                " width: document.documentElement.scrollWidth,"
                " overflowing: [...document.querySelectorAll('.table-wrap')]"
                ".filter(e => e.scrollWidth > e.clientWidth + 1).length,"
                " charts: document.querySelectorAll('svg.chart').length,"
                " ids: [...document.querySelectorAll('[id]')].map(e => e.id),"
                f" measured: {measure}}})",
                "returnByValue": True,
            },
            session=session,
        )
        page = json.loads(evaluated["result"]["value"])
        png = None
        if screenshot:
            size = (await devtools.send("Page.getLayoutMetrics", session=session))["cssContentSize"]
            shot = await devtools.send(
                "Page.captureScreenshot",
                {
                    "format": "png",
                    "captureBeyondViewport": True,
                    "clip": {
                        "x": 0,
                        "y": 0,
                        "width": size["width"],
                        "height": size["height"],
                        "scale": 1,
                    },
                },
                session=session,
            )
            png = base64.b64decode(shot["data"])
        errors = [
            f"console.{e['type']}: {e.get('args')}"
            for e in devtools.of("Runtime.consoleAPICalled")
            if e["type"] in ("error", "assert")
        ]
        errors += [
            f"exception: {e['exceptionDetails'].get('text')}"
            for e in devtools.of("Runtime.exceptionThrown")
        ]
        errors += [
            f"log: {e['entry'].get('text')} ({e['entry'].get('url', '')})"
            for e in devtools.of("Log.entryAdded")
            if e["entry"].get("level") == "error"
        ]
        requests = [e["request"]["url"] for e in devtools.of("Network.requestWillBeSent")]
        return {**page, "errors": errors, "requests": requests, "png": png}


@pytest.fixture(name="chromium_binary", scope="module")
def _chromium_binary() -> str:
    binary = find_chromium()
    if binary is None and os.environ.get("CHROMIUM"):
        pytest.skip(f"no Chromium binary: CHROMIUM={os.environ['CHROMIUM']} does not exist")
    if binary is None:
        pytest.skip(
            "no Chromium binary: none of chromium (/usr/bin/chromium), chromium-browser or "
            "google-chrome on PATH (apt-get install chromium, or set CHROMIUM=/path/to/chrome)"
        )
    return binary


@pytest.mark.browser
def test_report_opens_offline_in_chromium(chromium_binary: str, tmp_path: Path) -> None:
    """The report loads with no console error, fetches nothing but itself, and shows every title."""
    results = synthetic_results()
    results_path = write_json_atomic(tmp_path / "run" / "results.json", results)
    report = build_report(results_path)
    url = report.resolve().as_uri()
    screenshot = ARTIFACTS / "report.png"

    page = asyncio.run(open_page(chromium_binary, tmp_path / "profile", url, screenshot=True))
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    screenshot.write_bytes(page["png"])

    assert page["errors"] == []
    assert page["requests"] == [url]
    for scenario in results["scenarios"]:
        assert scenario["title"] in page["text"]
        for variant in scenario["variants"]:
            assert variant["label"] in page["text"]
    assert page["charts"] >= 2 * len(results["scenarios"])
    assert len(page["ids"]) == len(set(page["ids"])), "duplicate element ids"
    assert page["width"] <= 1280, "the page scrolls sideways"
    assert page["overflowing"] == 0, "a table scrolls sideways at 1280 px"
    assert screenshot.stat().st_size > 10_000


@pytest.mark.browser
def test_trend_page_opens_offline_in_chromium(chromium_binary: str, tmp_path: Path) -> None:
    """The trend page loads with no console error, fetches nothing, and shows every scenario."""
    results = synthetic_results()
    for day in (1, 2):
        results["run"]["created"] = f"2026-01-0{day}T12:00:00+00:00"
        write_json_atomic(tmp_path / "results" / f"run-{day}" / "results.json", results)
    url = build_trend([tmp_path / "results"]).resolve().as_uri()

    page = asyncio.run(open_page(chromium_binary, tmp_path / "profile", url))

    assert page["errors"] == []
    assert page["requests"] == [url]
    for scenario in results["scenarios"]:
        assert scenario["title"] in page["text"]
    assert page["charts"] == len(results["scenarios"])
    assert page["width"] <= 1280, "the page scrolls sideways"


PHONE_WIDTH = 390  # an iPhone 12-15 in portrait, CSS pixels
# For each summary row: where its median and efficiency cells are, and the box that clips them;
# for each chart text: its size on screen (its font size times the chart's scale).
PHONE_MEASURE = """(() => {
  const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.right, r.width]; };
  const wrap = document.querySelector('table.summary').closest('.table-wrap');
  return {
    viewport: document.documentElement.clientWidth,
    wrap: box(wrap),
    scrolled: wrap.scrollLeft,
    cells: [...document.querySelectorAll('table.summary td.median, table.summary td.efficiency')]
      .map(c => [c.className, ...box(c)]),
    chart_text_px: [...document.querySelectorAll('svg.chart text')].map(t => {
      const m = t.getScreenCTM();
      return Math.hypot(m.a, m.b) * parseFloat(getComputedStyle(t).fontSize);
    }),
  };
})()"""


@pytest.mark.browser
def test_report_reads_on_a_390px_phone(chromium_binary: str, tmp_path: Path) -> None:
    """At 390 px the page never scrolls sideways, every summary row shows its median and
    efficiency without scrolling, and chart text keeps its designed size (at least 9 px)."""
    results = synthetic_results()
    report = build_report(write_json_atomic(tmp_path / "run" / "results.json", results))
    url = report.resolve().as_uri()
    screenshot = ARTIFACTS / "report-390px.png"

    page = asyncio.run(
        open_page(
            chromium_binary,
            tmp_path / "profile",
            url,
            screenshot=True,
            width=PHONE_WIDTH,
            mobile=True,
            measure=PHONE_MEASURE,
        )
    )
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    screenshot.write_bytes(page["png"])
    phone = page["measured"]

    assert page["errors"] == []
    assert phone["viewport"] == PHONE_WIDTH
    assert page["width"] <= PHONE_WIDTH, "the page scrolls sideways"
    variants = sum(len(s["variants"]) for s in results["scenarios"])
    assert len(phone["cells"]) == 2 * variants  # a median and an efficiency per row
    left, right, _ = phone["wrap"]
    assert phone["scrolled"] == 0
    for name, cell_left, cell_right, cell_width in phone["cells"]:
        assert cell_width > 0, name
        assert left <= cell_left, (name, phone["wrap"])
        assert cell_right <= min(right, PHONE_WIDTH), (name, phone["wrap"])
    assert len(phone["chart_text_px"]) > 50
    assert min(phone["chart_text_px"]) >= 9, "chart text shrunk below 9 px"
