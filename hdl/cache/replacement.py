"""Replacement logic of a cache set: tree pseudo-LRU, true LRU and a random LFSR.

Bit conventions follow the golden model (``verif.models.cache``) exactly:

* ``"plru"``: ``ways - 1`` tree bits in heap order (bit 0 the root, node ``i`` has children
  ``2i+1`` and ``2i+2``); 0 points to the left subtree, 1 to the right. A touch points every
  node on the path to the way away from it. Reset state 0.
* ``"lru"``: the ways ordered from least to most recently used, entry ``i`` at bits
  ``i*log2(ways) ...``. A touch moves the way to the end. Reset state ``0, 1, ..., ways-1``.
* ``"random"``: one 16-bit Galois LFSR per slice (toggle mask ``0xB400``), stepped once per
  replacement decision; the victim is the low ``log2(ways)`` bits of the new state.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..checks import is_int

__all__ = ["ReplacementLogic", "repl_state_width", "repl_reset_value", "lfsr16_next",
           "LFSR16_TOGGLE"]

#: Toggle mask of the 16-bit Galois LFSR (x^16 + x^14 + x^13 + x^11 + 1).
LFSR16_TOGGLE = 0xB400


def _log2(value):
    return value.bit_length() - 1


def repl_state_width(policy, ways):
    """Return the bits of per-set replacement state (at least 1, so that it can be stored)."""
    if policy == "plru":
        return max(1, ways - 1)
    if policy == "lru":
        return max(1, ways * _log2(ways))
    return 1


def repl_reset_value(policy, ways):
    """Return the reset value of a set's replacement state."""
    if policy == "lru":
        width = _log2(ways)
        return sum(way << (way * width) for way in range(ways))
    return 0


def lfsr16_next(state):
    """Return the next state of the 16-bit Galois LFSR as an Amaranth expression."""
    return (state >> 1) ^ Mux(state[0], Const(LFSR16_TOGGLE, 16), Const(0, 16))


class ReplacementLogic(wiring.Component):
    """Combinational replacement logic of one set for the ``"plru"`` or ``"lru"`` policy.

    Parameters
    ----------
    policy : str
        ``"plru"`` or ``"lru"``.
    ways : int
        Associativity; a power of two.

    Attributes
    ----------
    state : In(repl_state_width)
        The set's replacement state.
    way : In(log2 ways)
        The way accessed.
    touched : Out(repl_state_width)
        ``state`` after an access to ``way``.
    victim : Out(log2 ways)
        The way ``state`` names for replacement.
    """

    def __init__(self, *, policy, ways):
        if policy not in ("plru", "lru"):
            self._MustUse__silence = True
            raise ValueError(f"policy must be 'plru' or 'lru', not {policy!r}")
        if not is_int(ways) or ways < 1 or ways & (ways - 1):
            self._MustUse__silence = True
            raise ValueError(f"ways must be a power of two, not {ways!r}")
        self._policy = policy
        self._ways = ways
        width = repl_state_width(policy, ways)
        way_bits = max(1, _log2(ways))
        super().__init__({
            "state": In(width),
            "way": In(way_bits),
            "touched": Out(width),
            "victim": Out(way_bits),
        })

    def elaborate(self, platform):
        m = Module()
        ways, levels = self._ways, _log2(self._ways)
        if ways == 1:
            m.d.comb += [self.touched.eq(self.state), self.victim.eq(0)]
            return m
        if self._policy == "plru":
            bits = []
            for node in range(ways - 1):
                depth = _log2(node + 1)
                position = node - ((1 << depth) - 1)
                on_path = (self.way >> (levels - depth)) == position
                goes_right = self.way[levels - 1 - depth]
                bits.append(Mux(on_path, ~goes_right, self.state[node]))
            m.d.comb += self.touched.eq(Cat(*bits))
            # Walk from the root: the victim's bits, most significant first.
            victim_bits = []
            prefix = Const(0, 1)
            for depth in range(levels):
                node = Signal(unsigned(levels), name=f"plru_node_{depth}")
                m.d.comb += node.eq(((1 << depth) - 1) + prefix)
                bit = Signal(name=f"plru_bit_{depth}")
                m.d.comb += bit.eq(self.state.bit_select(node, 1))
                victim_bits.insert(0, bit)
                prefix = Cat(bit, prefix)
            m.d.comb += self.victim.eq(Cat(*victim_bits))
        else:
            order = [self.state[i * levels:(i + 1) * levels] for i in range(ways)]
            seen = Const(0, 1)
            new = []
            for i in range(ways - 1):
                seen = seen | (order[i] == self.way)
                new.append(Mux(seen, order[i + 1], order[i]))
            new.append(self.way)
            m.d.comb += [self.touched.eq(Cat(*new)), self.victim.eq(order[0])]
        return m
