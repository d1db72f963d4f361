"""Process limits: 1000 concurrent connections need more file descriptors than the usual 1024."""

from __future__ import annotations


def raise_open_files_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit where the OS allows; return the soft limit."""
    try:
        import resource
    except ImportError:  # not on this OS (Windows): nothing to raise
        return -1
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):  # e.g. macOS caps it below an "unlimited" hard limit
        return soft
    return target
