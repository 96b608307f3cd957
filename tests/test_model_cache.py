"""Unit tests of the L2 cache slice golden model, ``verif.models.cache``."""

import numpy as np
import pytest

from verif.models.cache import (
    BruteForceLRU,
    CacheModel,
    CacheModelConfig,
    GaloisLFSR16,
    Op,
    TreePLRU,
    TrueLRU,
)

SMALL = dict(capacity=1024, ways=4, line_bytes=16)  # 16 sets


def make_model(policy="plru", memory_bytes=None, fill_seed=0, **geometry):
    """Build a model over a memory image of random bytes; return it and the image."""
    cfg = CacheModelConfig(policy=policy, **{**SMALL, **geometry})
    memory_bytes = memory_bytes or 8 * cfg.capacity
    memory = np.random.default_rng(fill_seed).integers(0, 256, memory_bytes, dtype=np.uint8)
    return CacheModel(cfg, memory), memory


# -- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(capacity=1024, ways=3, line_bytes=16), "ways must be a power of two, not 3"),
        (dict(capacity=1024, ways=4, line_bytes=48), "line_bytes must be a power of two"),
        (dict(capacity=1000, ways=4, line_bytes=16), "capacity must be a power of two"),
        (dict(capacity=32, ways=1, line_bytes=64), "capacity must be at least"),
        (dict(capacity=128, ways=4, line_bytes=64), "capacity must be at least"),
        (dict(capacity=1024, ways=4, line_bytes=16, seed=0), "seed must be a nonzero"),
        (dict(capacity=1024, ways=4, line_bytes=16, addr_width=7), "addr_width must be"),
    ],
)
def test_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CacheModelConfig(**kwargs)


def test_config_rejects_unknown_policy_naming_the_choices():
    match = r"policy must be one of 'plru', 'lru', 'random', not 'fifo'"
    with pytest.raises(ValueError, match=match):
        CacheModelConfig(capacity=1024, ways=4, line_bytes=16, policy="fifo")


def test_config_rejects_non_integers():
    with pytest.raises(TypeError, match="ways must be an integer"):
        CacheModelConfig(capacity=1024, ways="4", line_bytes=16)
    with pytest.raises(TypeError, match="capacity must be an integer"):
        CacheModelConfig(capacity=True, ways=1, line_bytes=1)


def test_named_configs_and_address_split():
    fpga = CacheModelConfig.named("fpga")
    assert (fpga.sets, fpga.offset_bits, fpga.index_bits, fpga.tag_bits) == (128, 6, 7, 19)
    assert fpga.policy == "plru"
    br100 = CacheModelConfig.named("br100", policy="lru")
    assert (br100.sets, br100.offset_bits, br100.index_bits, br100.tag_bits) == (512, 7, 9, 20)
    assert br100.policy == "lru"
    with pytest.raises(ValueError, match="name must be one of 'fpga'"):
        CacheModelConfig.named("gpu")
    addr = 0x1234_5678
    tag, index, offset = fpga.split(addr)
    assert (tag, index, offset) == (addr >> 13, (addr >> 6) & 127, addr & 63)
    assert fpga.join(tag, index, offset) == addr
    assert fpga.line_addr(addr) == 0x1234_5640


# -- basic behaviour -----------------------------------------------------------------------


def test_cold_miss_then_hit():
    model, memory = make_model()
    data, hit = model.read(0x123, 4)
    assert not hit
    assert np.array_equal(data, memory[0x123:0x127])
    data, hit = model.read(0x120, 16)
    assert hit
    assert np.array_equal(data, memory[0x120:0x130])
    assert model.counters == dict(hits=1, misses=1, evictions=0, writebacks=0)
    line = model.lines(valid_only=True)
    assert list(line) == [(2, 0)]  # line 0x12 of 16 sets: set 2, tag 1
    assert line[(2, 0)].tag == 1 and not line[(2, 0)].dirty


