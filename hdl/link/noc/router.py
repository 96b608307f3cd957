"""A 2D-mesh router with dimension-order (XY) routing and credit-based flow control.

Microarchitecture
-----------------
Every input (one link per neighbour, plus one injection stream per virtual channel) has one
first-in first-out buffer of ``buffer_depth`` flits per VC, in registers (:class:`FlitQueue`).
Every flit's output is computed by XY routing (first along x until the column matches, then
along y, then out of the ejection port of its VC) as the flit is written into its buffer, and
stored next to it, so no address comparison sits between a buffer's head and the arbiters. Every
output has its own round-robin arbiter over the buffers whose head flit wants it and may go:

- a link output needs a credit for the flit's VC at the neighbour's input buffer;
- an ejection output needs its output register empty or being emptied this cycle.

The winner is copied into the output register (the link register, or the ejection stream's
register), so a flit spends two cycles in every router: the cycle it is written into a buffer
and the cycle it crosses the switch. Each buffer is read independently (input speedup equals
the number of VCs), so a blocked VC never stalls the other one at the same input, and the
allocation needs no input arbitration: a buffer's head has exactly one output.

Credits: an output starts with ``buffer_depth`` credits per VC, spends one per flit sent and
gets one back when the neighbour's ``credit[vc]`` pulses (registered at the neighbour, when the
flit leaves its buffer). The round trip is four cycles, so depth 4 lets one VC alone use a link
every cycle.

On two dies (``MeshConfig.dies == 2``) a flit whose ``dest.die`` is not the router's die is
routed XY to the gateway node instead of its destination, and at the gateway out of the
``d2d`` port, a link like the others (buffers and credits) towards the die-to-die bridge.

Deadlock freedom is argued in ``docs/mesh.md``: XY routing never turns from y back to x, so
the channel dependency graph of each VC is acyclic, and requests and responses never share a
buffer.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Shape, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from ...checks import is_int
from .config import MeshConfig
from .flit import LinkSignature, flit_layout

__all__ = ["FlitQueue", "Router", "DIRECTIONS", "neighbour"]

#: The four link directions of a router and the coordinate step of each. Row 0 is the north
#: edge, so ``south`` is ``y + 1``.
DIRECTIONS = {"east": (1, 0), "west": (-1, 0), "north": (0, -1), "south": (0, 1)}



def neighbour(config, x, y, direction):
    """Return the ``(x, y)`` of the neighbour of router ``(x, y)`` in ``direction``, or ``None``.

    ``None`` means the router is on the mesh's edge in that direction.
    """
    dx, dy = DIRECTIONS[direction]
    nx, ny = x + dx, y + dy
    if 0 <= nx < config.k and 0 <= ny < config.l:
        return nx, ny
    return None


class FlitQueue(wiring.Component):
    """A first-in first-out buffer of flits in registers.

    Parameters
    ----------
    shape : shape-castable
        The flit layout.
    depth : int
        Entries, a power of two of at least 2.

    Attributes
    ----------
    w : In(stream.Signature(shape))
        Flits in; ``ready`` is high while the queue is not full (it does not look at ``r``).
    r : Out(stream.Signature(shape))
        The oldest flit; ``valid`` while the queue is not empty.
    """

    def __init__(self, *, shape, depth):
        if not isinstance(depth, int) or depth < 2 or depth & (depth - 1):
            self._MustUse__silence = True
            raise ValueError(f"depth must be a power of two of at least 2, not {depth!r}")
        try:
            Shape.cast(shape)
        except (TypeError, ValueError) as error:
            self._MustUse__silence = True
            raise TypeError(f"shape must be shape-castable (a flit layout or a bit width), "
                            f"not {shape!r} ({error})") from None
        self._shape = shape
        self._depth = depth
        super().__init__({
            "w": In(stream.Signature(shape)),
            "r": Out(stream.Signature(shape)),
        })

    @property
    def depth(self):
        """Entries of the queue."""
        return self._depth

    def elaborate(self, platform):
        m = Module()
        depth = self._depth
        width = Shape.cast(self._shape).width
        entries = Array(Signal(width, name=f"entry{i}", reset_less=True) for i in range(depth))
        head = Signal(ceil_log2(depth))
        tail = Signal(ceil_log2(depth))
        count = Signal(range(depth + 1))
        # ``r.valid`` and ``w.ready`` are registers (not comparisons of ``count``), so the
        # routers' arbiters start from flip-flops.
        nonempty = Signal()
        not_full = Signal(init=1)
        push = Signal()
        pop = Signal()
        m.d.comb += [
            self.w.ready.eq(not_full),
            push.eq(self.w.valid & self.w.ready),
            self.r.valid.eq(nonempty),
            pop.eq(self.r.valid & self.r.ready),
            self.r.payload.eq(entries[head]),
        ]
        with m.If(push):
            m.d.sync += [entries[tail].eq(self.w.payload), tail.eq(tail + 1)]
        with m.If(pop):
            m.d.sync += head.eq(head + 1)
        m.d.sync += count.eq(count + push - pop)
        with m.If(push & ~pop):
            m.d.sync += [nonempty.eq(1), not_full.eq(count != depth - 1)]
        with m.If(pop & ~push):
            m.d.sync += [nonempty.eq(count != 1), not_full.eq(1)]
        return m


def round_robin(m, requests, name):
    """Return the one-hot grant vector of a round-robin arbiter over ``requests``.

    The requesters after the one granted last have priority, lowest index first; the mask of
    those requesters is the arbiter's only state and moves when a grant is given.
    """
    n = len(requests)
    request = Signal(n, name=f"{name}_requests")
    grant = Signal(n, name=f"{name}_grants")
    m.d.comb += request.eq(Cat(*requests))
    if n == 1:
        m.d.comb += grant.eq(request)
        return grant
    after_last = Signal(n, name=f"{name}_after_last")
    masked = Signal(n, name=f"{name}_masked")
    m.d.comb += masked.eq(request & after_last)

    def lowest(bits, suffix):
        # The lowest set bit of ``bits`` and, for each position, whether a lower bit is set
        # (prefix ORs: no carry chain).
        below = Signal(n, name=f"{name}_{suffix}_below")
        m.d.comb += below.eq(Cat(Const(0, 1), *[bits[:i].any() for i in range(1, n)]))
        return bits & ~below, below

    # Both candidates in parallel, then one multiplexer: the requesters after the last grant
    # if any, else all of them.
    masked_grant, masked_below = lowest(masked, "masked")
    any_grant, any_below = lowest(request, "any")
    wrap = Signal(name=f"{name}_wrap")
    m.d.comb += [
        wrap.eq(~masked.any()),
        grant.eq(Mux(wrap, any_grant, masked_grant)),
    ]
    # Priority moves to the requesters above the grant: those with a candidate below them.
    with m.If(request.any()):
        m.d.sync += after_last.eq(Mux(wrap, any_below, masked_below))
    return grant


class Router(wiring.Component):
    """One router of a ``k x l`` mesh, at ``(x, y)``.

    Parameters
    ----------
    config : MeshConfig
        The mesh.
    x, y : int
        The router's column and row. Only the links to existing neighbours are ports.
    die : int
        The die the router is on (0 or 1; only 0 when ``config.dies == 1``).

    Attributes
    ----------
    <direction>_in : In(LinkSignature(config))
        The link from the neighbour in ``direction`` (``east``, ``west``, ``north``,
        ``south``), present when the neighbour exists.
    <direction>_out : Out(LinkSignature(config))
        The link to the neighbour in ``direction``.
    d2d_in, d2d_out : In/Out(LinkSignature(config))
        The links from and to the die-to-die bridge, present at the gateway router when
        ``config.dies == 2``: flits for the other die leave through ``d2d_out``, flits from
        it arrive on ``d2d_in``, with the same credit flow control as a neighbour link.
    inject : In(stream.Signature(flit_layout(config))).array(vcs)
        Injection streams, one per VC. The router overwrites the flit's ``src`` with its own
        coordinates and ``vc`` with the stream's VC.
    eject : Out(stream.Signature(flit_layout(config))).array(vcs)
        Ejection streams, one per VC, so a consumer may refuse requests and still take
        responses.
    """

    def __init__(self, *, config, x, y, die=0):
        if not isinstance(config, MeshConfig):
            self._MustUse__silence = True
            raise TypeError(f"config must be a MeshConfig, not {config!r}")
        for name, value, size in (("x", x, config.k), ("y", y, config.l),
                                  ("die", die, config.dies)):
            if not is_int(value) or not 0 <= value < size:
                self._MustUse__silence = True
                raise ValueError(f"{name} must be an integer from 0 to {size - 1}, not {value!r}")
        self._config = config
        self._x, self._y, self._die = x, y, die
        self._directions = [d for d in DIRECTIONS if neighbour(config, x, y, d) is not None]
        if config.dies > 1 and config.node(x, y) == config.gateway:
            self._directions.append("d2d")
        layout = flit_layout(config)
        members = {}
        for d in self._directions:
            members[f"{d}_in"] = In(LinkSignature(config))
            members[f"{d}_out"] = Out(LinkSignature(config))
        members["inject"] = In(stream.Signature(layout)).array(config.vcs)
        members["eject"] = Out(stream.Signature(layout)).array(config.vcs)
        super().__init__(members)

    @property
    def config(self):
        """The mesh configuration."""
        return self._config

    @property
    def position(self):
        """The router's ``(x, y)``."""
        return self._x, self._y

    @property
    def die(self):
        """The die the router is on."""
        return self._die

    @property
    def directions(self):
        """The link directions this router has ports for."""
        return list(self._directions)

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        layout = flit_layout(cfg)
        width = cfg.flit_width
        vcs, depth = cfg.vcs, cfg.buffer_depth

        # XY route of a flit, computed as it is written into an input buffer and stored next
        # to it, so the arbiters see registered route bits: to its destination on this die,
        # or to the gateway (then out of the d2d port) when it is addressed to the other die.
        gateway_x, gateway_y = cfg.position(cfg.gateway)
        is_gateway = "d2d" in self._directions
        outputs = ["east", "west", "south", "north", "local"] + (["d2d"] if is_gateway else [])
        entry_layout = data.StructLayout({"flit": width, "route": len(outputs)})

        def route(dest, prefix):
            x, y = self._x, self._y
            same_x = dest.x == x
            # XY towards the destination, for a flit that stays on this die.
            on_die = {
                "east": dest.x > x,
                "west": dest.x < x,
                "south": same_x & (dest.y > y),
                "north": same_x & (dest.y < y),
                "local": same_x & (dest.y == y),
            }
            want = Signal(len(outputs), name=f"{prefix}_route")
            if not cfg.die_width:
                m.d.comb += want.eq(Cat(*[on_die[output] for output in outputs]))
                return want
            # A flit for the other die heads for the gateway, whose position is a constant
            # here: each output's condition is the on-die one or a constant.
            here = Signal(name=f"{prefix}_this_die")
            m.d.comb += here.eq(dest.die == self._die)
            to_gateway = {
                "east": gateway_x > x,
                "west": gateway_x < x,
                "south": gateway_x == x and gateway_y > y,
                "north": gateway_x == x and gateway_y < y,
                "local": False,
            }
            bits = []
            for output in outputs:
                if output == "d2d":
                    bits.append(~here)
                elif to_gateway[output]:
                    bits.append(~here | on_die[output])
                else:
                    bits.append(here & on_die[output])
            m.d.comb += want.eq(Cat(*bits))
            return want

        # Input buffers: (source, vc, queue). Source is a direction or "local".
        inputs = []
        for d in self._directions:
            link = getattr(self, f"{d}_in")
            credit_return = Signal(vcs, name=f"{d}_credit_return")
            m.d.comb += link.credit.eq(credit_return)
            arriving = route(link.flit.dest, f"{d}_in")
            for v in range(vcs):
                queue = FlitQueue(shape=entry_layout, depth=depth)
                m.submodules[f"{d}_vc{v}_buffer"] = queue
                m.d.comb += [
                    queue.w.valid.eq(link.valid & (link.flit.vc == v)),
                    queue.w.payload.flit.eq(link.flit),
                    queue.w.payload.route.eq(arriving),
                ]
                m.d.sync += credit_return[v].eq(queue.r.valid & queue.r.ready)
                inputs.append((d, v, queue))
        for v in range(vcs):
            queue = FlitQueue(shape=entry_layout, depth=depth)
            m.submodules[f"local_vc{v}_buffer"] = queue
            port = self.inject[v]
            flit = layout(queue.w.payload.flit)
            m.d.comb += [
                queue.w.valid.eq(port.valid),
                port.ready.eq(queue.w.ready),
                flit.dest.eq(port.payload.dest),
                flit.src.x.eq(self._x),
                flit.src.y.eq(self._y),
                *([flit.src.die.eq(self._die)] if cfg.die_width else []),
                flit.vc.eq(v),
                flit.payload.eq(port.payload.payload),
                queue.w.payload.route.eq(route(port.payload.dest, f"local_vc{v}_in")),
            ]
            inputs.append(("local", v, queue))

        # The head flit of every buffer wants the output its stored route names.
        routes = []
        for source, v, queue in inputs:
            want = {}
            for bit, output in enumerate(outputs):
                want[output] = Signal(name=f"{source}_vc{v}_to_{output}")
                m.d.comb += want[output].eq(queue.r.valid & queue.r.payload.route[bit])
            routes.append(want)

        def reachable(source, output):
            # XY routing never makes a U-turn and never turns from y back to x. A flit from
            # the d2d port starts a new XY route on this die; a flit enters the d2d port from
            # anywhere but the d2d port.
            if source in ("local", "d2d") or output == "local":
                return True
            if output == source:
                return False
            if source in ("north", "south") and output in ("east", "west"):
                return False
            return True

        pops = [[] for _ in inputs]

        def allocate(name, candidates, may_go):
            """Arbitrate ``candidates`` (input indices) for one output; return grant and flit."""
            output, allowed = may_go
            requests = [routes[index][output] & allowed(inputs[index][1])
                        for index in candidates]
            grants = round_robin(m, requests, name)
            # One-hot AND-OR multiplexer of the head flits.
            combined = 0
            for j, index in enumerate(candidates):
                combined = combined | (inputs[index][2].r.payload.flit
                                       & grants[j].replicate(width))
            flit = Signal(width, name=f"{name}_flit")
            m.d.comb += flit.eq(combined)
            # The VC of the flit sent, from the grant (each buffer holds one VC).
            sent = Signal(vcs, name=f"{name}_sent")
            for v in range(vcs):
                m.d.comb += sent[v].eq(Cat(*[grants[j] for j, index in enumerate(candidates)
                                             if inputs[index][1] == v]).any())
            for j, index in enumerate(candidates):
                pops[index].append(grants[j])
            return sent, layout(flit)

        # Link outputs with credit counters.
        for d in self._directions:
            link = getattr(self, f"{d}_out")
            credits = [Signal(range(depth + 1), name=f"{d}_vc{v}_credits", init=depth)
                       for v in range(vcs)]
            has_credit = Signal(vcs, name=f"{d}_has_credit")
            for v in range(vcs):
                m.d.comb += has_credit[v].eq(credits[v] != 0)
            candidates = [i for i, (source, _v, _q) in enumerate(inputs)
                          if reachable(source, d)]
            sent, flit = allocate(f"{d}_out", candidates,
                                  (d, lambda v, has_credit=has_credit: has_credit[v]))
            m.d.sync += [link.valid.eq(sent.any()), link.flit.eq(flit)]
            for v in range(vcs):
                m.d.sync += credits[v].eq(credits[v] - sent[v] + link.credit[v])

        # Ejection outputs, one per VC, each with its own output register.
        for v in range(vcs):
            port = self.eject[v]
            free = Signal(name=f"eject_vc{v}_free")
            m.d.comb += free.eq(~port.valid | port.ready)
            candidates = [i for i, (_s, vc, _q) in enumerate(inputs) if vc == v]
            sent, flit = allocate(f"eject_vc{v}", candidates,
                                  ("local", lambda _v, free=free: free))
            with m.If(sent.any()):
                m.d.sync += [port.valid.eq(1), port.payload.eq(flit)]
            with m.Elif(port.ready):
                m.d.sync += port.valid.eq(0)

        for index, (_s, _v, queue) in enumerate(inputs):
            m.d.comb += queue.r.ready.eq(Cat(*pops[index]).any())
        return m
