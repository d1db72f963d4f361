"""The replay page plays in headless Chromium: no console error, "next" moves, nothing fetched."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.lab_cli import run_lab
from tests.test_report_browser import ARTIFACTS, chromium, find_chromium, open_tab

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = ROOT / "docs" / "examples" / "article_puzzle.py"
STATE = (
    "JSON.stringify({running: document.getElementById('running').innerText,"
    " position: document.getElementById('position').innerText,"
    " ready: document.getElementById('ready').innerText,"
    " console: document.getElementById('console').innerText,"
    " hit: (document.querySelector('#source .hit') || {}).innerText || null})"
)


@pytest.fixture(name="chromium_binary", scope="module")
def _chromium_binary() -> str:
    binary = find_chromium()
    if binary is None:
        where = os.environ.get("CHROMIUM") or "chromium, chromium-browser or google-chrome on PATH"
        pytest.skip(f"no Chromium binary ({where}): apt-get install chromium")
    return binary


async def play(binary: str, profile: Path, url: str, clicks: int, shots: Path) -> dict[str, Any]:
    """Open the page, click "next" ``clicks`` times; the states seen, errors, requests, pictures."""
    async with chromium(binary, profile) as devtools:
        session = await open_tab(devtools, url, 1280, 1000)

        async def evaluate(expression: str) -> Any:
            reply = await devtools.send(
                "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session
            )
            return reply["result"].get("value")

        async def screenshot(name: str) -> None:
            shot = await devtools.send("Page.captureScreenshot", {"format": "png"}, session)
            (shots / name).write_bytes(base64.b64decode(shot["data"]))

        states = [json.loads(await evaluate(STATE))]
        await screenshot("replay-step-1.png")
        for _ in range(clicks):
            await evaluate("document.getElementById('next').click()")
            states.append(json.loads(await evaluate(STATE)))
        await screenshot(f"replay-step-{clicks + 1}.png")
        errors = [e for e in devtools.of("Runtime.consoleAPICalled") if e["type"] == "error"]
        errors += devtools.of("Runtime.exceptionThrown")
        errors += [e for e in devtools.of("Log.entryAdded") if e["entry"]["level"] == "error"]
        requests = [e["request"]["url"] for e in devtools.of("Network.requestWillBeSent")]
        return {"states": states, "errors": errors, "requests": requests}


@pytest.mark.browser
def test_replay_page_steps_forward_offline_without_errors(
    chromium_binary: str, tmp_path: Path
) -> None:
    """Clicking next changes the running pane and the console; no error, nothing fetched."""
    page, steps = tmp_path / "article.html", tmp_path / "article.json"
    proc = run_lab("replay", "--script", str(ARTICLE), "--out", str(page), "--json", str(steps))
    assert proc.returncode == 0, proc.stderr
    count = len(json.loads(steps.read_text())["steps"])
    url = page.resolve().as_uri()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    seen = asyncio.run(play(chromium_binary, tmp_path / "profile", url, count - 1, ARTIFACTS))

    assert seen["errors"] == []
    assert seen["requests"] == [url]
    states = seen["states"]
    assert states[0]["position"].startswith(f"step 1 / {count}")
    assert states[1]["running"] != states[0]["running"]
    assert "print(3)" in states[1]["running"]
    assert "main()" in states[0]["running"]
    assert "async def main" in (states[0]["hit"] or "")
    assert states[-1]["console"].split() == ["1", "7", "3", "4", "2", "5", "6"]