def test_conflict_eviction_writes_back_dirty_line_only_at_eviction():
    model, memory = make_model(capacity=256, ways=1)  # direct mapped, 16 sets of 16 B
    original = memory.copy()
    a, b = 0x40, 0x40 + 256  # same set, different tags
    assert not model.write(a + 2, [1, 2, 3])
    assert np.array_equal(memory, original)  # write-back: memory untouched for now
    result = model.request(Op.READ, b, size=16, req_id=7)
    assert (result.hit, result.evicted, result.req_id) == (False, a, 7)
    [(line_addr, line)] = result.writebacks
    expected = original[a : a + 16].copy()
    expected[2:5] = [1, 2, 3]
    assert line_addr == a and np.array_equal(line, expected)
    assert np.array_equal(memory[a : a + 16], expected)
    assert model.counters == dict(hits=0, misses=2, evictions=1, writebacks=1)
    result = model.request(Op.READ, a, size=16)  # evicts the clean line b: no write-back
    assert (result.hit, result.evicted, result.writebacks) == (False, b, [])
    assert np.array_equal(result.data, expected)
    assert model.counters == dict(hits=0, misses=3, evictions=2, writebacks=1)


def test_byte_enable_merging_with_mask_and_bool_array():
    model, memory = make_model()
    original = memory.copy()
    data = np.arange(100, 108, dtype=np.uint8)
    mask = 0b1010_0101
    enable = np.array([(mask >> i) & 1 for i in range(8)], dtype=bool)
    assert not model.write(0x204, data, mask)  # write-allocate: fill, then merge
    assert not model.write(0x304, data, enable)
    for base in (0x200, 0x300):
        expected = original[base : base + 16].copy()
        expected[4:12][enable] = data[enable]
        assert np.array_equal(model.read(base, 16)[0], expected)
    # a second write merges with the first
    assert model.write(0x200, bytes([9, 9, 9, 9, 9, 9]), 0b110011)
    assert np.array_equal(model.read(0x200, 6)[0], [9, 9, original[0x202], original[0x203], 9, 9])
    assert np.array_equal(memory, original)


def test_write_with_no_byte_enabled_still_allocates_and_dirties():
    model, memory = make_model()
    original = memory.copy()
    assert not model.write(0x40, [1, 2], 0)
    assert model.lines()[(4, 0)].dirty
    model.flush_all()
    assert model.counters == dict(hits=0, misses=1, evictions=0, writebacks=1)
    assert np.array_equal(memory, original)


def test_flush_line_dirty_writes_back_and_keeps_line_valid():
    model, memory = make_model()
    model.write(0x80, [0xAA])
    result = model.request(Op.FLUSH_LINE, 0x8F)
    assert result.hit is None and result.data is None
    assert [addr for addr, _ in result.writebacks] == [0x80]
    assert memory[0x80] == 0xAA
    state = model.lines()[(8, 0)]
    assert state.valid and not state.dirty
    assert model.request(Op.FLUSH_LINE, 0x80).writebacks == []  # now clean
    assert model.read(0x80, 1)[1]  # still present
    assert model.counters == dict(hits=1, misses=1, evictions=0, writebacks=1)


def test_flush_and_invalidate_of_clean_or_absent_lines_touch_no_counter():
    model, memory = make_model()
    original = memory.copy()
    model.read(0x80, 1)
    before = model.counters
    assert model.flush_line(0x80)  # clean: nothing to write
    assert not model.flush_line(0x1000)  # absent
    assert not model.invalidate_line(0x1000)
    assert model.invalidate_line(0x80)
    assert not model.probe(0x80)
    assert model.counters == before
    assert np.array_equal(memory, original)


def test_invalidate_line_drops_dirty_data():
    model, memory = make_model()
    original = memory.copy()
    model.write(0x90, [1, 2, 3, 4])
    result = model.request(Op.INVALIDATE_LINE, 0x90)
    assert (result.hit, result.writebacks) == (None, [])
    assert np.array_equal(memory, original)
    data, hit = model.read(0x90, 4)
    assert not hit
    assert np.array_equal(data, original[0x90:0x94])
    assert model.counters == dict(hits=0, misses=2, evictions=0, writebacks=0)


