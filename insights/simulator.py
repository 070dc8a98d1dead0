"""A seeded simulator of survey responses and reviews, with known truth and injectable rises.

Why: the demo, the benchmarks and the tests need realistic feedback whose true theme is known, on a simulated
event-time clock (many windows in seconds), with controlled rises ("rude complaints for agent a-07 double from
10:00") and interventions ("team care-east's rude rate halves after coaching on 1 May"). Wording varies through
templates x synonyms x fillers x small style noise, plus the exact short repeats real surveys have ("great",
"N/A", "rude agent"). The wire dicts follow schemas/survey_response.v1.json and schemas/review.v1.json; the
truth travels beside them, never inside.
"""

from __future__ import annotations

import math
import random
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from insights.trends.duration import parse_duration

Kind = Literal["survey", "review"]

JOURNEY_STAGES = ("onboarding", "purchase", "delivery", "billing", "support", "cancellation")
CHANNELS = ("phone", "chat", "email", "app_store", "google_play", "trustpilot")
REVIEW_SOURCES = frozenset({"app_store", "google_play", "trustpilot", "g2", "yelp"})
TEAM_NAMES = ("care-east", "care-west", "tech-support", "billing-desk", "retention", "onboarding-crew")


@dataclass(frozen=True)
class ThemeSpec:
    """A true theme: its label, empathy category, base weight, tone and ways people say it."""

    key: str
    label: str
    empathy: str | None
    weight: float
    tone: Literal["negative", "positive", "neutral"]
    templates: tuple[str, ...]
    shorts: tuple[str, ...] = ()


_AGENT = (
    "the agent", "the rep", "your representative", "the person I spoke to", "the guy on the phone",
    "the lady I talked to", "the support person", "your staff member", "the advisor", "customer service",
    "the woman on the chat", "your employee",
)  # fmt: skip
_SLOTS: dict[str, tuple[str, ...]] = {
    "intens": ("", "", "very ", "so ", "extremely ", "incredibly ", "really ", "super "),
    "rude_adj": ("rude", "snarky", "nasty", "hostile", "arrogant", "condescending", "patronizing", "impolite"),
    "rude_verb": (
        "laughed at me", "snapped at me", "was short with me", "got annoyed with me", "mocked my question",
        "sighed loudly at everything I said",
    ),
    "rude_adv": ("rudely", "disrespectfully", "condescendingly", "aggressively"),
    "times": ("three times", "four times", "over and over", "again and again", "5 times", "twice"),
    "days": ("three days", "a week", "10 days", "two weeks", "5 days", "almost a month"),
    "amount": ("$20", "$45", "€30", "£15", "almost $100", "$12.99"),
    "wait": ("45 minutes", "over an hour", "an hour and a half", "30 mins", "two hours", "20 minutes"),
    "action": ("try to pay", "open my account", "upload a photo", "log in", "check my order"),
    "device": ("iPhone", "Pixel", "Samsung", "iPad", "Android tablet"),
    "screen": ("the home screen", "checkout", "the login page", "my orders"),
    "again": ("again", "once more", "for the third time", ""),
}  # fmt: skip

