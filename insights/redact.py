"""PII redaction: e-mail addresses, phone numbers, card numbers, IBANs and street addresses.

Feedback is stored, published and quoted in alerts, so personal data is replaced by a placeholder
(``[EMAIL]``, ``[PHONE]``, ``[CARD]``, ``[IBAN]``, ``[ADDRESS]``) before any of that happens. The rest of the
text is kept as it is, so theme discovery still sees the complaint.

Precision matters as much as recall: order numbers, prices, dates, versions and ratings are the vocabulary of
feedback, and redacting them would blur themes. Hence checksums where a format has one (Luhn for cards,
mod-97 for IBANs), separator rules for phone numbers, and capitalised names plus a street word for
addresses. Detection runs on the original text; overlaps are resolved by a fixed priority
(email > IBAN > card > phone > address), so one span is never redacted twice.

Everything is regular expressions compiled once at import; a text without a digit or an ``@`` skips almost
all of them, because the pipeline calls :func:`redact` on every message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

__all__ = ["KINDS", "RedactingLogFilter", "RedactionResult", "Redactor", "Span", "redact"]

KINDS: tuple[str, ...] = ("email", "iban", "card", "phone", "address")
"""Kinds in priority order: when two detections overlap, the earlier kind wins."""

PLACEHOLDERS: dict[str, str] = {kind: f"[{kind.upper()}]" for kind in KINDS}

_PRIORITY = {kind: i for i, kind in enumerate(KINDS)}


@dataclass(frozen=True, slots=True)
class Span:
    """One detection in the original text: ``text[start:end]`` is personal data of ``kind``."""

    start: int
    end: int
    kind: str


@dataclass(slots=True)
class RedactionResult:
    """The redacted text and how many spans of each kind were replaced (for metrics and audit)."""

    text: str
    counts: dict[str, int] = field(default_factory=dict)
    spans: list[Span] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------- e-mail
_EMAIL = re.compile(
    r"(?<![\w.%+-])[\w.%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}\b"
)
_TLDS = (
    "com|net|org|edu|gov|info|biz|io|co|me|app|dev|eu|uk|de|fr|es|it|nl|be|ch|at|se|no|dk|fi|pl|pt|ie|"
    "us|ca|au|nz|in|jp|br|mx|ru|cz|gr|hu|ro"
)
_AT = r"(?:\s*[\[({<]\s*at\s*[\])}>]\s*|\s+at\s+)"
_DOT = r"(?:\s*[\[({<]\s*dot\s*[\])}>]\s*|\s+dot\s+|\.)"
# "jane dot doe at example dot com", "jane[at]example[dot]co[dot]uk", "jane (at) example.com".
_OBFUSCATED_EMAIL = re.compile(
    rf"(?i)(?<![\w.+-])(?P<local>[a-z0-9_%+-]+(?:{_DOT}[a-z0-9_%+-]+){{0,3}})(?P<at>{_AT})"
    rf"[a-z0-9-]+(?:{_DOT}[a-z0-9-]+){{0,3}}{_DOT}(?:{_TLDS})\b"
)
_OBFUSCATION_HINT = re.compile(r"(?i)\bdot\b|[\[({<]\s*at\s*[\])}>]")
# With a plain " at " the local part is usually an English word ("available at shop dot com").
# fmt: off
_NOT_A_LOCAL_PART = frozenset((
    "me", "us", "him", "her", "them", "it", "you", "i", "we", "they", "is", "was", "are", "were", "be",
    "been", "only", "here", "there", "this", "that", "available", "bought", "ordered", "shopped",
    "purchased", "sold", "found", "look", "looked", "arrived", "buy", "order", "shop", "listed", "priced",
    "sell", "selling", "booked", "book", "cheaper", "cheap", "site", "website", "online", "store", "deal",
    "deals", "price", "prices", "offer", "offers", "sale", "stock", "now", "delivered", "shipped", "and",
    "or", "but", "also", "even", "just", "still",
))
# fmt: on


def _find_emails(text: str) -> Iterator[tuple[int, int]]:
    if "@" in text:
        for m in _EMAIL.finditer(text):
            yield m.span()
    if _OBFUSCATION_HINT.search(text):
        for m in _OBFUSCATED_EMAIL.finditer(text):
            plain_at = m.group("at").strip() == "at"
            if plain_at and m.group("local").lower() in _NOT_A_LOCAL_PART:
                continue
            if plain_at and "dot" not in m.group(0).lower():
                continue  # "shopped at amazon.com" is a shop, not an address
            yield m.span()


# ---------------------------------------------------------------------------------------------- IBAN
_IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
    "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip
# Greedy on purpose (it may run into the next word); the country's length trims it back.
_IBAN = re.compile(r"(?i)\b[a-z]{2}[0-9]{2}(?:[ -]?[a-z0-9]){11,30}")


def iban_ok(compact: str) -> bool:
    """ISO 13616 check: the country's length and ``mod 97 == 1`` after moving the first four characters."""
    compact = compact.upper()
    if _IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact.isalnum():
        return False
    digits = "".join(str(int(c, 36)) for c in compact[4:] + compact[:4])
    return int(digits) % 97 == 1


