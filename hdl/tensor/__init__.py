"""The tensor core (T-core): a systolic matrix unit."""

from .core import TensorCore, operand_layouts, result_layout

__all__ = ["TensorCore", "operand_layouts", "result_layout"]
