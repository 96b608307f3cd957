"""Small helpers the configuration checks share."""

__all__ = ["is_int"]


def is_int(value):
    """Return whether ``value`` is an integer, not counting ``bool`` (``True`` is not 1 here)."""
    return isinstance(value, int) and not isinstance(value, bool)
