"""Entry point of ``asyncio-lab``."""

import sys

from asyncio_perf_lab.benchmarks.cli import main

sys.exit(main())