def test_invalidate_all_drops_every_line():
    model, memory = make_model()
    original = memory.copy()
    for addr in range(0, model.cfg.capacity, 16):  # fills every way, no eviction
        model.write(addr, [addr & 0xFF])
    before = model.counters
    result = model.request(Op.INVALIDATE_ALL)
    assert result.writebacks == []
    assert model.counters == before
    assert not model.lines(valid_only=True)
    assert np.array_equal(memory, original)


def test_flush_all_writes_back_in_set_then_way_order_and_matches_flat_image():
    model, memory = make_model()
    reference = memory.copy()
    rng = np.random.default_rng(1)
    for addr in rng.integers(0, len(memory) - 1, 300):
        value = rng.integers(0, 256, 2, dtype=np.uint8)
        addr = int(addr) & ~1
        model.write(addr, value)
        reference[addr : addr + 2] = value
    assert not np.array_equal(memory, reference)
    assert np.array_equal(model.memory_view(), reference)
    dirty = [
        model.cfg.join(state.tag, index)
        for (index, _), state in model.lines().items()
        if state.valid and state.dirty
    ]
    result = model.request(Op.FLUSH_ALL)
    assert [addr for addr, _ in result.writebacks] == dirty
    assert np.array_equal(memory, reference)
    assert not any(state.dirty for state in model.lines().values())


def test_flush_does_not_touch_replacement_state():
    model, _ = make_model(policy="lru")
    set_stride = model.cfg.sets * model.cfg.line_bytes
    a, b, c, d, e = (k * set_stride for k in range(5))  # all in set 0
    for addr in (a, b, c, d):
        model.read(addr, 1)
    assert model.flush_line(a)
    assert model.request(Op.READ, e, size=1).evicted == a


def test_invalid_ways_are_filled_lowest_first_before_the_policy():
    model, _ = make_model(policy="plru")
    set_stride = model.cfg.sets * model.cfg.line_bytes
    lines = [k * set_stride for k in range(7)]
    assert [model.request(Op.READ, addr, size=1).way for addr in lines[:4]] == [0, 1, 2, 3]
    model.invalidate_line(lines[2])
    model.invalidate_line(lines[1])
    assert [model.request(Op.READ, addr, size=1).way for addr in lines[4:6]] == [1, 2]
    # full again: PLRU after touching 0, 1, 2, 3, 1, 2 points to way 0
    result = model.request(Op.READ, lines[6], size=1)
    assert (result.way, result.evicted) == (0, lines[0])


def test_request_validation_leaves_state_unchanged():
    model, _ = make_model()
    model.read(0, 1)
    before = model.counters
    with pytest.raises(ValueError, match="within one line"):
        model.read(0x0E, 4)
    with pytest.raises(ValueError, match="size must be between"):
        model.read(0, 0)
    with pytest.raises(ValueError, match="addr must be within the memory image"):
        model.read(len(model.memory), 1)
    with pytest.raises(ValueError, match="byte_enable must be a 2-bit mask"):
        model.write(0, [1, 2], 0b100)
    with pytest.raises(ValueError, match="byte_enable must be an integer mask or a bool"):
        model.write(0, [1, 2], [True])
    with pytest.raises(ValueError, match="byte values"):
        model.write(0, [256])
    with pytest.raises(ValueError, match="size must be given for READ"):
        model.request(Op.WRITE, 0, size=1, data=[1])
    with pytest.raises(ValueError, match="data must be given for WRITE"):
        model.request(Op.WRITE, 0)
    with pytest.raises(TypeError, match="op must be an Op"):
        model.request("read", 0, size=1)
    assert model.counters == before


def test_model_rejects_bad_memory():
    cfg = CacheModelConfig(**SMALL)
    with pytest.raises(TypeError, match="uint8"):
        CacheModel(cfg, np.zeros(1024, dtype=np.int32))
    with pytest.raises(ValueError, match="multiple of line_bytes"):
        CacheModel(cfg, np.zeros(1000, dtype=np.uint8))


# -- replacement policies ------------------------------------------------------------------