def _find_ibans(text: str) -> Iterator[tuple[int, int]]:
    for m in _IBAN.finditer(text):
        length = _IBAN_LENGTHS.get(m.group(0)[:2].upper())
        if length is None:
            continue
        seen, end = 0, m.start()
        for end in range(m.start(), m.end()):  # noqa: B007 - the loop variable is the result
            if text[end].isalnum():
                seen += 1
                if seen == length:
                    break
        end += 1
        if seen != length or (end < len(text) and text[end].isalnum()):
            continue
        if iban_ok(re.sub(r"[ -]", "", text[m.start() : end])):
            yield m.start(), end


# ---------------------------------------------------------------------------------------------- cards
# A run of 13+ digits with single spaces or dashes; "#" before it marks an order or ticket number.
_DIGIT_RUN = re.compile(r"(?<![\w#.,+/-])(?<![0-9][ -])[0-9](?:[ -]?[0-9]){12,}(?![\w]|[.,][0-9])")
_MAX_CARD_TAIL = 4  # digits after the card in the same run: an expiry ("12 25") or a CVV, nothing longer
_RUN_GROUP = re.compile(r"[0-9]+")
# "DE89 " or "GB38 GAGU " just before a digit run: the rest of an IBAN whose checksum failed (a typo),
# which is neither a card nor a phone number.
_IBAN_HEAD = re.compile(r"(?i)\b[a-z]{2}[0-9]{2}(?:[ -]?[a-z0-9]{4}){0,2}[ -]?$")


def _after_iban_head(text: str, start: int) -> bool:
    return _IBAN_HEAD.search(text, max(0, start - 16), start) is not None


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum every payment card number carries; random digit strings fail it 9 times in 10."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = ord(ch) - 48
        if i & 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _card_ok(digits: str) -> bool:
    # Issuer ranges start with 2 (Mastercard 2-series) to 6 (Discover, UnionPay, Maestro).
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_ok(digits)


def _find_cards(text: str) -> Iterator[tuple[int, int]]:
    for m in _DIGIT_RUN.finditer(text):
        run = m.group(0)
        total = sum(c.isdigit() for c in run)
        if total > 19 + _MAX_CARD_TAIL or _after_iban_head(text, m.start()):
            continue  # a tracking number, or the tail of an IBAN with a typo
        # The whole run, else its longest leading groups (a card followed by its expiry or CVV).
        groups = list(_RUN_GROUP.finditer(run))
        digits = "".join(g.group(0) for g in groups)
        for last in range(len(groups), 0, -1):
            end = groups[last - 1].end()
            kept = len(digits) - sum(len(g.group(0)) for g in groups[last:])
            if kept < 13 or total - kept > _MAX_CARD_TAIL:
                break
            if _card_ok(digits[:kept]):
                yield m.start(), m.start() + end
                break


