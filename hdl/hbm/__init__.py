"""HBM2E pseudo-channel controller: timing presets and geometry."""

from .timing import (
    HBM2_DRAMSIM3,
    HBM2E_3200,
    REFRESH_POSTPONE_MAX,
    HBMGeometry,
    HBMTiming,
    from_ns,
)

__all__ = [
    "HBM2_DRAMSIM3",
    "HBM2E_3200",
    "REFRESH_POSTPONE_MAX",
    "HBMGeometry",
    "HBMTiming",
    "from_ns",
]