THEMES: tuple[ThemeSpec, ...] = (
    ThemeSpec("rude", "rude agent", "rude", 0.05, "negative", (
        "{Agent} was {intens}rude to me.",
        "{Agent} was condescending and {rude_adj}.",
        "Got talked down to by {agent}.",
        "{Agent} {rude_verb} when I asked a simple question.",
        "Such an attitude from {agent}, {intens}unprofessional.",
        "I was treated like an idiot by {agent}.",
        "{Agent} was {rude_adj} and sarcastic the whole time.",
        "Never been spoken to so {rude_adv} by a company.",
        "{Agent} raised their voice at me.",
        "Disrespectful and {rude_adj} service from {agent}.",
    ), ("rude agent", "Rude.", "very rude", "rude")),
    ThemeSpec("robotic", "robotic / scripted", "robotic", 0.04, "negative", (
        "{Agent} sounded like they were reading from a script.",
        "Felt like talking to a robot.",
        "Canned responses, {intens}impersonal.",
        "Every answer was a copy-paste template.",
        "{Agent} just kept repeating the same scripted lines.",
        "No human touch at all, it was like a bot.",
        "The replies were generic and clearly copied from a script.",
        "Was I chatting with a real person? Felt automated.",
        "{Agent} followed the script word for word and didn't actually help.",
    ), ("robotic", "scripted answers")),
    ThemeSpec("didnt_listen", "had to repeat myself", "didnt_listen", 0.05, "negative", (
        "I had to repeat myself {times}.",
        "{Agent} didn't listen to a word I said.",
        "Explained my problem {times} and they still got it wrong.",
        "{Agent} kept asking for information I had already given.",
        "They misunderstood my issue completely.",
        "Nobody read my previous messages, had to start all over again.",
        "{Agent} ignored what I was saying and answered a different question.",
        "Felt like {agent} wasn't paying attention at all.",
    ), ("didn't listen", "had to repeat myself")),
    ThemeSpec("dismissive", "dismissive, didn't care", "dismissive", 0.04, "negative", (
        "{Agent} didn't care about my problem.",
        "Got brushed off by {agent}.",
        "{Agent} blamed me for the issue.",
        "Was told 'there is nothing we can do' and that was it.",
        "{Agent} made me feel like my complaint didn't matter.",
        "They just shrugged it off.",
        "Dismissive attitude, {agent} acted like it was my fault.",
        "{Agent} basically told me to deal with it.",
    ), ("they don't care",)),
    ThemeSpec("no_follow_up", "promised follow-up never came", "no_follow_up", 0.04, "negative", (
        "Was promised a call back that never came.",
        "{Agent} said they would email me within 24 hours. Still waiting.",
        "Got passed from department to department, nobody owns the problem.",
        "No follow up at all after {agent} said they'd escalate.",
        "I was transferred {times} and no one took responsibility.",
        "Still no update on my ticket after {days}.",
        "They said someone would get back to me. Nobody did.",
        "Opened a ticket {days} ago, no response since.",
    ), ("no call back",)),
    ThemeSpec("rushed", "rushed / hung up", "rushed", 0.03, "negative", (
        "{Agent} hung up on me.",
        "The call was cut off before my issue was solved.",
        "{Agent} rushed me off the phone.",
        "Felt hurried, {agent} clearly wanted to end the call.",
        "{Agent} kept trying to wrap up before I was done talking.",
        "Very rushed, no time to explain my issue.",
        "{Agent} talked fast and ended the chat abruptly.",
    ), ("hung up on me",)),
    ThemeSpec("billing_error", "billing errors", None, 0.06, "negative", (
        "I was charged twice this month.",
        "My bill is wrong {again}, {amount} extra.",
        "Overcharged on my last invoice.",
        "Billing mistake, you charged me for a plan I cancelled.",
        "There's a fee on my statement I never agreed to.",
        "Got billed {amount} more than the quoted price.",
        "Double charged for the same order.",
        "Invoice doesn't match what I was told on the phone.",
    ), ("overcharged",)),
    ThemeSpec("delivery_late", "late delivery", None, 0.06, "negative", (
        "My order arrived {days} late.",
        "Delivery was late {again}.",
        "Still waiting for my package, it's been {days}.",
        "Tracking said out for delivery for {days}.",
        "The parcel came a week after the promised date.",
        "Missed delivery window, nobody showed up.",
        "Shipping took forever.",
        "Order was supposed to arrive Monday, got it Friday.",
    ), ("late delivery",)),
    ThemeSpec("app_crash", "app crashes", None, 0.04, "negative", (
        "The app keeps crashing when I {action}.",
        "App crashes every time I open it.",
        "Since the last update the app freezes on {screen}.",
        "Crashes constantly on my {device}.",
        "Can't use the app, it force closes after a few seconds.",
        "Bug: app crashes when I {action}.",
        "The app is so buggy, crashed twice while I was paying.",
    ), ("crashes", "app keeps crashing")),
    ThemeSpec("wait_time", "long wait time", None, 0.08, "negative", (
        "Waited {wait} on hold.",
        "{Wait} in the queue before anyone answered.",
        "Hold time was ridiculous, {wait}.",
        "Took forever to get through to someone.",
        "Long wait to reach an agent.",
        "I was on hold for {wait} and then it dropped.",
        "The chat queue said 2 minutes, it was {wait}.",
    ), ("too long", "long wait")),
    ThemeSpec("praise", "great service", None, 0.28, "positive", (
        "{Agent} was {intens}helpful, thank you!",
        "Great service, problem solved in minutes.",
        "{Agent} was friendly and knew exactly what to do.",
        "Quick and easy, thanks.",
        "Excellent support, {intens}patient and kind.",
        "Fantastic experience, {agent} went above and beyond.",
        "Really happy with the help I got.",
        "Super smooth, no complaints.",
        "Loved how fast this was resolved.",
    ), ("great", "Great", "great service", "good", "thanks", "Excellent")),
    ThemeSpec("refund", "refund", None, 0.05, "negative", (
        "Still waiting for my refund.",
        "Refund was promised {days} ago and hasn't arrived.",
        "How long does a refund take? It's been {days}.",
        "I returned the item but never got my money back.",
        "Requested a refund, got store credit instead.",
        "Refund process is way too complicated.",
    ), ("where is my refund",)),
    ThemeSpec("password_reset", "password reset", None, 0.04, "negative", (
        "Couldn't reset my password.",
        "The password reset email never arrives.",
        "Locked out of my account, the reset link doesn't work.",
        "Reset link expired before I could use it.",
        "Password reset keeps failing, had to call support.",
        "Two-factor code never came so I couldn't log in.",
    ), ("password reset broken",)),
    ThemeSpec("other", "other", None, 0.10, "neutral", (
        "It was okay.",
        "Average experience.",
        "Nothing special.",
        "Fine I guess.",
        "Product is decent, price is a bit high.",
        "Would like more payment options.",
        "Store hours should be longer.",
        "The website could be easier to navigate.",
    ), ("N/A", "n/a", "none", "-", "ok", "no comment")),
)  # fmt: skip
THEME_BY_KEY = {t.key: t for t in THEMES}

