"""Anytime-valid confidence sequences for outcome rates, agreement and their differences.

`staticml watch` runs from cron and looks at the same growing counts again and again; a fixed-n
test (a Wilson interval, a z-test) looked at every 30 minutes finds a "difference" or "no
difference" by chance far more often than its level says. A confidence sequence holds at
every sample size at once: the chance that it ever misses the true value, however often and
for however long it is looked at, is at most `alpha`.

- One rate (a release's share of right feedback, a shadow's agreement): Robbins' beta-binomial
  mixture martingale, exact for Bernoulli data at every n (Robbins, "Statistical methods related
  to the law of the iterated logarithm", Ann. Math. Stat. 1970; Howard, Ramdas, McAuliffe,
  Sekhon, "Time-uniform, nonparametric, nonasymptotic confidence sequences", Ann. Stat. 2021,
  on conjugate mixtures). The prior is uniform, Beta(1, 1).
- A difference of two rates: a normal-mixture boundary on the difference of the two means
  with its plug-in variance V, i.e. the asymptotic confidence sequences of Waudby-Smith, Arbour,
  Sinha, Kennedy, Ramdas, "Time-uniform central limit theory and asymptotic confidence
  sequences", Ann. Stat. 2024, in information time as in the always-valid mSPRT of Johari,
  Pekelis, Walsh, "Always valid inference", Oper. Res. 2022. Two-sided (Gaussian mixture):
  estimate ± sqrt(V (V + τ²) / τ² · (2 log(1/alpha) + log((V + τ²) / V))); one-sided (half-normal
  mixture, Howard et al. 2021), used for decisions that need only one bound, such as "not
  worse than stable by more than the margin".

scipy has no confidence sequences; it supplies the beta function and the root finding.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from scipy.optimize import brentq
from scipy.special import betaln, log_ndtr

ALPHA = 0.05
DEFAULT_MARGIN = 0.03  # the margin the difference boundary is tuned for when none is given
MAX_PROJECTED = 10_000_000  # "outcomes needed" past this many is reported as out of reach


@dataclass(frozen=True)
class Estimate:
    """A point estimate and its confidence sequence at the current sample size."""

    value: float
    low: float
    high: float

    def to_json(self) -> dict[str, float]:
        return {"value": self.value, "low": self.low, "high": self.high}


def rate_sequence(successes: float, n: float, alpha: float = ALPHA) -> Estimate | None:
    """The beta-binomial mixture confidence sequence for a Bernoulli rate; None when n is 0."""
    if n <= 0:
        return None
    s = min(max(successes, 0.0), n)
    p = s / n
    threshold = math.log(1 / alpha)
    marginal = betaln(s + 1, n - s + 1)  # the Beta(1, 1) prior's normaliser B(1, 1) is 1

    def excess(q: float) -> float:
        return marginal - s * math.log(q) - (n - s) * math.log1p(-q) - threshold

    tiny = 1e-12
    centre = min(max(p, 2 * tiny), 1 - 2 * tiny)
    low = 0.0 if s == 0 or excess(tiny) < 0 else brentq(excess, tiny, centre)
    high = 1.0 if s == n or excess(1 - tiny) < 0 else brentq(excess, centre, 1 - tiny)
    return Estimate(p, float(low), float(high))


def mixture_scale(margin: float, alpha: float = ALPHA) -> float:
    """The mixture's τ² that makes the two-sided boundary tightest where it is `margin` wide
    (the one-sided boundary, about the two-sided one at 2 alpha, is then nearly tightest too).

    For a target variance V*, τ² = c·V* with c = 2 log(1/alpha) + log(1 + 2 log(1/alpha)) minimises the
    half-width at V* (the tuning Waudby-Smith et al. 2024 give for a target sample size); V* is the variance at which that
    smallest half-width equals `margin`, the sample size at which a decision becomes possible.
    """
    c = 2 * math.log(1 / alpha) + math.log(1 + 2 * math.log(1 / alpha))
    target = margin**2 / ((1 + c) / c * (2 * math.log(1 / alpha) + math.log(1 + c)))
    return c * target


def mixture_half_width(variance: float, tau2: float, alpha: float = ALPHA) -> float:
    """Half-width of the normal-mixture confidence sequence at the estimate's variance."""
    if variance <= 0:
        return 0.0
    ratio = (variance + tau2) / variance
    return math.sqrt(
        variance * ratio * variance / tau2 * (2 * math.log(1 / alpha) + math.log(ratio))
    )


def one_sided_half_width(variance: float, tau2: float, alpha: float = ALPHA) -> float:
    """Distance from the estimate to a one-sided normal-mixture bound that holds at every look
    with probability at least 1 - alpha: the mixture over a half-normal prior on the drift,
    2 sqrt(V / (V + τ²)) exp(τ² x² / (2 V (V + τ²))) Φ(τ x / sqrt(V (V + τ²))) = 1 / alpha
    (Howard et al. 2021, the one-sided normal mixture), solved for x."""
    if variance <= 0:
        return 0.0
    spread = variance * (variance + tau2)
    goal = math.log(1 / alpha)

    def excess(x: float) -> float:
        log_mixture = (
            math.log(2)
            + 0.5 * math.log(variance / (variance + tau2))
            + tau2 * x * x / (2 * spread)
            + float(log_ndtr(math.sqrt(tau2) * x / math.sqrt(spread)))
        )
        return log_mixture - goal

    return float(brentq(excess, 0.0, mixture_half_width(variance, tau2, alpha / 2)))


def difference_sequence(
    s1: float, n1: float, s2: float, n2: float, tau2: float, alpha: float = ALPHA
) -> Estimate | None:
    """Confidence sequences for rate 1 - rate 2: `low` is a lower bound and `high` an upper
    bound, each holding at every look with probability 1 - alpha (together, 1 - 2 alpha).
    None until both have outcomes.

    The variance is the plug-in p(1-p)/n of each arm with p shrunk by half a count, so an arm
    with all right (or all wrong) outcomes does not claim zero variance.
    """
    if n1 <= 0 or n2 <= 0:
        return None
    difference = s1 / n1 - s2 / n2
    half = one_sided_half_width(_variance(s1, n1) + _variance(s2, n2), tau2, alpha)
    return Estimate(difference, difference - half, difference + half)


def _variance(successes: float, n: float) -> float:
    p = (successes + 0.5) / (n + 1)
    return p * (1 - p) / n


def needed(
    n: int, at: Callable[[float], Estimate | None], decided: Callable[[Estimate], bool]
) -> int | None:
    """How many more outcomes than `n` the current rates would need to be decided: `at(k)` is
    the estimate with every count scaled by k. 0 when decided now; None when never, or when
    there is nothing to project from."""
    if _decided(at(1.0), decided):
        return 0
    if n <= 0:
        return None  # no rates yet to project
    high = 2.0
    while not _decided(at(high), decided):
        high *= 2
        if n * high > MAX_PROJECTED:
            return None
    low = high / 2
    while n * (high - low) > 1:
        middle = (low + high) / 2
        low, high = (low, middle) if _decided(at(middle), decided) else (middle, high)
    return max(1, math.ceil(n * high) - n)


def _decided(estimate: Estimate | None, decided: Callable[[Estimate], bool]) -> bool:
    return estimate is not None and decided(estimate)
