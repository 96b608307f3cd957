"""Pack and unpack stream payloads to and from the integers on Verilog ports.

Amaranth flattens a ``data.Struct`` payload into one port (``a__payload``); the field offsets
come from the layout. Values are plain Python: a ``dict`` for a ``StructLayout``, a ``list`` for an
``ArrayLayout``, an ``int`` for a plain shape (sign-extended when the shape is signed).
"""

from amaranth.hdl import Shape
from amaranth.lib import data

__all__ = ["encode", "decode", "width"]


def width(layout):
    """Return the width in bits of ``layout``."""
    return Shape.cast(layout).width


def encode(layout, value):
    """Pack ``value`` into an integer according to ``layout``.

    Raises
    ------
    ValueError
        If a field is missing or a value does not fit its field.
    """
    if isinstance(layout, data.StructLayout):
        word = 0
        for name, field in layout:
            if name not in value:
                raise ValueError(f"payload field {name!r} is missing from {value!r}")
            word |= encode(field.shape, value[name]) << field.offset
        return word
    if isinstance(layout, data.ArrayLayout):
        if len(value) != layout.length:
            raise ValueError(f"expected {layout.length} elements, not {len(value)}")
        elem_width = width(layout.elem_shape)
        word = 0
        for index, item in enumerate(value):
            word |= encode(layout.elem_shape, item) << (index * elem_width)
        return word
    shape = Shape.cast(layout)
    value = int(value)
    if shape.signed:
        low, high = -(1 << (shape.width - 1)), (1 << (shape.width - 1)) - 1
    else:
        low, high = 0, (1 << shape.width) - 1
    if not low <= value <= high:
        raise ValueError(f"{value} does not fit in {shape!r}")
    return value & ((1 << shape.width) - 1)


def decode(layout, word):
    """Unpack the integer ``word`` according to ``layout``."""
    if isinstance(layout, data.StructLayout):
        return {name: decode(field.shape, word >> field.offset) for name, field in layout}
    if isinstance(layout, data.ArrayLayout):
        elem_width = width(layout.elem_shape)
        return [decode(layout.elem_shape, word >> (index * elem_width))
                for index in range(layout.length)]
    shape = Shape.cast(layout)
    value = word & ((1 << shape.width) - 1)
    if shape.signed and value >> (shape.width - 1):
        value -= 1 << shape.width
    return value