_OPENERS = {
    "negative": ("", "", "", "Honestly, ", "Well, ", "To be honest, ", "Ugh. ", "I have to say ", "Not gonna lie, "),
    "positive": ("", "", "", "Honestly, ", "Wow, ", "Just want to say ", "I have to say "),
    "neutral": ("", "", "", "Hmm, ", "Well, "),
}
_CLOSERS = {
    "negative": (
        "", "", "", " Never again.", " Very disappointed.", " Please do better.", " Not impressed.",
        " Fix this.", " Will be switching providers.", " Not acceptable.",
    ),
    "positive": ("", "", "", " Thanks!", " Will recommend.", " 10/10.", " Keep it up."),
    "neutral": ("", "", " That's all."),
}  # fmt: skip
_PII = (" Call me back at 555-013-{n:04d}.", " My email is customer{n}@example.com.")
_STAGE_FACTORS = {
    "billing": {"billing_error": 4.0, "refund": 2.0},
    "delivery": {"delivery_late": 5.0},
    "onboarding": {"password_reset": 3.0, "app_crash": 1.5},
    "cancellation": {"refund": 3.0, "dismissive": 1.5, "no_follow_up": 1.5},
    "support": {"wait_time": 1.5},
    "purchase": {"billing_error": 1.5, "app_crash": 1.5},
}
_CHANNEL_FACTORS = {
    "phone": {"wait_time": 2.0, "rushed": 2.0},
    "chat": {"robotic": 2.0},
    "email": {"no_follow_up": 2.0},
    "app_store": {"app_crash": 4.0, "password_reset": 1.5},
    "google_play": {"app_crash": 4.0, "password_reset": 1.5},
    "trustpilot": {"delivery_late": 2.0, "refund": 2.0},
}
_REVIEW_EMPATHY_FACTOR = 0.3
_TITLES = {
    "negative": ("Disappointed", "Terrible experience", "Not happy", "Avoid", "Needs work", None, None),
    "positive": ("Love it", "Great!", "Five stars", "Very helpful", None),
    "neutral": ("OK", "Meh", None),
}


@dataclass(frozen=True)
class Injection:
    """Multiply a theme's rate in the matching slice during ``[start, end)`` (``end=None``: for good).

    The other themes of the matching items shrink so the rates still sum to one: the slice's volume is
    unchanged, its theme rate and count rise ``multiplier`` times (capped at 90%).
    """

    theme: str
    multiplier: float
    start: datetime
    end: datetime | None = None
    dimensions: dict[str, str] = field(default_factory=dict)

    def active(self, moment: datetime, dims: Mapping[str, str | None]) -> bool:
        if moment < self.start or (self.end is not None and moment >= self.end):
            return False
        return all(dims.get(k) == v for k, v in self.dimensions.items())


def Intervention(  # noqa: N802 - reads as a record type at call sites
    theme: str, effect: float, start: datetime, dimensions: dict[str, str]
) -> Injection:
    """An intervention (coaching, a fix) changing a slice's rate from ``start`` on: an open-ended Injection."""
    return Injection(theme=theme, multiplier=effect, start=start, end=None, dimensions=dict(dimensions))