def test_plru_bits_on_hand_worked_4_way_example():
    plru = TreePLRU(4)
    assert (plru.bits, plru.victim()) == (0b000, 0)
    expected = [(0, 0b011, 2), (2, 0b110, 1), (1, 0b101, 3), (3, 0b000, 0), (0, 0b011, 2)]
    for way, bits, victim in expected:
        plru.touch(way)
        assert (plru.bits, plru.victim()) == (bits, victim)


def test_plru_victim_sequence_in_the_cache():
    model, _ = make_model(policy="plru")
    set_stride = model.cfg.sets * model.cfg.line_bytes
    tag_a, tag_b, tag_c, tag_d, *new = (k * set_stride for k in range(8))
    for addr in (tag_a, tag_b, tag_c, tag_d):
        model.read(addr, 1)
    assert model.replacement(0).bits == 0b000
    assert model.read(tag_a, 1)[1]  # hit on way 0: bits 0b011, victim way 2 (true LRU: way 1)
    results = [model.request(Op.READ, addr, size=1) for addr in new]
    assert [r.way for r in results] == [2, 1, 3, 0]
    assert [r.evicted for r in results] == [tag_c, tag_b, tag_d, tag_a]


@pytest.mark.parametrize("ways", [2, 4, 8, 16])
def test_plru_never_names_the_most_recent_way(ways):
    plru = TreePLRU(ways)
    for way in np.random.default_rng(ways).integers(0, ways, 500):
        plru.touch(int(way))
        assert plru.victim() != way


def test_plru_with_two_ways_is_true_lru():
    plru, lru = TreePLRU(2), TrueLRU(2)
    for way in np.random.default_rng(2).integers(0, 2, 200):
        plru.touch(int(way))
        lru.touch(int(way))
        assert plru.victim() == lru.victim()


def test_lfsr_sequence_and_period():
    lfsr = GaloisLFSR16(1)
    first = [lfsr.step() for _ in range(12)]
    assert first == [
        0xB400, 0x5A00, 0x2D00, 0x1680, 0x0B40, 0x05A0,
        0x02D0, 0x0168, 0x00B4, 0x005A, 0x002D, 0xB416,
    ]  # fmt: skip
    lfsr = GaloisLFSR16(0xACE1)
    states = {lfsr.step() for _ in range(65535)}
    assert len(states) == 65535 and 0 not in states
    assert lfsr.state == 0xACE1
    with pytest.raises(ValueError, match="seed must be a nonzero"):
        GaloisLFSR16(0)


def test_random_victims_are_the_low_bits_of_the_lfsr():
    model, _ = make_model(policy="random", capacity=256, ways=16)  # one set of 16 ways
    for k in range(16):
        model.read(16 * k, 1)
    assert model.lfsr.state == 1  # no step while invalid ways remain
    ways = [model.request(Op.READ, 16 * k, size=1).way for k in range(16, 28)]
    reference = GaloisLFSR16(1)
    assert ways == [reference.step() & 15 for _ in range(12)]


def random_policy_outcomes(seed, trace):
    memory = np.zeros(8 * 1024, dtype=np.uint8)
    model = CacheModel(CacheModelConfig(policy="random", seed=seed, **SMALL), memory)
    return [
        (r.hit, r.way, r.evicted)
        for r in (model.request(Op.READ, int(addr), size=1) for addr in trace)
    ]


def test_random_policy_is_reproducible_from_the_seed():
    trace = np.random.default_rng(4).integers(0, 4 * 1024, 3000)
    first = random_policy_outcomes(0xACE1, trace)
    assert first == random_policy_outcomes(0xACE1, trace)
    assert first != random_policy_outcomes(0x1234, trace)


# -- long traces ---------------------------------------------------------------------------


def hot_set_addresses(cfg, rng, count):
    """Skewed accesses to ways + 3 lines in each of two sets."""
    sets = rng.choice(cfg.sets, size=min(2, cfg.sets), replace=False)
    tags = rng.choice(8 * cfg.ways, size=cfg.ways + 3, replace=False)
    weights = 1 / np.arange(1, len(tags) + 1)
    picks = rng.choice(len(tags), size=count, p=weights / weights.sum())
    return [
        cfg.join(int(tags[p]), int(rng.choice(sets)), int(rng.integers(cfg.line_bytes)))
        for p in picks
    ]


