"""Probes: instruments run around one variant call, never inside a timed run."""
