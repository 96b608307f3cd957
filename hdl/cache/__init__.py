"""One slice of the distributed L2 cache: set-associative, write-back, write-allocate."""

from .config import POLICIES, CacheConfig, cache_config_names
from .protocol import (
    CacheOp,
    MemOp,
    core_request_layout,
    core_response_layout,
    counters_layout,
    mem_request_layout,
    mem_response_layout,
)
from .slice import CacheSlice

__all__ = ["POLICIES", "CacheConfig", "cache_config_names", "CacheSlice", "CacheOp", "MemOp",
           "core_request_layout", "core_response_layout", "counters_layout",
           "mem_request_layout", "mem_response_layout"]
