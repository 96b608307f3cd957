"""What the runner hands a cocotb testbench: ``BRGPU_PARAMS`` and the ``SOAK`` factor."""

import json
import os

__all__ = ["params_from_env", "soak_factor"]


def params_from_env():
    """Return the parameters the runner passed as JSON in ``BRGPU_PARAMS``."""
    return json.loads(os.environ.get("BRGPU_PARAMS", "{}"))


def soak_factor():
    """Return how many times longer random tests run: ``SOAK`` (default 1)."""
    return max(1, int(os.environ.get("SOAK", "1") or "1"))
