"""Scoreboards: compare what the design produced against what the golden model predicted."""

import collections

import numpy as np

__all__ = ["Scoreboard", "ScoreboardError"]


class ScoreboardError(AssertionError):
    """The design produced something the model did not predict."""


def _equal(expected, actual):
    if isinstance(expected, np.ndarray) or isinstance(actual, np.ndarray):
        expected, actual = np.asarray(expected), np.asarray(actual)
        return expected.shape == actual.shape and bool(np.array_equal(expected, actual))
    return expected == actual


class Scoreboard:
    """An in-order scoreboard, optionally keyed by a transaction ID.

    Expected items are queued with :meth:`expect`; every item the design produces goes to
    :meth:`check`, which compares it with the oldest expectation (of its ID, when IDs are
    given). Order is enforced per ID, so a design may interleave different IDs. :meth:`finish`
    fails if anything expected never arrived.

    Parameters
    ----------
    name : str
        Used in error messages.
    """

    def __init__(self, name):
        self.name = name
        self._expected = collections.defaultdict(collections.deque)
        self.matched = 0

    def expect(self, item, *, key=None):
        """Queue an expected item."""
        self._expected[key].append(item)

    def check(self, actual, *, key=None, where=""):
        """Compare ``actual`` with the oldest expected item of ``key``."""
        queue = self._expected[key]
        if not queue:
            raise ScoreboardError(
                f"{self.name}: unexpected item{' ' + where if where else ''}"
                f"{'' if key is None else f' for id {key!r}'}: {actual!r}")
        expected = queue.popleft()
        if not _equal(expected, actual):
            raise ScoreboardError(
                f"{self.name}: mismatch at item {self.matched}{' ' + where if where else ''}"
                f"{'' if key is None else f' (id {key!r})'}\n"
                f"  expected: {expected!r}\n  actual:   {actual!r}")
        self.matched += 1

    @property
    def outstanding(self):
        """Number of expected items not yet seen."""
        return sum(len(q) for q in self._expected.values())

    def finish(self):
        """Fail if an expected item never arrived; return the number matched."""
        if self.outstanding:
            missing = {k: list(q)[:3] for k, q in self._expected.items() if q}
            raise ScoreboardError(
                f"{self.name}: {self.outstanding} expected items never arrived "
                f"(first: {missing!r})")
        return self.matched