def streaming_addresses(cfg, rng, count):
    """Sweeps over 1.5x the capacity, every 8th access to a small hot region."""
    sweep = range(0, cfg.capacity * 3 // 2, cfg.line_bytes // 2)
    addresses = []
    while len(addresses) < count:
        for k, addr in enumerate(sweep):
            addresses.append(addr)
            if k % 8 == 7:
                addresses.append(int(rng.integers(cfg.capacity // 4)))
    return addresses[:count]


def random_addresses(cfg, rng, count):
    """Uniform accesses over 4x the capacity."""
    return [int(addr) for addr in rng.integers(0, 4 * cfg.capacity, count)]


@pytest.mark.parametrize(
    "geometry",
    [
        dict(capacity=1024, ways=4, line_bytes=16),
        dict(capacity=512, ways=8, line_bytes=64),  # fully associative
        dict(capacity=4096, ways=16, line_bytes=32),
        dict(capacity=256, ways=1, line_bytes=16),
    ],
    ids=["4way", "fullyassoc", "16way", "direct"],
)
@pytest.mark.parametrize("pattern", [hot_set_addresses, streaming_addresses, random_addresses])
def test_lru_matches_brute_force(geometry, pattern):
    model, _ = make_model(policy="lru", **geometry)
    cfg = model.cfg
    reference = BruteForceLRU(cfg.sets, cfg.ways, cfg.line_bytes)
    rng = np.random.default_rng(5)
    addresses = pattern(cfg, rng, 4000)
    ops = rng.choice(4, size=len(addresses), p=[0.6, 0.3, 0.05, 0.05])
    outcomes = []
    for addr, op in zip(addresses, ops, strict=True):
        if op == 0:
            result = model.request(Op.READ, addr, size=1)
        elif op == 1:
            result = model.request(Op.WRITE, addr, data=[op])
        elif op == 2:
            model.invalidate_line(addr)
            reference.invalidate(addr)
            continue
        else:
            model.flush_line(addr)
            continue
        expected = reference.access(addr)
        assert (result.hit, result.evicted) == expected
        outcomes.append(result.hit)
    assert 0 < sum(outcomes) < len(outcomes)
    counters = model.counters
    assert counters["hits"] == sum(outcomes)
    assert counters["misses"] == len(outcomes) - sum(outcomes)


@pytest.mark.parametrize("policy", ["plru", "lru", "random"])
@pytest.mark.parametrize("geometry", [SMALL, dict(capacity=32 * 1024, ways=4, line_bytes=64)])
def test_reads_match_a_flat_reference_memory(policy, geometry):
    model, memory = make_model(policy=policy, memory_bytes=4 * geometry["capacity"], **geometry)
    cfg = model.cfg
    reference = memory.copy()
    rng = np.random.default_rng(6)
    region = 3 * cfg.capacity
    for _ in range(5000):
        op = rng.choice(5, p=[0.45, 0.4, 0.06, 0.06, 0.03])
        addr = int(rng.integers(region))
        size = int(rng.integers(1, cfg.line_bytes - cfg.offset(addr) + 1))
        if op == 0:
            data, _ = model.read(addr, size)
            assert np.array_equal(data, reference[addr : addr + size])
        elif op == 1:
            data = rng.integers(0, 256, size, dtype=np.uint8)
            enable = rng.random(size) < 0.7
            byte_enable = enable if rng.random() < 0.5 else int(enable @ (1 << np.arange(size)))
            model.write(addr, data, byte_enable)
            reference[addr : addr + size][enable] = data[enable]
        elif op == 2:
            model.flush_line(addr)
        elif op == 3:  # clean and invalidate: no data lost
            model.flush_line(addr)
            model.invalidate_line(addr)
        else:
            model.flush_all()
    counters = model.counters
    assert counters["hits"] > 0 and counters["evictions"] > 0 and counters["writebacks"] > 0
    assert np.array_equal(model.memory_view(), reference)
    model.flush_all()
    assert np.array_equal(memory, reference)
