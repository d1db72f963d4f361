"""The lab's bad-input errors: every command turns one into one line on stderr and exit code 2.

``UsageError`` is the one "bad input" error. The two ways a report can meet bad input are its
subclasses, so a command catches ``UsageError`` alone and a caller that cares can tell them apart:

- ``ResultsFileError``: a file to read (results, matrix manifest) is missing, corrupt, foreign
  or newer than this lab reads;
- ``PageWriteError``: a page cannot be written where asked.
"""

from __future__ import annotations

__all__ = ["PageWriteError", "ResultsFileError", "UsageError"]


class UsageError(Exception):
    """Bad input from the user: the message names the bad value and what is allowed."""


class ResultsFileError(UsageError, ValueError):
    """A file that cannot be used; the message is one line naming the file and the fault."""


class PageWriteError(UsageError):
    """A page (or chart) cannot be written where asked; the message is one line."""