# ---------------------------------------------------------------------------------------------- phones
_SEP = r"[ .\-/]"
_NOT_AFTER = r"(?<![0-9][ .\-])"  # a phone number does not start in the middle of a longer digit run
_PHONE_PATTERNS: tuple[tuple[re.Pattern[str], int, int], ...] = (
    # +44 20 7946 0958, +44 (0)20 7946 0958, +14155552671, +1 (555) 123-4567
    (
        re.compile(
            rf"(?<![\w+]){_NOT_AFTER}\+[0-9]{{1,3}}(?:[ .\-]?\([0-9]{{1,4}}\))?(?:{_SEP}?[0-9]){{6,}}"
            r"(?![\w]|[.,][0-9])"
        ),
        8,
        16,
    ),
    # 0049 30 1234567, 0033 6 12 34 56 78
    (re.compile(rf"(?<![\w+#/.:-]){_NOT_AFTER}00[1-9](?:{_SEP}?[0-9]){{7,}}(?![\w]|[.,:/-][0-9])"), 10, 15),
    # (555) 123-4567, 555.123.4567, 555-123-4567, 1-800-555-0199
    (
        re.compile(
            rf"(?<![\w+#/.:-]){_NOT_AFTER}(?:1[ .\-])?(?:\([0-9]{{3}}\)[ .\-]?|[0-9]{{3}}[ .\-])[0-9]{{3}}[ .\-]"
            r"[0-9]{4}(?![\w]|[.,:/-][0-9])"
        ),
        10,
        11,
    ),
    # National with a trunk 0: 020 7946 0958, 06 12 34 56 78, 030/1234567, 07700 900123
    (re.compile(rf"(?<![\w+#/.:,-]){_NOT_AFTER}0[0-9]{{1,4}}(?:{_SEP}?[0-9]){{6,}}(?![\w]|[.,:/-][0-9])"), 9, 12),
)
_MAX_PHONE_RUN = 15  # E.164's limit; a longer digit run is a card, an IBAN tail or a tracking number
# "Ticket 00123 4567 8", "order no. 0612345678": the sentence says what the number is.
_ID_BEFORE = re.compile(
    r"(?i)\b(?:order|ticket|serial|invoice|ref|reference|tracking|case|sku|item|model|part|account)"
    r"[ ]*(?:no\.?|nr\.?|number|id)?[ ]*[:#]?[ ]*$"
)
# Ten or eleven bare digits only count as a phone number when the sentence says so.
_PHONE_CONTEXT = re.compile(
    r"(?i)\b(?:call|called|phone|tel|telephone|mobile|cell|whatsapp|sms|text me|fax|ring me|reach me)\b"
    r"(?P<gap>[^0-9\n]{0,25}?)(?<![\w#+])(?P<num>[0-9]{10,11})(?![\w]|[.,][0-9])"
)
_NOT_PHONE_GAP = re.compile(r"(?i)order|ticket|case|ref|invoice|tracking|account|#|id\b|no\.")
_SEPARATORS = re.compile(r"[ .\-/]")


def _phone_length(s: str, low: int, high: int) -> int:
    """Length of the longest head of ``s``, cut at a separator, that reads as one phone number; 0 if none.

    Cutting lets "call 020 7946 0958 10 times" keep its "10".
    """
    if sum(c.isdigit() for c in s) - s.count("(0)") > _MAX_PHONE_RUN:
        return 0
    loose = s[0] == "+" or "(" in s
    for cut in [len(s), *(m.start() for m in reversed(list(_SEPARATORS.finditer(s))))]:
        head = s[:cut]
        n = sum(c.isdigit() for c in head)
        if n < low:
            return 0
        if n > high or not head[-1].isdigit():
            continue
        seps = _SEPARATORS.findall(head)
        # One kind of separator ("06 12 34 56 78"), or a slash after the area code ("030/123 4567");
        # mixing is how dates and times look ("05/05/2024 14").
        if loose or len(set(seps[1:] if seps[:1] == ["/"] else seps)) <= 1:
            return cut
    return 0


def _find_phones(text: str) -> Iterator[tuple[int, int]]:
    for pattern, low, high in _PHONE_PATTERNS:
        for m in pattern.finditer(text):
            length = _phone_length(m.group(0), low, high)
            if (
                length
                and not _ID_BEFORE.search(text, max(0, m.start() - 24), m.start())
                and not _after_iban_head(text, m.start())
            ):
                yield m.start(), m.start() + length
    for m in _PHONE_CONTEXT.finditer(text):
        if not _NOT_PHONE_GAP.search(m.group("gap")):
            yield m.span("num")


