"""Small helpers the configuration checks share."""

import math

__all__ = ["is_int", "is_positive_number"]


def is_int(value):
    """Return whether ``value`` is an integer, not counting ``bool`` (``True`` is not 1 here)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_positive_number(value):
    """Return whether ``value`` is a finite ``int`` or ``float`` above zero (not a ``bool``)."""
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value) and value > 0)
