"""The two sides of an A/B: revisions checked out in temporary git worktrees, and their scenarios.

A side is a source tree (a worktree of a revision, or the working tree as it is), the
environment its processes run in (``benchmarks.side_envs``: interpreter or venv, loop) and what
its own scenario registry holds, listed by that interpreter. Worktrees are always removed: on
success, failure, Ctrl-C or SIGTERM (``ab`` turns SIGTERM into KeyboardInterrupt). A side's
processes get an environment that cannot import the other side's code.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncio_perf_lab.benchmarks.environment import REPO_ROOT
from asyncio_perf_lab.benchmarks.side_envs import EnvRequest, SideEnv, prepare_env
from asyncio_perf_lab.benchmarks.worker import WORKER_MODULE
from asyncio_perf_lab.reports.errors import UsageError

__all__ = [
    "Side",
    "open_sides",
    "read_catalog",
    "resolve_revision",
    "side_env",
    "worktree",
]

# Run inside a side's tree (cwd), so it lists *that* revision's scenarios; only the registry
# calls every revision of the lab has had (NAMES, load, variants, latency, workload, tiny). With
# a user's scenario folder (argv[1]) it lists those too, marked "user", through the registry
# calls that came with folders (user_scenarios, load's folder).
CATALOG_SCRIPT = """
import dataclasses, json, sys
from asyncio_perf_lab import scenarios
folder = sys.argv[1] if len(sys.argv) > 1 else None
user = list(scenarios.user_scenarios(folder)) if folder else []
out = {}
for name in [*scenarios.NAMES, *user]:
    s = scenarios.load(name, folder) if folder else scenarios.load(name)
    out[name] = {
        "latency": s.latency,
        "workload": dataclasses.asdict(s.workload),
        "tiny": dataclasses.asdict(s.tiny),
        "variants": {key: v.label for key, v in s.variants.items()},
        "user": name in user,
    }
json.dump(out, sys.stdout)
"""


@dataclass
class Side:
    """One side of the A/B: a source tree and what its scenario registry holds."""

    name: str  # base | head
    rev: str  # as the user named it
    sha: str | None
    tree: Path
    catalog: dict[str, Any] = field(default_factory=dict)
    scenarios: Path | None = None  # the user's scenario folder as this side sees it
    env: SideEnv = field(default_factory=lambda: SideEnv(sys.executable, "asyncio"))

    def describe(self) -> str:
        """``origin/main (1a2b3c4)`` or ``working tree (1a2b3c4 + changes)``."""
        short = (self.sha or "?")[:10]
        return f"{self.rev} ({short})"

    def own_folder(self, folder: Path | None, repo: Path) -> Path | None:
        """A user's scenario folder as this side sees it: one inside ``repo`` is taken from the
        side's own tree (None if that revision lacks it); one outside is the same for both."""
        if folder is None:
            return None
        try:
            inside = folder.resolve().relative_to(repo.resolve())
        except ValueError:
            return folder
        own = self.tree / inside
        return own if own.is_dir() else None

    def worker_module(self) -> str:
        """The side's own worker module: revisions from before the one-package layout had none."""
        packaged = (self.tree / "asyncio_perf_lab").is_dir()
        return WORKER_MODULE if packaged else "benchmarks.worker"


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"git {args[0]} failed: {exc}") from None


def resolve_revision(rev: str, repo: Path = REPO_ROOT) -> str:
    """The full commit hash ``rev`` names in ``repo``; anything else is a UsageError."""
    if not rev or rev.startswith("-"):
        raise UsageError(f"bad revision {rev!r}: expected a commit, branch or tag")
    proc = _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if proc.returncode != 0 or not proc.stdout.strip():
        raise UsageError(
            f"bad revision {rev!r}: not a commit in {repo} "
            "(fetch it first, e.g. git fetch origin main; CI needs fetch-depth: 0)"
        )
    return proc.stdout.strip()


def working_tree_sha(repo: Path = REPO_ROOT) -> str | None:
    """HEAD's hash, or None outside a git checkout."""
    proc = _git(repo, "rev-parse", "HEAD")
    return (proc.stdout.strip() or None) if proc.returncode == 0 else None


def remove_worktree(path: Path, repo: Path = REPO_ROOT) -> None:
    """Remove a worktree we added, whatever state it is in (locked, half-created, gone)."""
    _git(repo, "worktree", "remove", "--force", "--force", str(path))
    if path.exists():
        shutil.rmtree(path, ignore_errors=True)
    _git(repo, "worktree", "prune")


@contextlib.contextmanager
def worktree(sha: str, label: str, repo: Path = REPO_ROOT) -> Iterator[Path]:
    """Check ``sha`` out (detached) in a temporary worktree and always remove it afterwards."""
    holder = Path(tempfile.mkdtemp(prefix=f"lab-ab-{label}-"))
    path = holder / "tree"
    try:
        proc = _git(repo, "worktree", "add", "--detach", "--quiet", str(path), sha)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
            raise UsageError(f"cannot check out {sha[:10]} in a worktree: {last}")
        yield path
    finally:
        remove_worktree(path, repo)
        shutil.rmtree(holder, ignore_errors=True)


def side_env() -> dict[str, str]:
    """The environment of a side's processes: nothing that would import the other side's code."""
    env = dict(os.environ)
    for name in ("PYTHONPATH", "PYTHONSAFEPATH", "PYTHONSTARTUP"):
        env.pop(name, None)
    return env


def read_catalog(side: Side) -> dict[str, Any]:
    """List the scenarios and variants of a side's tree (and of its user scenario folder) by
    running its own registry."""
    what = f"{side.name} {side.describe()}: cannot list its scenarios"
    folder = [str(side.scenarios)] if side.scenarios is not None else []
    try:
        proc = subprocess.run(
            [side.env.python, "-c", CATALOG_SCRIPT, *folder],
            cwd=side.tree,
            env=side_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if proc.returncode == 0:
            return json.loads(proc.stdout)
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
        raise UsageError(f"{what}: {exc}") from None
    last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    raise UsageError(f"{what}: {last}")


@contextlib.contextmanager
def open_sides(
    base: str | None,
    head: str | None,
    repo: Path = REPO_ROOT,
    scenarios: Path | None = None,
    envs: Mapping[str, EnvRequest] | None = None,
    say: Callable[[str], Any] | None = None,
) -> Iterator[dict[str, Side]]:
    """Resolve both revisions (bad ones fail before any work), check them out, prepare each
    side's environment, read catalogs.

    ``base``/``head`` None is the working tree of ``repo``, uncommitted changes included (both
    None: an environment-only A/B of the same code); ``scenarios`` a user's scenario folder
    (``Side.own_folder`` says which copy each side uses); ``envs`` each side's interpreter,
    requirement set and loop (default: this interpreter, asyncio).
    """
    shas = {
        name: resolve_revision(rev, repo) if rev else None
        for name, rev in (("base", base), ("head", head))
    }
    envs = envs or {}
    with contextlib.ExitStack() as stack:
        sides = {}
        for name, rev in (("base", base), ("head", head)):
            sha = shas[name]
            if rev and sha:
                sides[name] = Side(name, rev, sha, stack.enter_context(worktree(sha, name, repo)))
            else:
                sides[name] = Side(name, "working tree", working_tree_sha(repo), repo)
        for side in sides.values():
            request = envs.get(side.name, EnvRequest())
            side.env = prepare_env(request, side.tree, side_env(), f"{side.name} side", say)
            side.scenarios = side.own_folder(scenarios, repo)
            side.catalog = read_catalog(side)
        yield sides
