"""The statistics of a trend test: a beta-binomial upper tail, rate shrinkage and severity.

Why beta-binomial: the baseline rate of a slice is itself an estimate (from a few windows of history, or from
the team's rate for a new agent), so the test must carry that uncertainty; a plain binomial against a point
estimate raises false alarms on thin baselines. Over-dispersion (real rates wobble from window to window more
than binomial noise) is folded in by lowering the beta's concentration until the variance matches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SEVERITIES = ("low", "medium", "high", "critical")


def _log_pmf(k: int, n: int, a: float, b: float) -> float:
    return (
        math.lgamma(n + 1)
        - math.lgamma(k + 1)
        - math.lgamma(n - k + 1)
        + math.lgamma(k + a)
        + math.lgamma(n - k + b)
        - math.lgamma(n + a + b)
        - math.lgamma(a)
        - math.lgamma(b)
        + math.lgamma(a + b)
    )


def betabinom_sf(x: int, n: int, a: float, b: float) -> float:
    """P(X >= x) for X ~ BetaBinomial(n, a, b), exact, in pure Python (fast for the few tails we need).

    Sums whichever side of the mean is shorter, walking the pmf with its term ratio.
    """
    if x <= 0:
        return 1.0
    if x > n:
        return 0.0
    mean = n * a / (a + b)
    if x > mean:  # upper tail, terms decrease from x upwards
        term = math.exp(_log_pmf(x, n, a, b))
        total = term
        k = x
        while k < n:
            term *= (n - k) * (k + a) / ((k + 1) * (n - k - 1 + b))
            k += 1
            total += term
            if term < total * 1e-15:
                break
        return min(1.0, total)
    k = x - 1  # lower tail P(X <= x-1), terms decrease from x-1 downwards
    term = math.exp(_log_pmf(k, n, a, b))
    total = term
    while k > 0:
        term *= k * (n - k + b) / ((n - k + 1) * (k - 1 + a))
        k -= 1
        total += term
        if term < total * 1e-15:
            break
    return max(0.0, 1.0 - total)


@dataclass(frozen=True, slots=True)
class BetaRate:
    """A rate known as Beta(a, b): its mean is the baseline rate, a + b how many items back it up."""

    a: float
    b: float

    @property
    def mean(self) -> float:
        return self.a / (self.a + self.b)

    @property
    def strength(self) -> float:
        return self.a + self.b

    @classmethod
    def from_counts(cls, successes: float, trials: float, prior: BetaRate) -> BetaRate:
        """Posterior of (discounted) counts over a prior: the empirical-Bayes shrinkage step."""
        return cls(prior.a + successes, prior.b + max(trials - successes, 0.0))

    def as_prior(self, max_strength: float) -> BetaRate:
        """This rate as a prior for a child slice, trusted for at most ``max_strength`` items."""
        strength = min(self.strength, max_strength)
        mean = self.mean
        return BetaRate(mean * strength, (1.0 - mean) * strength)


JEFFREYS = BetaRate(0.5, 0.5)


def shrunk_rate(successes: float, trials: float, parent_rate: float, strength: float) -> float:
    """(x + m p) / (n + m): a rate pulled towards the parent's, the more so the fewer items back it."""
    return (successes + strength * parent_rate) / (trials + strength)


@dataclass(frozen=True, slots=True)
class TailTest:
    """Result of testing ``observed`` of ``trials`` against a baseline."""

    observed: int
    trials: int
    expected: float
    z: float
    p_value: float


def tail_test(observed: int, trials: int, rate: BetaRate, dispersion: float = 1.0) -> TailTest:
    """One-sided test of observed >= expected under BetaBinomial(trials, rate), variance inflated by
    ``dispersion`` (>= 1, the window-to-window over-dispersion of this slice).
    """
    p = min(max(rate.mean, 1e-9), 1.0 - 1e-9)
    expected = trials * p
    s = rate.strength
    if trials > 1 and dispersion > 1.0:
        # choose s' with 1 + (N-1)/(s'+1) = dispersion + (N-1)/(s+1): same mean, variance times dispersion
        s = max((trials - 1) / (dispersion - 1.0 + (trials - 1) / (s + 1.0)) - 1.0, 1e-3)
    a, b = p * s, (1.0 - p) * s
    variance = trials * p * (1.0 - p) * (1.0 + (trials - 1) / (s + 1.0))
    z = (observed - expected) / math.sqrt(variance) if variance > 0 else 0.0
    p_value = betabinom_sf(observed, trials, a, b) if z > 1.5 else _screened(z)
    return TailTest(observed, trials, expected, z, p_value)


def _screened(z: float) -> float:
    """A cheap, deliberately generous tail for observations no rise could be made of (z <= 1.5)."""
    return 1.0 if z <= 0 else max(0.5 * math.erfc(z / math.sqrt(2.0)), 0.05)


def severity(ratio: float, observed: int) -> str:
    """How loud the alert is: by how many times the rate rose, with 'critical' kept for tripled-and-real."""
    if ratio >= 3.0 and observed >= 10:
        return "critical"
    if ratio >= 2.0:
        return "high"
    if ratio >= 1.5:
        return "medium"
    return "low"


def severity_rank(name: str) -> int:
    return SEVERITIES.index(name)
