"""Skew registers: the delay lines that feed a systolic array diagonally."""

from amaranth.hdl import Signal

__all__ = ["skew"]


def skew(m, value, depth, *, name, shape=1, reset_less=True):
    """Return ``value`` delayed by ``depth`` register stages added to ``m``'s sync domain.

    The registers are named ``{name}_skew0`` .. ``{name}_skew{depth-1}``; ``depth = 0`` returns
    ``value`` itself. Data registers are ``reset_less``; valid flags must not be.
    """
    stage = value
    for n in range(depth):
        reg = Signal(shape, name=f"{name}_skew{n}", reset_less=reset_less)
        m.d.sync += reg.eq(stage)
        stage = reg
    return stage