@dataclass(frozen=True)
class SimulatedFeedback:
    """One generated message with its truth, which never goes on the wire."""

    message: dict[str, Any]
    kind: Kind
    truth: str
    is_injected: bool
    event_time: datetime
    also: str | None = None
    """The theme of a second remark tacked on ("... Also, the rep was rude."), if any."""

    @property
    def text(self) -> str:
        return self.message["comment"] if self.kind == "survey" else self.message["body"]

    @property
    def feedback_id(self) -> str:
        return self.message["response_id"] if self.kind == "survey" else self.message["review_id"]

    @property
    def dimensions(self) -> dict[str, str]:
        names = ("agent_id", "team", "journey_stage", "channel")
        return {k: self.message[k] for k in names if self.message.get(k)}

    @property
    def theme_label(self) -> str:
        return THEME_BY_KEY[self.truth].label

    @property
    def empathy_category(self) -> str | None:
        return THEME_BY_KEY[self.truth].empathy

    @property
    def empathy_categories(self) -> frozenset[str]:
        """Every empathy problem the text names: its main theme's and its second remark's, if they are ones."""
        keys = (self.truth, self.also) if self.also else (self.truth,)
        return frozenset(c for c in (THEME_BY_KEY[k].empathy for k in keys) if c)


class FeedbackSimulator:
    """Generates survey responses and reviews in arrival order on a simulated event-time clock."""

    def __init__(
        self,
        seed: int = 0,
        agents: int | Sequence[str] | Mapping[str, str] = 12,
        teams: int | Sequence[str] = 3,
        journey_stages: Sequence[str] = JOURNEY_STAGES,
        channels: Sequence[str] = CHANNELS,
        start: datetime | None = None,
        items_per_window: float = 200.0,
        window: str | timedelta = "1h",
        injections: Sequence[Injection] = (),
        review_share: float = 0.2,
        short_share: float = 0.07,
        pii_share: float = 0.01,
        late_share: float = 0.0,
        max_lateness: str | timedelta = "30m",
        agent_spread: float = 0.15,
        theme_weights: Mapping[str, float] | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.team_of = _agents_and_teams(agents, teams)
        self.agents = list(self.team_of)
        self.journey_stages = list(journey_stages)
        self.survey_channels = [c for c in channels if c not in REVIEW_SOURCES]
        self.review_sources = [c for c in channels if c in REVIEW_SOURCES]
        self.review_share = review_share if self.review_sources else 0.0
        if not self.survey_channels and self.review_share < 1.0:
            self.review_share = 1.0 if self.review_sources else 0.0
        self.clock = (start or datetime(2024, 5, 1, tzinfo=UTC)).astimezone(UTC)
        self.window = parse_duration(window)
        self.mean_gap = self.window.total_seconds() / items_per_window
        self.injections = list(injections)
        self.short_share = short_share
        self.pii_share = pii_share
        self.late_share = late_share
        self.max_lateness = parse_duration(max_lateness).total_seconds()
        self._count = 0
        self._rates: dict[tuple, dict[str, float]] = {}
        unknown = set(theme_weights or {}) - set(THEME_BY_KEY)
        if unknown:
            raise ValueError(f"unknown themes {sorted(unknown)}; known: {sorted(THEME_BY_KEY)}")
        self.weights = {t.key: (theme_weights or {}).get(t.key, t.weight) for t in THEMES}
        # agents differ a little (some are simply warmer than others) and take unequal volumes
        self.agent_empathy = {a: math.exp(self.rng.gauss(0.0, agent_spread)) for a in self.agents}
        self.agent_volume = [math.exp(self.rng.gauss(0.0, 0.3)) for _ in self.agents]

    # -- public -----------------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[SimulatedFeedback]:
        while True:
            yield self.next()

    def generate(self, count: int) -> list[SimulatedFeedback]:
        return [self.next() for _ in range(count)]

    def until(self, end: datetime) -> Iterator[SimulatedFeedback]:
        """Items arriving before ``end`` on the simulated clock."""
        while self.clock + timedelta(seconds=self.mean_gap) < end:
            yield self.next()

    def next(self) -> SimulatedFeedback:
        """The next arrival: the clock moves by an exponential gap (a Poisson process)."""
        rng = self.rng
        self.clock += timedelta(seconds=rng.expovariate(1.0 / self.mean_gap))
        event_time = self.clock
        if self.late_share and rng.random() < self.late_share:
            event_time -= timedelta(seconds=rng.uniform(0.0, self.max_lateness))
        self._count += 1
        kind: Kind = "review" if rng.random() < self.review_share else "survey"
        dims = self._dimensions(kind)
        theme, injected = self._theme(event_time, dims, kind)
        spec = THEME_BY_KEY[theme]
        text, also = self._text(spec)
        build = self._survey if kind == "survey" else self._review
        return SimulatedFeedback(build(spec, text, dims, event_time), kind, theme, injected, event_time, also)

    # -- parts ------------------------------------------------------------------------------------------
    def _dimensions(self, kind: Kind) -> dict[str, str | None]:
        rng = self.rng
        if kind == "survey":
            agent = rng.choices(self.agents, weights=self.agent_volume)[0] if self.agents else None
            return {
                "agent_id": agent,
                "team": self.team_of.get(agent) if agent else None,
                "journey_stage": rng.choice(self.journey_stages) if self.journey_stages else None,
                "channel": rng.choice(self.survey_channels) if self.survey_channels else None,
            }
        stage = rng.choice(self.journey_stages) if self.journey_stages and rng.random() < 0.5 else None
        return {"agent_id": None, "team": None, "journey_stage": stage, "channel": rng.choice(self.review_sources)}

    def theme_rates(self, moment: datetime, dims: Mapping[str, str | None], kind: Kind = "survey") -> dict:
        """The true theme distribution of an item with these dimensions at this moment."""
        active = tuple(i for i, inj in enumerate(self.injections) if inj.active(moment, dims))
        memo = (dims.get("agent_id"), dims.get("journey_stage"), dims.get("channel"), kind, active)
        rates = self._rates.get(memo)
        if rates is None:
            rates = self._rates[memo] = self._compute_rates(dims, kind, active)
        return rates

    def _compute_rates(self, dims: Mapping[str, str | None], kind: Kind, active: tuple[int, ...]) -> dict:
        weights = {}
        stage_f = _STAGE_FACTORS.get(dims.get("journey_stage") or "", {})
        channel_f = _CHANNEL_FACTORS.get(dims.get("channel") or "", {})
        agent = dims.get("agent_id")
        for spec in THEMES:
            w = self.weights[spec.key] * stage_f.get(spec.key, 1.0) * channel_f.get(spec.key, 1.0)
            if spec.empathy:
                w *= self.agent_empathy.get(agent, 1.0) if agent else 1.0
                if kind == "review":
                    w *= _REVIEW_EMPATHY_FACTOR
            weights[spec.key] = w
        total = sum(weights.values())
        rates = {k: w / total for k, w in weights.items()}
        for i in active:
            inj = self.injections[i]
            if inj.theme in rates:
                rates = _scale(rates, inj.theme, inj.multiplier)
        return rates

    def _theme(self, moment: datetime, dims: Mapping[str, str | None], kind: Kind) -> tuple[str, bool]:
        rates = self.theme_rates(moment, dims, kind)
        theme = self.rng.choices(list(rates), weights=list(rates.values()))[0]
        injected = False
        for inj in self.injections:
            if inj.theme == theme and inj.multiplier > 1.0 and inj.active(moment, dims):
                injected = self.rng.random() < 1.0 - 1.0 / inj.multiplier
        return theme, injected

    def _text(self, spec: ThemeSpec) -> tuple[str, str | None]:
        """The message text, and the theme of a second remark when one is tacked on."""
        rng = self.rng
        if spec.shorts and rng.random() < self.short_share:
            return rng.choice(spec.shorts), None
        template = rng.choice(spec.templates)
        body = _fill(template, rng)
        opener = rng.choice(_OPENERS[spec.tone])
        mid_sentence = bool(opener) and not opener.endswith(". ")
        text = opener + _lower_first(body, rng, force=mid_sentence) + rng.choice(_CLOSERS[spec.tone])
        also = None
        if rng.random() < 0.1:  # a second, different complaint or remark tacked on
            other = rng.choice(THEMES)
            if other.key != spec.key and other.tone == spec.tone:
                text += " Also, " + _lower_first(_fill(rng.choice(other.templates), rng), rng, force=True)
                also = other.key
        if rng.random() < self.pii_share:
            text += rng.choice(_PII).format(n=rng.randrange(10000))
        return _style(text, rng), also

    def _survey(self, spec: ThemeSpec, text: str, dims: dict, moment: datetime) -> dict[str, Any]:
        rng = self.rng
        survey_type = rng.choices(("csat", "nps", "ces"), weights=(0.5, 0.35, 0.15))[0]
        return {
            "schema_version": 1,
            "response_id": f"sr-{self._uuid()}",
            "survey_type": survey_type,
            "score": _score(survey_type, spec.tone, rng),
            "comment": text,
            "agent_id": dims["agent_id"],
            "team": dims["team"],
            "journey_stage": dims["journey_stage"],
            "channel": dims["channel"],
            "customer_id": f"c-{rng.randrange(1, 200000):06d}",
            "ticket_id": f"T-{rng.randrange(10**6, 10**7)}" if rng.random() < 0.6 else None,
            "responded_at": _rfc3339(moment),
            "language": "en",
        }

    def _review(self, spec: ThemeSpec, text: str, dims: dict, moment: datetime) -> dict[str, Any]:
        rng = self.rng
        source = dims["channel"]
        return {
            "schema_version": 1,
            "review_id": f"{source}-{self._uuid()}",
            "source": source,
            "rating": _score("csat", spec.tone, rng),
            "title": rng.choice(_TITLES[spec.tone]),
            "body": text,
            "product": rng.choice(("mobile app", "web shop", None)),
            "agent_id": None,
            "team": None,
            "journey_stage": dims["journey_stage"],
            "channel": source,
            "published_at": _rfc3339(moment),
            "language": "en",
        }

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))


