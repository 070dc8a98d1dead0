"""Counts of the open windows, kept in an injected ``MutableMapping[str, Any]``.

The mapping is flat, its keys short strings and its values small JSON-able dicts/lists, so a faust Table with a
changelog topic can back it (tests use a dict). Every change is written back with ``state[key] = value``
(faust only records assignments). Layout:

- ``m``                 meta: watermark, open windows, late-event count
- ``i|{win}``           the slices seen in window ``win``
- ``w|{win}|{slice}``   ``{"n": items, "t": {theme: count}, "q": {theme: [[feedback_id, quote]]}, "team": ...,
                        "s": {theme: [sum, n]} of its first-hand members' satisfaction in this window and slice}``
- ``f|{win}|{id}``      ``[theme_id, empathy_category, revision]``: what was counted for a feedback id (dedup/moves)
- ``t|{theme}``         ``[label, the theme's own empathy_category]``, latest seen
- ``b``                 ``{theme: first whole window it was live in}``: a theme's baseline starts there
- ``s|{theme}``         ``[sum, n]`` of its members' satisfaction (0-100), recent items weighted more
- ``r``                 ``{merged theme: the theme that absorbed it}``: late assignments to it count there
- ``p``                 ``{theme: its coarse theme}``, latest seen (``t|{coarse}`` holds the coarse label)

A window's keys are deleted when it closes, so the state holds only the open windows (bounded by grace).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from insights.trends.model import EMPATHY_THEME_ID, Observation, category_theme_id
from insights.trends.windows import WindowClock

TOTAL = "__all__"
MAX_QUOTES = 3
MAX_QUOTE_CHARS = 300
META = "m"
BIRTHS = "b"
REDIRECTS = "r"
PARENTS = "p"
MAX_REDIRECTS = 10_000  # merged ids remembered (workers stop assigning to one within seconds of its merge)
MAX_PARENTS = 10_000  # themes whose coarse theme is remembered; a theme dropped is added again when next seen
SATISFACTION_MEMORY = 2000  # scored items per theme after which the sums are halved (recent ones count more)
# Keys a write-behind state must send first, so that a flush cut short by a crash never recovers a count
# without what guards it: the meta (a closed window stays closed: items read again are late, not recounted),
# then the per-item dedup keys (an item whose count survived is known as counted). A cut therefore loses counts
# at worst (at-least-once input, at-most-once counting); it never counts an item twice.
FLUSH_FIRST = (META, "f|")


def slice_key(name: str, value: str) -> str:
    return f"{name}={value}"


def slice_dimensions(key: str) -> dict[str, str]:
    """``"agent_id=a-07"`` -> ``{"agent_id": "a-07"}``; the whole stream ``""`` -> ``{}``."""
    if not key:
        return {}
    name, _, value = key.partition("=")
    return {name: value}


def slices_of(dimensions: dict[str, str]) -> list[str]:
    """The slices one item counts in: the whole stream and one per set dimension."""
    keys = [""]
    keys.extend(slice_key(k, str(v)) for k, v in sorted(dimensions.items()) if v not in (None, ""))
    return keys


class WindowCounts:
    """Counts per open window x slice x theme with the slice's item count as denominator."""

    def __init__(self, state: MutableMapping[str, Any], clock: WindowClock) -> None:
        self.state = state
        self.clock = clock
        self._indexed: dict[int, set[str]] = {}  # cache of ``i|{win}``; the mapping stays the truth

    # -- meta -------------------------------------------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        return dict(self.state.get(META) or {"wm": None, "open": [], "late": 0, "closed": None})

    def watermark(self) -> float | None:
        return self.meta()["wm"]

    def raise_watermark(self, epoch_seconds: float) -> float:
        meta = self.meta()
        if meta["wm"] is None or epoch_seconds > meta["wm"]:
            meta["wm"] = epoch_seconds
            self.state[META] = meta
        return meta["wm"]

    def open_windows(self) -> list[int]:
        return sorted(self.meta()["open"])

    def late_events(self) -> int:
        return int(self.meta()["late"])

    def births(self) -> dict[str, int]:
        """The first whole window each theme (and the empathy aggregate) was live in.

        A theme discovered today has no history before it existed: its baseline must not read the windows
        before its birth as zeros, or every new theme would look like a sudden rise.
        """
        return dict(self.state.get(BIRTHS) or {})

    def redirects(self) -> dict[str, str]:
        """Merged theme -> the theme it is counted as (the newest ``MAX_REDIRECTS`` merges)."""
        return dict(self.state.get(REDIRECTS) or {})

    def groups(self) -> dict[str, list[str]]:
        """Coarse theme -> its themes, as the latest assignments group them (a regrouping shows at once)."""
        found: dict[str, list[str]] = {}
        for theme, coarse in sorted((self.state.get(PARENTS) or {}).items()):
            found.setdefault(coarse, []).append(theme)
        return found

    def theme_info(self, theme_id: str) -> tuple[str | None, str | None]:
        info = self.state.get(f"t|{theme_id}")
        return (info[0], info[1]) if info else (None, None)

    def satisfaction(self, theme_id: str) -> tuple[float, float] | None:
        """The mean satisfaction (0-100) of a theme's scored first-hand members, and their (decayed) number."""
        kept = self.state.get(f"s|{theme_id}")
        return (kept[0] / kept[1], kept[1]) if kept and kept[1] > 0 else None

    # -- counting ---------------------------------------------------------------------------------------
    def add(self, obs: Observation) -> set[tuple[int, str, str]]:
        """Count (or move) one assignment; returns the (window, slice, theme) cells it changed.

        A late event (its window already closed) changes nothing and is counted in the meta as late.
        """
        win = self.clock.index(obs.event_time)
        meta = self.state.get(META) or self.meta()
        closed = meta["closed"]
        if (closed is not None and win <= closed) or self.clock.is_closed(win, meta["wm"]):
            self.state[META] = {**meta, "late": meta["late"] + 1}
            return set()
        theme = obs.theme_id or None
        if theme:
            theme = (self.state.get(REDIRECTS) or {}).get(theme, theme)
        category = obs.empathy_category if theme else None
        if obs.revision == 0:
            # A first-hand assignment proves the theme was live in this window, but it may have been born
            # half-way through it: its baseline starts with the next window. (Re-assignments of earlier
            # outliers fill windows from before the theme existed and prove nothing.)
            if theme:
                self._remember_birth(theme, win + 1)
            if category:
                self._remember_birth(EMPATHY_THEME_ID, win + 1)
                self._remember_birth(category_theme_id(category), win + 1)
        fkey = f"f|{win}|{obs.feedback_id}"
        before = self.state.get(fkey)
        if theme and (before is None or obs.revision >= before[2]):  # an out-of-date one may carry a stale label
            self._remember_theme(theme, obs.theme_label, obs.theme_empathy_category)
            if obs.coarse_theme_id:
                self._remember_parent(theme, obs.coarse_theme_id, obs.coarse_theme_label)
        scored = None  # this item's satisfaction, for its theme's window in each slice (first-hand, first count)
        if before is not None:
            old_theme, old_category, old_revision = before
            old_category = old_category if isinstance(old_category, str) else None
            if obs.revision < old_revision or (old_theme == theme and old_category == category):
                return set()
            delta = {TOTAL: 0}
        else:
            old_theme, old_category = None, None
            delta = {TOTAL: 1}
            if theme and obs.revision == 0 and obs.satisfaction is not None:
                self._remember_satisfaction(theme, obs.satisfaction)
                scored = obs.satisfaction
        # Each item counts in its theme, in the empathy aggregate, and in its own empathy category whatever
        # theme it landed in ("rude" complaints spread over several themes are still one trend).
        for key, step in ((old_theme, -1), (theme, 1)):
            if key:
                delta[key] = delta.get(key, 0) + step
        for cat, step in ((old_category, -1), (category, 1)):
            if cat:
                delta[EMPATHY_THEME_ID] = delta.get(EMPATHY_THEME_ID, 0) + step
                delta[category_theme_id(cat)] = delta.get(category_theme_id(cat), 0) + step
        delta = {k: v for k, v in delta.items() if v}
        self.state[fkey] = [theme, category, obs.revision]
        if win not in meta["open"]:
            meta = {**meta, "open": sorted([*meta["open"], win])}
            self.state[META] = meta
        changed: set[tuple[int, str, str]] = set()
        slices = slices_of(obs.dimensions)
        self._index(win, slices)
        team = obs.dimensions.get("team") or None
        quote = " ".join(obs.text.split())[:MAX_QUOTE_CHARS]
        for key in slices:
            self._apply(win, key, delta, obs.feedback_id, quote, team if key.startswith("agent_id=") else None,
                        (theme, scored) if scored is not None and theme else None)
            changed.update((win, key, theme_id) for theme_id in delta)
        return changed

    def merge_theme(self, absorbed: str, survivor: str) -> set[tuple[int, str, str]]:
        """Count ``absorbed`` as ``survivor`` from now on, its items in the open windows included; returns the
        (window, slice, theme) cells changed. Idempotent: a merge read again finds nothing left to move."""
        redirects = {a: (survivor if s == absorbed else s) for a, s in (self.state.get(REDIRECTS) or {}).items()}
        redirects.pop(absorbed, None)
        redirects[absorbed] = survivor  # chains end at the survivor; the newest merges are kept
        self.state[REDIRECTS] = dict(list(redirects.items())[-MAX_REDIRECTS:])
        changed: set[tuple[int, str, str]] = set()
        for key in [k for k in list(self.state.keys()) if k.startswith(("w|", "f|"))]:
            record = self.state.get(key)
            if key.startswith("f|"):  # what was counted for one feedback id: [theme_id, category, revision]
                if record and record[0] == absorbed:
                    self.state[key] = [survivor, *record[1:]]
                continue
            if not record or absorbed not in record["t"]:
                continue
            record["t"][survivor] = record["t"].get(survivor, 0) + record["t"].pop(absorbed)
            moved = record["q"].pop(absorbed, [])
            kept = record["q"].get(survivor, [])
            record["q"][survivor] = (kept + [q for q in moved if all(q[1] != k[1] for k in kept)])[:MAX_QUOTES]
            scores = record.get("s") or {}
            if absorbed in scores:
                mine = scores.get(survivor) or [0.0, 0]
                scores[survivor] = [a + b for a, b in zip(mine, scores.pop(absorbed), strict=True)]
            self.state[key] = record
            _, win, slice_ = key.split("|", 2)
            changed |= {(int(win), slice_, absorbed), (int(win), slice_, survivor)}
        births = self.births()
        if absorbed in births:
            born = births.pop(absorbed)
            births[survivor] = min(born, births.get(survivor, born))  # one theme, as old as the older half
            self.state[BIRTHS] = births
        parents = self.state.get(PARENTS) or {}
        if absorbed in parents:
            self.state[PARENTS] = {t: c for t, c in parents.items() if t != absorbed}
        mine, theirs = self.state.get(f"s|{survivor}"), self.state.get(f"s|{absorbed}")
        if theirs:
            self.state[f"s|{survivor}"] = [a + b for a, b in zip(mine or (0.0, 0.0), theirs, strict=True)]
            del self.state[f"s|{absorbed}"]
        return changed

    def _remember_theme(self, theme: str, label: str | None, empathy: str | None) -> None:
        key = f"t|{theme}"
        if self.state.get(key) != [label, empathy]:
            self.state[key] = [label, empathy]

    def _remember_parent(self, theme: str, coarse: str, label: str | None) -> None:
        parents = self.state.get(PARENTS) or {}
        if parents.get(theme) != coarse:
            kept = [(t, c) for t, c in parents.items() if t != theme][-(MAX_PARENTS - 1):]
            self.state[PARENTS] = dict([*kept, (theme, coarse)])
        if label:
            self._remember_theme(coarse, label, None)

    def _remember_satisfaction(self, theme: str, value: float) -> None:
        key = f"s|{theme}"
        total, n = self.state.get(key) or (0.0, 0.0)
        total, n = total + value, n + 1
        if n >= SATISFACTION_MEMORY:
            total, n = total / 2, n / 2
        self.state[key] = [total, n]

    def _remember_birth(self, theme: str, win: int) -> None:
        births = self.state.get(BIRTHS) or {}
        if theme not in births or win < births[theme]:
            self.state[BIRTHS] = {**births, theme: win}

    def _index(self, win: int, slices: list[str]) -> None:
        known = self._indexed.get(win)
        if known is None or not known.issuperset(slices):
            key = f"i|{win}"
            stored = list(self.state.get(key) or [])
            missing = [s for s in slices if s not in stored]
            if missing:
                self.state[key] = stored + missing
            self._indexed[win] = set(stored) | set(missing)

    def _apply(self, win: int, key: str, delta: dict[str, int], feedback_id: str, quote: str, team: str | None,
               scored: tuple[str, float] | None = None) -> None:
        wkey = f"w|{win}|{key}"
        record = self.state.get(wkey)
        if record is None:
            record = {"n": 0, "t": {}, "q": {}, "team": None}
        counts, quotes = record["t"], record["q"]
        record["n"] += delta.get(TOTAL, 0)
        for theme_id, change in delta.items():
            if theme_id == TOTAL:
                continue
            value = counts.get(theme_id, 0) + change
            if value > 0:
                counts[theme_id] = value
            else:
                counts.pop(theme_id, None)
            kept = quotes.get(theme_id)
            if change < 0 and kept:
                kept = [q for q in kept if q[0] != feedback_id]
                if kept:
                    quotes[theme_id] = kept
                else:
                    del quotes[theme_id]
            elif change > 0 and quote and (kept is None or len(kept) < MAX_QUOTES):
                if kept is None:
                    quotes[theme_id] = [[feedback_id, quote]]
                elif all(q[1] != quote for q in kept):
                    kept.append([feedback_id, quote])
        if team:
            record["team"] = team
        if scored is not None:
            kept = record.setdefault("s", {}).get(scored[0]) or [0.0, 0]
            record["s"][scored[0]] = [kept[0] + scored[1], kept[1] + 1]
        self.state[wkey] = record  # an assignment, so a changelog-backed table records the change

    # -- closing ----------------------------------------------------------------------------------------
    def closable(self, watermark: float | None) -> list[int]:
        return [w for w in self.open_windows() if self.clock.is_closed(w, watermark)]

    def records(self, win: int) -> dict[str, dict[str, Any]]:
        """The slices of one window with their counts (read-only view for tests and the store).

        A slice in the index without its record is skipped: a crash in the middle of writing a batch's state
        to the changelog can recover one without the other, and the batch read again recounts it.
        """
        found = ((key, self.state.get(f"w|{win}|{key}")) for key in self.state.get(f"i|{win}") or [])
        return {key: record for key, record in found if record is not None}

    def take(self, win: int) -> dict[str, dict[str, Any]]:
        """Remove a window from the state and return its slice records (to test and fold into history)."""
        records = self.records(win)
        prefix = f"f|{win}|"
        for key in [k for k in list(self.state.keys()) if k.startswith(prefix)]:
            del self.state[key]
        for key in records:
            del self.state[f"w|{win}|{key}"]
        self.state.pop(f"i|{win}", None)
        self._indexed.pop(win, None)
        meta = self.meta()
        meta["open"] = [w for w in meta["open"] if w != win]
        meta["closed"] = win if meta["closed"] is None else max(meta["closed"], win)
        self.state[META] = meta
        return records