# ---------------------------------------------------------------------------------------------- addresses
_EN_STREET = (
    r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Way|Terrace|Crescent|"
    r"Close|Square|Sq|Parkway|Pkwy|Highway|Hwy|Circle|Cir|Trail|Mews|Gardens|Loop|Alley"
)
_EN_ADDRESS = re.compile(
    r"\b[0-9]{1,5}[A-Za-z]?(?P<names>(?:[ ]+(?:[A-Z][a-z]+\.?|[0-9]{1,3}(?:st|nd|rd|th))){1,4})"
    rf"[ ]+(?:{_EN_STREET}|{_EN_STREET.lower()})\b\.?"
    r"(?:[ ]+(?:NW|NE|SW|SE|N|S|E|W)\b)?"
    r"(?:,?[ ]+(?:Apt|Apartment|Suite|Ste|Unit|Flat)\.?[ ]*#?[0-9]+[A-Za-z]?\b)?"
    # ", Springfield, IL 62704" or ", London NW1 6XE"
    r"(?:,[ ]*[A-Z][a-z]+(?:[ ][A-Z][a-z]+)?,?[ ]+(?:[A-Z]{2}[ ]+[0-9]{5}(?:-[0-9]{4})?"
    r"|[A-Z]{1,2}[0-9][A-Z0-9]?[ ][0-9][A-Z]{2})\b)?"
)
# Title-case review titles ("Waited 45 Minutes On The Road") look like addresses but for these words.
# fmt: off
_NOT_A_STREET_NAME = frozenset((
    "on", "the", "in", "at", "of", "for", "and", "to", "my", "our", "a", "an", "by", "with", "from", "out",
    "down", "up", "off", "over", "into", "your", "their", "this", "that", "minutes", "hours", "days",
    "weeks", "months", "years", "times", "stars", "items", "people", "euros", "dollars", "pounds",
    "percent", "more", "less", "than", "just", "only", "very", "too", "bad", "good", "great", "best", "worst",
    "top", "new", "old", "big", "small", "free", "open", "fast", "hour", "day", "week", "month", "year",
    "minute", "second", "star", "item", "email", "chat", "phone", "app", "web", "website", "support", "sorry",
))
# fmt: on
_DE_SUFFIX = r"straße|strasse|str\.|weg|allee|platz|gasse|damm|ufer|steig|pfad|straat|laan|gracht|plein"
_DE_ADDRESS = re.compile(
    r"\b(?:[A-ZÄÖÜ][a-zäöüß]+(?:-[A-ZÄÖÜ]?[a-zäöüß]+){0,2}(?:" + _DE_SUFFIX + r")"
    r"|[A-ZÄÖÜ][a-zäöüß]+[ -](?:Straße|Strasse|Str\.|Weg|Allee|Platz|Gasse|Damm|Ufer))"
    r"[ ]*[0-9]{1,3}[a-zA-Z]?\b(?:,?[ ]+[0-9]{4,5}[ ]+[A-ZÄÖÜ][a-zäöüß]+(?:[ -][A-ZÄÖÜ][a-zäöüß]+)?)?"
)
_FR_ADDRESS = re.compile(
    r"\b[0-9]{1,4}(?:[ ]?(?:bis|ter)\b)?,?[ ]+"
    r"(?:(?i:rue|avenue|boulevard|bd|all[ée]e|impasse|chemin|quai)[ ]+"
    r"(?:(?:de[ ]la|de|du|des|la|le|les)[ ]+|[dl]')?"
    r"|(?i:place|route|cours)[ ]+(?:(?:de[ ]la|de|du|des)[ ]+|[dl]'))"
    r"[A-ZÉÈÀÂÎ][\w'-]*(?:[ ]+(?:(?:de|du|des|la|le)[ ]+)?[A-ZÉÈÀÂÎ][\w'-]*){0,4}"
    r"(?:,?[ ]+[0-9]{5}[ ]+[A-ZÉÈÀÂ][\w-]+)?"
)