def _agents_and_teams(agents: int | Sequence[str] | Mapping[str, str], teams: int | Sequence[str]) -> dict:
    if isinstance(agents, Mapping):
        return dict(agents)
    team_names = (
        [TEAM_NAMES[i] if i < len(TEAM_NAMES) else f"team-{i + 1}" for i in range(teams)]
        if isinstance(teams, int)
        else list(teams)
    )
    names = [f"a-{i + 1:02d}" for i in range(agents)] if isinstance(agents, int) else list(agents)
    if not team_names:
        return dict.fromkeys(names)
    return {name: team_names[i % len(team_names)] for i, name in enumerate(names)}


def _scale(rates: dict[str, float], theme: str, multiplier: float) -> dict[str, float]:
    """Set one theme's rate to ``multiplier`` times (at most 0.9) and shrink the rest proportionally."""
    old = rates[theme]
    new = min(0.9, old * multiplier)
    rest = 1.0 - old
    factor = (1.0 - new) / rest if rest > 0 else 0.0
    return {k: (new if k == theme else v * factor) for k, v in rates.items()}


_SLOT = re.compile(r"\{(\w+)\}")


def _fill(template: str, rng: random.Random) -> str:
    def pick(match: re.Match[str]) -> str:
        name = match.group(1)
        value = rng.choice(_AGENT) if name.lower() == "agent" else rng.choice(_SLOTS[name.lower()])
        return value[:1].upper() + value[1:] if name[0].isupper() else value

    return re.sub(r"\s+([.,])", r"\1", _SLOT.sub(pick, template)).replace("  ", " ").strip()


