"""Each slice's own history: the baseline a window is tested against, kept small and in the same mapping.

``h|{slice}`` holds ``{"sn": discounted items, "sx": {theme: discounted count}, "st": {theme: discounted items
since the theme's birth}, "d": {theme: [weight,
weighted squared Pearson residuals]}, "nw": windows folded in, "buf": [[win, n, {theme: count}]],
"cool": {theme: [win, severity rank]}, "last": win, "team": team of an agent}``.

The most recent ``guard`` windows wait in ``buf`` before they enter the baseline (a guard band, as in the
CDC's EARS C2/C3 methods): a rise is tested over the last 1..guard+1 windows against a baseline it has not yet
contaminated. The baseline is an exponentially weighted sum (half-life in windows) of counts and of the
denominator, so the EWMA of the *rate* is ``sx/sn``; the whole record is one value of at most a few hundred
numbers per slice.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from typing import Any

from insights.trends.stats import JEFFREYS, BetaRate

MAX_SQUARED_RESIDUAL = 25.0
DISPERSION_PRIOR_WEIGHT = 5.0
MIN_ITEMS_FOR_SPREAD = 20.0
MIN_PRIOR_STRENGTH = 2.0


def new_record() -> dict[str, Any]:
    return {"sn": 0.0, "sx": {}, "st": {}, "d": {}, "nw": 0, "buf": [], "cool": {}, "last": None, "team": None}


class History:
    """Baselines per slice and theme, shrunk along agent -> team -> whole stream.

    How hard a slice is pulled towards its parent is estimated from the data (empirical Bayes, method of
    moments): the spread of the sibling slices' rates around their parents' beyond binomial noise. Journey
    stages that genuinely differ get a weak pull; agents who differ little get a strong one, capped at
    ``prior_strength`` items.
    """

    def __init__(self, state: MutableMapping[str, Any], half_life: float, guard: int, prior_strength: float) -> None:
        self.state = state
        self.decay = 0.5 ** (1.0 / half_life)
        self.guard = guard
        self.prior_strength = prior_strength
        self._cache: dict[str, dict[str, Any]] = {}
        self._baselines: dict[tuple[str, str], BetaRate] = {}
        self._strengths: dict[tuple[str, str], float] = {}
        self._keys: list[str] = []

    def begin(self, keys: list[str]) -> None:
        """Start a window close over these slices: forget memoised values (the mapping may have changed)."""
        self._cache.clear()
        self._baselines.clear()
        self._strengths.clear()
        self._keys = list(keys)

    def record(self, key: str) -> dict[str, Any]:
        if key not in self._cache:
            stored = self.state.get(f"h|{key}")
            self._cache[key] = _copy(stored) if stored else new_record()
        return self._cache[key]

    def parent_of(self, key: str) -> str | None:
        """Agent -> its team, any other dimension -> the whole stream, the whole stream -> none."""
        if key == "":
            return None
        if key.startswith("agent_id="):
            team = self.record(key).get("team")
            if team:
                return f"team={team}"
        return ""

    def baseline(self, key: str, theme: str) -> BetaRate:
        """The slice's rate for a theme as a Beta: own discounted counts over the parent's rate as prior."""
        memo = (key, theme)
        if memo not in self._baselines:
            parent = self.parent_of(key)
            if parent is None:
                prior = JEFFREYS
            else:
                prior = self.baseline(parent, theme).as_prior(self.strength(key.partition("=")[0], theme))
            own = self.record(key)
            trials = own.get("st", {}).get(theme, own["sn"])  # only the windows since the theme existed
            self._baselines[memo] = BetaRate.from_counts(own["sx"].get(theme, 0.0), trials, prior)
        return self._baselines[memo]

    def strength(self, dimension: str, theme: str) -> float:
        """Prior strength for the slices of one dimension: p(1-p)/tau^2 - 1, tau^2 the between-slice
        variance of rates beyond sampling noise (``prior_strength`` when they do not differ)."""
        memo = (dimension, theme)
        if memo not in self._strengths:
            excess, means = [], []
            for key in self._keys:
                if not key.startswith(dimension + "="):
                    continue
                rec = self.record(key)
                if rec["sn"] < MIN_ITEMS_FOR_SPREAD:
                    continue
                parent = self.parent_of(key)
                mean = self.baseline(parent, theme).mean if parent is not None else 0.5
                rate = rec["sx"].get(theme, 0.0) / rec["sn"]
                noise = mean * (1.0 - mean) / (rec["sn"] * (1.0 + self.decay))
                excess.append((rate - mean) ** 2 - noise)
                means.append(mean)
            strength = self.prior_strength
            if len(excess) >= 2:
                tau2 = sum(excess) / len(excess)
                p = sum(means) / len(means)
                if tau2 > 0:
                    strength = min(self.prior_strength, max(MIN_PRIOR_STRENGTH, p * (1.0 - p) / tau2 - 1.0))
            self._strengths[memo] = strength
        return self._strengths[memo]

    def dispersion(self, key: str, theme: str) -> float:
        """Window-to-window over-dispersion (>= 1), shrunk towards 1 (pure binomial noise)."""
        weight, total = self.record(key)["d"].get(theme, (0.0, 0.0))
        return max(1.0, (DISPERSION_PRIOR_WEIGHT + total) / (DISPERSION_PRIOR_WEIGHT + weight))

    def combined(self, key: str, themes: Sequence[str]) -> tuple[BetaRate, float]:
        """The baseline and over-dispersion of a sum of themes: a coarse theme as the sum of its members.

        Each member keeps its own baseline (its birth, its shrinkage towards the parent slice); the rates add up.
        The sum's Beta gets the variance of the members' estimates together (moment matching, as if independent;
        the multinomial's negative covariances would only make it tighter), and the dispersion is the members'
        weighted by their expected counts (exact for independent over-dispersed counts).
        """
        rates = [self.baseline(key, t) for t in themes]
        mean = min(sum(r.mean for r in rates), 1.0 - 1e-6)
        variance = sum(r.mean * (1.0 - r.mean) / (r.strength + 1.0) for r in rates)
        strength = max(mean * (1.0 - mean) / variance - 1.0, MIN_PRIOR_STRENGTH) if variance > 0 else 1e6
        weight = sum(r.mean for r in rates)
        spread = sum(r.mean * self.dispersion(key, t) for r, t in zip(rates, themes, strict=True))
        return BetaRate(mean * strength, (1.0 - mean) * strength), max(1.0, spread / weight if weight > 0 else 1.0)

    def recent(self, key: str, win: int, k: int) -> list[list[Any]]:
        """Buffered windows among the ``k - 1`` before ``win``."""
        return [entry for entry in self.record(key)["buf"] if win - k < entry[0] < win]

    def push(
        self,
        key: str,
        win: int,
        n: int,
        counts: dict[str, int],
        team: str | None,
        births: dict[str, int] | None = None,
    ) -> None:
        """Add a closed window; the oldest buffered window beyond the guard band enters the baseline.

        ``births``: the first window of each theme; a theme's denominator counts only windows from then on.
        """
        rec = self.record(key)
        rec["buf"].append([win, n, dict(counts)])
        rec["last"] = win
        if team:
            rec["team"] = team
        while len(rec["buf"]) > self.guard:
            self._fold(rec, rec["buf"].pop(0), births or {})

    def _fold(self, rec: dict[str, Any], entry: list[Any], births: dict[str, int]) -> None:
        win, n, counts = entry
        lam, sn = self.decay, rec["sn"]
        st = rec.setdefault("st", {})
        since_birth = dict(st)  # the denominators before this window, as the baseline had them
        for theme, born in births.items():
            if born <= win:
                st[theme] = lam * st.get(theme, 0.0) + n
        sx, disp = rec["sx"], rec["d"]
        for theme in set(sx) | set(counts):
            if win < births.get(theme, win):
                continue  # before its birth (or the window it was born in part-way): no part of its baseline
            x = counts.get(theme, 0)
            # a theme's rate is over the windows since it was born, as in baseline (none yet: no rate to test against)
            trials = since_birth.get(theme, 0.0 if theme in births else sn)
            rate = sx.get(theme, 0.0) / trials if trials > 0 else 0.0
            expected = n * rate
            if expected >= 1.0 and trials >= 5 * n and rate < 1.0:
                # squared Pearson residual, corrected for the noise of the estimated rate itself
                r2 = (x - expected) ** 2 / (expected * (1.0 - rate) * (1.0 + n / trials))
                weight, total = disp.get(theme, (0.0, 0.0))
                disp[theme] = [lam * weight + 1.0, lam * total + min(r2, MAX_SQUARED_RESIDUAL)]
            value = lam * sx.get(theme, 0.0) + x
            if value < 1e-3:
                sx.pop(theme, None)
                disp.pop(theme, None)
            else:
                sx[theme] = value
        rec["sn"] = lam * sn + n
        rec["nw"] += 1

    def merge_theme(self, absorbed: str, survivor: str) -> None:
        """Fold ``absorbed``'s history into ``survivor``'s in every slice: one theme now, with one baseline."""
        self._cache.clear()
        self._baselines.clear()
        for key in [k for k in list(self.state.keys()) if k.startswith("h|")]:
            rec = _copy(self.state[key])
            st = rec["st"]
            touched = absorbed in rec["sx"] or absorbed in st or any(absorbed in c for _, _, c in rec["buf"])
            if not touched:
                continue
            if absorbed in rec["sx"]:
                rec["sx"][survivor] = rec["sx"].get(survivor, 0.0) + rec["sx"].pop(absorbed)
            known = [v for v in (st.pop(absorbed, None), st.get(survivor)) if v is not None]
            if known:
                st[survivor] = max(known)  # items since the older of the two births
            if absorbed in rec["d"]:
                rec["d"].setdefault(survivor, rec["d"].pop(absorbed))
            for _, _, counts in rec["buf"]:
                if absorbed in counts:
                    counts[survivor] = counts.get(survivor, 0) + counts.pop(absorbed)
            rec["cool"].pop(absorbed, None)
            self.state[key] = rec

    def cooldown(self, key: str, theme: str) -> tuple[int, int] | None:
        entry = self.record(key)["cool"].get(theme)
        return (entry[0], entry[1]) if entry else None

    def set_cooldown(self, key: str, theme: str, win: int, rank: int, cooldown_windows: int) -> None:
        cool = self.record(key)["cool"]
        cool[theme] = [win, rank]
        for other in [t for t, (w, _) in cool.items() if win - w > cooldown_windows]:
            del cool[other]

    def save(self, keys: list[str] | None = None) -> None:
        """Write the touched records back (one assignment each, so a changelog sees it)."""
        for key in keys if keys is not None else list(self._cache):
            self.state[f"h|{key}"] = self._cache[key]

    def expire(self, oldest_kept: int) -> int:
        """Drop the history of slices not seen since window ``oldest_kept``: bounded state."""
        dead = [
            k for k in list(self.state.keys()) if k.startswith("h|") and (self.state[k].get("last") or 0) < oldest_kept
        ]
        for key in dead:
            del self.state[key]
            self._cache.pop(key[2:], None)
        return len(dead)


def _copy(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "sn": record["sn"],
        "sx": dict(record["sx"]),
        "st": dict(record.get("st") or {}),
        "d": {k: list(v) for k, v in record["d"].items()},
        "nw": record.get("nw", 0),
        "buf": [[w, n, dict(c)] for w, n, c in record["buf"]],
        "cool": {k: list(v) for k, v in record["cool"].items()},
        "last": record["last"],
        "team": record.get("team"),
    }
