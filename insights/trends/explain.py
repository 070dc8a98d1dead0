"""One plain sentence per alert: what rose, where, by how much, against what."""

from __future__ import annotations

_DIMENSION_WORDS = {
    "agent_id": "for agent {}",
    "team": "in team {}",
    "journey_stage": "at the {} stage",
    "channel": "on channel {}",
}


def where(dimensions: dict[str, str]) -> str:
    if not dimensions:
        return "across all feedback"
    parts = [
        _DIMENSION_WORDS.get(name, name.replace("_", " ") + " {}").format(value)
        for name, value in sorted(dimensions.items())
    ]
    return " and ".join(parts)


def explain(
    label: str,
    dimensions: dict[str, str],
    observed: int,
    denominator: int,
    windows: int,
    window_length: str,
    window_end: str,
    expected: float,
    baseline_rate: float,
    p_value: float,
) -> str:
    span = f"{window_length} window" if windows == 1 else f"{windows} windows of {window_length}"
    ratio = observed / expected if expected > 0 else float("inf")
    return (
        f"'{label}' rose to {observed} of {denominator} feedback items ({observed / denominator:.1%}) "
        f"{where(dimensions)} in the {span} ending {window_end}, {ratio:.1f}x the {expected:.1f} expected "
        f"from its baseline rate of {baseline_rate:.1%} (p = {p_value:.2g})."
    )