def _lower_first(text: str, rng: random.Random, force: bool = False) -> str:
    """Lower-case the first letter where it continues a sentence (never 'I' or an acronym)."""
    if force and text[:1].isupper() and text[1:2].islower():
        return text[:1].lower() + text[1:]
    return text


def _style(text: str, rng: random.Random) -> str:
    """The noise of real typing: lower case, no final stop, shouting, one swapped pair of letters."""
    text = text[:1].upper() + text[1:]
    roll = rng.random()
    if roll < 0.12:
        text = text.lower()
    elif roll < 0.15:
        text = text.upper() if len(text) < 60 else text
    if rng.random() < 0.1:
        text = text.rstrip(".!")
    elif rng.random() < 0.05:
        text = text.rstrip(".") + "!!"
    if rng.random() < 0.06:
        words = text.split(" ")
        i = rng.randrange(len(words))
        w = words[i]
        if len(w) > 4:
            j = rng.randrange(1, len(w) - 2)
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
        text = " ".join(words)
    return text


def _score(survey_type: str, tone: str, rng: random.Random) -> int:
    ranges = {
        "csat": {"negative": (1, 2), "neutral": (3, 4), "positive": (4, 5)},
        "nps": {"negative": (0, 6), "neutral": (6, 8), "positive": (9, 10)},
        "ces": {"negative": (1, 3), "neutral": (4, 5), "positive": (6, 7)},
    }
    low, high = ranges[survey_type][tone]
    if rng.random() < 0.08:  # people also mis-click
        return rng.randint(*{"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}[survey_type])
    return rng.randint(low, high)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
