"""Configuration of the die-to-die link layer."""

from dataclasses import dataclass

from ...checks import is_int as _is_int
from ...checks import is_positive_number

__all__ = ["D2DConfig", "d2d_config"]


@dataclass(frozen=True, kw_only=True)
class D2DConfig:
    """Parameters of one die-to-die link module (one link-layer instance per die).

    The flit is ``2 + payload_bytes + 2`` bytes: a 2-byte header, the payload and a CRC-16
    (see ``docs/d2d.md``). Each direction of a module moves ``lanes * lane_bits`` bits per
    cycle (one *beat*); a flit takes ``beats_per_flit`` beats.

    Parameters
    ----------
    payload_bytes : int
        Flit payload, a power of two from 4 to 128.
    lanes : int
        Data lanes per direction, at least 1.
    lane_bits : int
        Bits each lane carries per cycle, at least 1. ``lanes * lane_bits`` must divide the
        flit size in bits.
    replay_depth : int
        Flits the transmit replay buffer holds, 1 to 31 (the 5-bit acknowledgement of a DATA
        flit decodes uniquely for at most 31 outstanding flits).
    rx_credits : int
        Receive buffer depth per virtual channel in flits, 2 to 15 (the 4-bit credit limit).
    replay_timeout : int
        Cycles without acknowledgement progress, while flits are outstanding, before the
        sender replays; at least 8.
    retrain_errors : int
        Consecutive bad flits (CRC or format) that make the link retrain, 2 to 255.
    train_flits : int
        Consecutive good training flits the receiver needs to lock, 1 to 15.
    modules : int
        Link modules side by side between the two dies (a chip-level figure for the bandwidth;
        each module is one instance of :class:`hdl.link.d2d.D2DLink`).
    clock_hz : float
        Clock the bandwidth figures are quoted at, a positive finite number.
    """

    payload_bytes: int = 8
    lanes: int = 4
    lane_bits: int = 8
    replay_depth: int = 16
    rx_credits: int = 8
    replay_timeout: int = 64
    retrain_errors: int = 8
    train_flits: int = 4
    modules: int = 1
    clock_hz: float = 100e6

    def __post_init__(self):
        p = self.payload_bytes
        if not _is_int(p) or not 4 <= p <= 128 or p & (p - 1):
            raise ValueError(
                f"payload_bytes must be a power of two from 4 to 128, not {p!r}")
        if not _is_int(self.lanes) or self.lanes < 1:
            raise ValueError(f"lanes must be a positive integer, not {self.lanes!r}")
        if not _is_int(self.lane_bits) or self.lane_bits < 1:
            raise ValueError(f"lane_bits must be a positive integer, not {self.lane_bits!r}")
        if self.flit_bits % (self.lanes * self.lane_bits):
            raise ValueError(
                f"lanes * lane_bits must divide the flit size of {self.flit_bits} bits, "
                f"not {self.lanes} * {self.lane_bits} = {self.lanes * self.lane_bits}")
        if not _is_int(self.replay_depth) or not 1 <= self.replay_depth <= 31:
            raise ValueError(f"replay_depth must be from 1 to 31, not {self.replay_depth!r}")
        if not _is_int(self.rx_credits) or not 2 <= self.rx_credits <= 15:
            raise ValueError(f"rx_credits must be from 2 to 15, not {self.rx_credits!r}")
        if not _is_int(self.replay_timeout) or not 8 <= self.replay_timeout < 2**16:
            raise ValueError(
                f"replay_timeout must be from 8 to 65535 cycles, not {self.replay_timeout!r}")
        if not _is_int(self.retrain_errors) or not 2 <= self.retrain_errors <= 255:
            raise ValueError(
                f"retrain_errors must be from 2 to 255, not {self.retrain_errors!r}")
        if not _is_int(self.train_flits) or not 1 <= self.train_flits <= 15:
            raise ValueError(f"train_flits must be from 1 to 15, not {self.train_flits!r}")
        if not _is_int(self.modules) or self.modules < 1:
            raise ValueError(f"modules must be a positive integer, not {self.modules!r}")
        if not is_positive_number(self.clock_hz):
            raise ValueError(
                f"clock_hz must be a positive finite number, not {self.clock_hz!r}")

    # Presets ------------------------------------------------------------------------------
    @classmethod
    def fpga(cls):
        """Return the small-flit link of the ``fpga`` configuration (12 B flit, 3 beats)."""
        return cls()

    @classmethod
    def br100(cls):
        """Return one module of the BR100 link: 68 B flit, 34 lanes x 16 bits, one flit/cycle.

        Seven modules carry 7 x 64 B = 448 B of payload per cycle each way: 896 GB/s
        bidirectional at 1 GHz (raw lane rate 7 x 68 B x 2 = 952 GB/s; lanes at 16 Gb/s).
        """
        return cls(payload_bytes=64, lanes=34, lane_bits=16, replay_depth=31, rx_credits=15,
                   replay_timeout=64, modules=7, clock_hz=1e9)

    @classmethod
    def preset(cls, name):
        """Return the link of the named chip configuration (``br104`` uses the BR100 module)."""
        presets = {"fpga": cls.fpga, "br104": cls.br100, "br100": cls.br100}
        try:
            return presets[name]()
        except (KeyError, TypeError):
            raise ValueError(
                f"config must be one of {', '.join(presets)}, not {name!r}") from None

    # Sizes --------------------------------------------------------------------------------
    header_bytes = 2
    crc_bytes = 2

    @property
    def flit_bytes(self):
        """Bytes of a flit: header, payload and CRC."""
        return self.header_bytes + self.payload_bytes + self.crc_bytes

    @property
    def flit_bits(self):
        """Bits of a flit."""
        return 8 * self.flit_bytes

    @property
    def beat_bits(self):
        """Bits one direction moves per cycle: ``lanes * lane_bits``."""
        return self.lanes * self.lane_bits

    @property
    def beats_per_flit(self):
        """Cycles one flit occupies the lanes."""
        return self.flit_bits // self.beat_bits

    # Derived figures ----------------------------------------------------------------------
    @property
    def payload_efficiency(self):
        """Payload share of a flit: the goodput of an error-free, fully loaded link."""
        return self.payload_bytes / self.flit_bytes

    @property
    def raw_bytes_per_second(self):
        """Raw lane bandwidth, both directions, all modules."""
        return 2 * self.modules * self.beat_bits / 8 * self.clock_hz

    @property
    def payload_bytes_per_second(self):
        """Payload bandwidth of an error-free, fully loaded link, both directions, all modules."""
        return self.raw_bytes_per_second * self.payload_efficiency

    def peak_figures(self):
        """Return the link's figures as a plain dictionary."""
        return {
            "flit_bytes": self.flit_bytes,
            "payload_bytes": self.payload_bytes,
            "lanes": self.lanes,
            "lane_bits_per_cycle": self.lane_bits,
            "beats_per_flit": self.beats_per_flit,
            "modules": self.modules,
            "clock_hz": self.clock_hz,
            "raw_gbytes_per_s_bidirectional": self.raw_bytes_per_second / 1e9,
            "payload_gbytes_per_s_bidirectional": self.payload_bytes_per_second / 1e9,
            "payload_efficiency": self.payload_efficiency,
        }


def d2d_config(name="fpga"):
    """Return the :class:`D2DConfig` of the named chip configuration."""
    return D2DConfig.preset(name)
