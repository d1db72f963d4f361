"""``python -m asyncio_perf_lab``: the same as the ``asyncio-lab`` command."""

import sys

from asyncio_perf_lab.benchmarks.cli import main

sys.exit(main())