# "Via Roma 10", "Calle Mayor 5", "Rua Augusta 27", "Am Markt 3", "An der Alster 12"
_NAME_FIRST_ADDRESS = re.compile(
    r"\b(?:Via|Viale|Piazza|Corso|Calle|Avenida|Plaza|Carrer|Rua|Largo|Am|An[ ]der|Im|Auf[ ]der|In[ ]der)"
    r"(?P<names>(?:[ ]+(?:(?:del|della|de|di|da|do|dos|das|la|el)[ ]+)?[A-ZÄÖÜÉ][\w'-]+){1,3}),?[ ]+"
    r"[0-9]{1,4}[a-zA-Z]?\b(?![.,:/][0-9])"
)


def _find_addresses(text: str) -> Iterator[tuple[int, int]]:
    for pattern in (_EN_ADDRESS, _NAME_FIRST_ADDRESS):
        for m in pattern.finditer(text):
            words = m.group("names").lower().replace(".", " ").split()
            if not any(w in _NOT_A_STREET_NAME for w in words):
                yield m.span()
    for pattern in (_DE_ADDRESS, _FR_ADDRESS):
        for m in pattern.finditer(text):
            yield m.span()


# ---------------------------------------------------------------------------------------------- redactor
_HAS_DIGIT = re.compile(r"[0-9]")
# Phones and cards hold at least 8 digits close together; most feedback has no such run.
_LONG_NUMBER = re.compile(r"[0-9](?:[ ().\-/]{0,2}[0-9]){7}")
_NUMBER_FINDERS: tuple[tuple[str, Callable[[str], Iterator[tuple[int, int]]]], ...] = (
    ("card", _find_cards),
    ("phone", _find_phones),
)


class Redactor:
    """Finds PII spans and replaces each with its kind's placeholder; stateless and thread-safe."""

    def __init__(self, kinds: tuple[str, ...] = KINDS, placeholders: dict[str, str] | None = None) -> None:
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown PII kinds: {sorted(unknown)}")
        self.kinds = frozenset(kinds)
        self.placeholders = {**PLACEHOLDERS, **(placeholders or {})}

    def find(self, text: str) -> list[Span]:
        """Non-overlapping detections in text order; on overlap the higher-priority kind wins."""
        found: list[Span] = []
        if "email" in self.kinds:
            found.extend(Span(s, e, "email") for s, e in _find_emails(text))
        if _HAS_DIGIT.search(text):
            if "iban" in self.kinds:  # letters may split an IBAN's digits: "CH36 2769 9H4V 71LH A0I7 4"
                found.extend(Span(s, e, "iban") for s, e in _find_ibans(text))
            if "address" in self.kinds:
                found.extend(Span(s, e, "address") for s, e in _find_addresses(text))
            if _LONG_NUMBER.search(text):
                for kind, finder in _NUMBER_FINDERS:
                    if kind in self.kinds:
                        found.extend(Span(s, e, kind) for s, e in finder(text))
        if len(found) < 2:
            return found
        found.sort(key=lambda sp: (_PRIORITY[sp.kind], sp.start, sp.start - sp.end))
        kept: list[Span] = []
        for sp in found:
            if all(sp.end <= k.start or sp.start >= k.end for k in kept):
                kept.append(sp)
        kept.sort(key=lambda sp: sp.start)
        return kept

    def redact(self, text: str) -> RedactionResult:
        """Replace every detection with its placeholder and count them by kind."""
        spans = self.find(text)
        if not spans:
            return RedactionResult(text=text, counts={}, spans=[])
        parts: list[str] = []
        counts: dict[str, int] = {}
        pos = 0
        for sp in spans:
            parts.append(text[pos : sp.start])
            parts.append(self.placeholders[sp.kind])
            counts[sp.kind] = counts.get(sp.kind, 0) + 1
            pos = sp.end
        parts.append(text[pos:])
        return RedactionResult(text="".join(parts), counts=counts, spans=spans)


_DEFAULT = Redactor()


def redact(text: str) -> str:
    """Redact all PII kinds from one text; the fast path the pipeline calls on every field."""
    if not text:
        return text
    return _DEFAULT.redact(text).text


class RedactingLogFilter(logging.Filter):
    """Redacts a log record's message, arguments and traceback text before any handler formats it.

    Attach it to handlers (``handler.addFilter(RedactingLogFilter())``): a logger's own filters do not see
    records propagated from its children. The message is formatted here, once, so PII in ``%``-arguments
    and in exception messages is caught too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the record, nor leak its arguments
            message = f"{record.msg!s} (unformattable arguments)"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
