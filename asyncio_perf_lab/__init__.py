"""asyncio-perf-lab: see and measure what asyncio really does.

The installed lab lives under this one import name. The repository's top-level folders are its
subpackages (``asyncio_perf_lab.mockserver``, ``.scenarios``, ``.benchmarks``, ``.reports``), mapped
in ``pyproject.toml``, so nothing generic lands in site-packages.

Scenario authors import the contract from here::

    from asyncio_perf_lab import Context, Machine, Variant
    from asyncio_perf_lab import Site  # for a calibrate(workload, site): the run's loop, server
"""

from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent
if (_CHECKOUT / "benchmarks" / "worker.py").is_file() and (_CHECKOUT / "pyproject.toml").is_file():
    # Run from a checkout (or an `ab` side's worktree): the subpackages are the top-level folders
    # beside this one. Resolving them here, from this same tree, keeps a worktree on its own code
    # instead of the editable install's mapping to another checkout.
    __path__.append(str(_CHECKOUT))

from typing import TYPE_CHECKING, Any  # noqa: E402

if TYPE_CHECKING:
    from asyncio_perf_lab.scenarios.calibration import Site
    from asyncio_perf_lab.scenarios.core import Context, Machine, Variant

__all__ = ["Context", "Machine", "Site", "Variant", "__version__"]
__version__ = "0.2.0"

# The contract is imported on first use, not with the package: every `asyncio-lab` command and
# worker starts by importing this package, and most never touch a scenario's types.
_CONTRACT = {
    "Context": "asyncio_perf_lab.scenarios.core",
    "Machine": "asyncio_perf_lab.scenarios.core",
    "Variant": "asyncio_perf_lab.scenarios.core",
    "Site": "asyncio_perf_lab.scenarios.calibration",
}


def __getattr__(name: str) -> Any:
    if name not in _CONTRACT:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_CONTRACT[name]), name)
    globals()[name] = value
    return value
