"""The blocks the command line can elaborate, and their port tables.

Each block is built from a named :class:`hdl.config.ChipConfig`; :func:`port_table` turns a
component's signature into the rows of the port tables in the docs (``brgpu ports``).
"""

from dataclasses import dataclass

from amaranth.hdl import Shape
from amaranth.lib import data, stream, wiring

from .config import get_config

__all__ = ["Block", "BLOCKS", "block_names", "get_block", "build_block", "port_table",
           "port_table_markdown"]


@dataclass(frozen=True)
class Block:
    """A block the command line knows: its name, a description and how to build it."""

    name: str
    description: str
    build: object  # callable(ChipConfig) -> wiring.Component

    @property
    def toplevel(self):
        """The Verilog module name of the block."""
        return self.name


def _tensor_core(chip):
    from .tensor import TensorCore
    return TensorCore(config=chip.tensor)


def _tensor_core_fp(chip):
    from .tensor.fp_config import fp_tensor_config
    from .tensor.fp_core import FPTensorCore
    return FPTensorCore(config=fp_tensor_config(chip.name))


def _tensor_core_fp_all(chip):
    import dataclasses

    from .tensor.fp_config import PRECISIONS, fp_tensor_config
    from .tensor.fp_core import FPTensorCore
    config = dataclasses.replace(fp_tensor_config(chip.name), precisions=PRECISIONS)
    return FPTensorCore(config=config)


def _cache_slice(chip):
    from .cache import CacheConfig, CacheSlice
    return CacheSlice(config=CacheConfig.named(chip.name))


def _hbm_pc(chip):
    from .hbm.config import controller_config
    from .hbm.controller import HBMPseudoChannel
    from .hbm.onchip import HBMOnChipSystem
    config = controller_config(chip.name)
    if chip.name == "fpga":
        # No HBM on the board: the controller drives the block-RAM memory model.
        return HBMOnChipSystem(config=config)
    return HBMPseudoChannel(config=config)


def _mesh(chip):
    from .link.noc import Mesh, mesh_config
    return Mesh(config=mesh_config(chip.name))


def _hbm_stack(chip):
    from .hbm.stack import HBMStack, stack_config
    return HBMStack(config=stack_config(chip.name))


def _d2d(chip):
    from .link.d2d import D2DLink, d2d_config
    return D2DLink(config=d2d_config(chip.name))


def _die_net(chip):
    from .link.noc import TwoDieNetwork, die_net_config
    return TwoDieNetwork(config=die_net_config(chip.name), wired=True)


BLOCKS = {
    "tensor_core": Block("tensor_core", "INT8 systolic tensor core (T-core)", _tensor_core),
    "tensor_core_fp": Block("tensor_core_fp", "BF16/FP16/TF32/TF32+/FP32 (FP32 accumulate) and "
                            "INT8 (INT32) systolic tensor core", _tensor_core_fp),
    "tensor_core_fp_all": Block("tensor_core_fp_all", "the FP tensor core with every format and "
                                "INT8 built in (fpga: 4x4)", _tensor_core_fp_all),
    "cache_slice": Block("cache_slice", "L2 cache slice: set-associative, write-back, "
                         "non-blocking", _cache_slice),
    "hbm_pc": Block("hbm_pc", "HBM2/HBM2E pseudo-channel controller (fpga: with the on-chip "
                    "memory model)", _hbm_pc),
    "mesh": Block("mesh", "2D mesh on-die network (XY routing, credits, 2 VCs)", _mesh),
    "hbm_stack": Block("hbm_stack", "HBM2E stack: pseudo-channel controllers behind an address "
                       "interleaver (fpga: 2 channels with on-chip memory models)", _hbm_stack),
    "d2d": Block("d2d", "die-to-die link end: flits, CRC-16, go-back-N replay, credits, lanes",
                 _d2d),
    "die_net": Block("die_net", "two dies' 2D meshes joined by the die-to-die link at a gateway "
                     "router port (die bit in addresses)", _die_net),
}


def block_names():
    """Return the names of the blocks, in a stable order."""
    return list(BLOCKS)


def get_block(name):
    """Return the :class:`Block` called ``name``.

    Raises
    ------
    ValueError
        If there is no such block; the message lists the valid names.
    """
    try:
        return BLOCKS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"block must be one of {', '.join(BLOCKS)}, not {name!r}") from None


def build_block(name, config="fpga"):
    """Return the component for block ``name`` in the named configuration ``config``."""
    block = get_block(name)
    return block.build(get_config(config))


def _shape_text(shape):
    if isinstance(shape, data.ArrayLayout):
        return f"{shape.length} x {_shape_text(shape.elem_shape)}"
    if isinstance(shape, data.StructLayout):
        return "{" + ", ".join(f"{n}: {_shape_text(f.shape)}" for n, f in shape) + "}"
    cast = Shape.cast(shape)
    return f"{'signed' if cast.signed else 'unsigned'}({cast.width})"


def _describe_layout(shape, offset=0, prefix=""):
    """Yield ``(field path, offset, width, shape text)`` for the fields of a payload layout."""
    if isinstance(shape, data.StructLayout):
        for name, field in shape:
            yield from _describe_layout(field.shape, offset + field.offset,
                                        f"{prefix}.{name}" if prefix else name)
    else:
        yield prefix, offset, Shape.cast(shape).width, _shape_text(shape)


def port_table(component):
    """Return the Verilog ports of ``component`` as a list of dictionaries.

    Each row has ``name`` (the Verilog port), ``direction``, ``width``, ``stream`` (the
    stream interface the port belongs to, or ``""``), ``role`` (``valid``, ``ready``,
    ``payload`` or ``""``) and ``fields`` (the payload's fields with bit offsets).
    """
    # The component is read for its signature only; it is not elaborated, which is fine.
    component._MustUse__silence = True
    rows = [
        {"name": "clk", "direction": "input", "width": 1, "stream": "", "role": "clock",
         "fields": []},
        {"name": "rst", "direction": "input", "width": 1, "stream": "",
         "role": "synchronous reset, active high", "fields": []},
    ]
    signature = component.signature
    for path, member, _value in signature.flatten(component):
        name = "__".join(str(part) for part in path)
        stream_name, role = "", ""
        sub = signature
        for depth, part in enumerate(path[:-1]):
            if isinstance(part, int):
                continue  # an index into an array of interfaces
            sub_member = sub.members[part]
            if not sub_member.is_signature:
                break
            sub = sub_member.signature
            if isinstance(sub, stream.Signature):
                end = depth + 1
                while end < len(path) - 1 and isinstance(path[end], int):
                    end += 1
                stream_name = "__".join(str(p) for p in path[:end])
                role = str(path[-1])
        fields = []
        if role == "payload":
            fields = [{"field": f, "offset": o, "width": w, "shape": t}
                      for f, o, w, t in _describe_layout(member.shape)]
        rows.append({
            "name": name,
            "direction": "input" if member.flow == wiring.In else "output",
            "width": Shape.cast(member.shape).width,
            "stream": stream_name,
            "role": role,
            "fields": fields,
        })
    return rows


def port_table_markdown(rows):
    """Return the port table as Markdown."""
    lines = ["| port | direction | width | stream | role | payload fields (bit offset) |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        fields = "<br>".join(f"`{f['field']}` @{f['offset']}: {f['shape']}"
                             for f in row["fields"])
        lines.append(f"| `{row['name']}` | {row['direction']} | {row['width']} | "
                     f"{row['stream']} | {row['role']} | {fields} |")
    return "\n".join(lines)
