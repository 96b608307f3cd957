"""The tensor core (T-core): systolic matrix units for INT8 and floating point."""

from .core import TensorCore, operand_layouts, result_layout
from .fp_config import PRECISIONS, FPTensorCoreConfig, Precision, fp_tensor_config
from .fp_core import FPTensorCore, fp_operand_layouts, fp_result_layout

__all__ = ["TensorCore", "operand_layouts", "result_layout", "FPTensorCore",
           "FPTensorCoreConfig", "Precision", "PRECISIONS", "fp_tensor_config",
           "fp_operand_layouts", "fp_result_layout"]
