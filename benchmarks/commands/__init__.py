"""One module per ``asyncio-lab`` command, each ``add_parser(sub)`` and ``run(args) -> int``.

The table of commands is in ``benchmarks/cli.py``; flags, checks and consoles that several
commands share are in ``common.py``, so a new command is one module plus one line in the table.
"""
