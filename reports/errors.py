"""The error every command turns into one line on stderr and exit code 2."""


class UsageError(Exception):
    """Bad input from the user: the message names the bad value and what is allowed."""
