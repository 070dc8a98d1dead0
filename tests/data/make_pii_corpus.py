"""Generate ``pii_corpus.jsonl``: feedback sentences with labelled PII spans and look-alike negatives.

Run ``python tests/data/make_pii_corpus.py`` to rewrite the corpus; it is seeded, so the output only changes
when this file does. Values are built from the formats people actually type (not from the redactor's
patterns), with valid checksums for positives and broken ones for look-alikes. Hand-written hard cases are
appended at the end. Each line: ``{"id", "text", "spans": [[start, end, kind], ...], "expected"}``.
"""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

OUT = Path(__file__).with_name("pii_corpus.jsonl")
PLACEHOLDER = {k: f"[{k.upper()}]" for k in ("email", "phone", "card", "iban", "address")}

FIRST = ["john", "maria", "li", "oliver", "sofia", "ahmed", "emma", "lucas", "chloe", "noah", "anna", "jean"]
LAST = ["smith", "garcia", "wang", "brown", "rossi", "khan", "muller", "dubois", "novak", "jensen", "tanaka"]
DOMAINS = ["gmail.com", "example.com", "outlook.de", "mail.co.uk", "company.io", "web.fr", "uni-koeln.de"]
EN_NAMES = ["Baker", "Maple", "Oak", "Pennsylvania", "Elm", "Church", "Victoria", "Mill", "Park", "Sunset"]
EN_SUFFIX = ["Street", "St", "Avenue", "Ave", "Road", "Rd", "Lane", "Drive", "Boulevard", "Way", "Court"]
DE_NAMES = ["Haupt", "Linden", "Bahnhof", "Schiller", "Goethe", "Garten", "Kirch", "Berg", "Wald"]
DE_SUFFIX = ["straße", "strasse", "str.", "weg", "allee", "platz", "gasse"]
DE_CITIES = ["Berlin", "München", "Köln", "Hamburg", "Leipzig"]
FR_STREETS = ["rue de Rivoli", "rue Lepic", "avenue Foch", "boulevard Saint-Germain", "rue de la Paix",
              "place de la Concorde", "quai de Valmy", "rue du Bac", "avenue des Ternes"]  # fmt: skip

PLAIN = [
    "The agent was rude and kept interrupting me.",
    "Support felt scripted, like talking to a robot.",
    "Nobody listened to what I actually asked.",
    "Delivery was fast and the packaging was fine.",
    "I waited on hold forever and then got disconnected.",
    "Great product, terrible customer service.",
    "The app keeps crashing after the last update.",
    "Refund took weeks and nobody explained why.",
    "The courier was friendly and helpful.",
    "I had to repeat my problem to three different people.",
    "Honestly the best support experience I've had this year.",
    "They closed my ticket without solving anything.",
    "Checkout failed twice before it went through.",
    "The chat bot could not understand a simple question.",
    "Staff at the store were patient and kind.",
    "Why is it so hard to cancel a subscription?",
    "The replacement arrived damaged again.",
    "Agent Sarah was empathetic and sorted it out quickly.",
    "Website is confusing, I couldn't find the returns page.",
    "Prices went up but the quality went down.",
]

NEGATIVE_TEMPLATES = [
    "My order #{order} arrived two weeks late.",
    "Order number {order_long} still shows as processing.",
    "It cost {price} and broke after {duration}.",
    "Paid {price_eur} for shipping, which is a joke.",
    "The delivery was scheduled for {date} between {time} and {time2}.",
    "Since version {version} the app logs me out.",
    "Updated to {os} and now notifications are gone.",
    "Only {percent} of my items arrived.",
    "I'd rate it {rating}.",
    "Honestly {ten} for the courier.",
    "I was on hold for {duration}.",
    "I had to call {small} times before anyone answered.",
    "Ticket {ticket} was closed without a reply.",
    "Tracking {tracking} has not moved since {date}.",
    "Reference {bad_card} is what the form showed after the error.",
    "Invoice {invoice} lists the wrong amount.",
    "Waited {title_duration} For A Reply",
    "Delivered on {date_eu} at {time}, {small} days late.",
    "The {ordinal} agent finally understood; {percent} of the problem solved.",
    "Level {small} support escalated it to team {small2}.",
]

POSITIVE_TEMPLATES = {
    "email": [
        "You can reach me at {v} if you need more details.",
        "My email is {v}, please stop sending me surveys.",
        "Send the refund confirmation to {v} please.",
        "{v} is my account e-mail and nobody replied.",
        "Contact: {v}",
        "I wrote to support from {v} on {date} and got no answer.",
    ],
    "phone": [
        "Please call me back on {v}.",
        "My number is {v}, nobody called back after {duration}.",
        "The agent said to call {v} but it just rings out.",
        "Tel: {v} (evenings only)",
        "Order #{order}: text me at {v} when it ships.",
        "I left my mobile {v} with the store twice.",
    ],
    "card": [
        "They charged my card {v} twice.",
        "Card number {v} was declined although it works everywhere else.",
        "Paid with {v} exp 08/27 and still no confirmation.",
        "The agent read my full card number {v} out loud, which felt unsafe.",
        "Refund it to the card ending in the number {v}, not a voucher.",
    ],
    "iban": [
        "Please refund to IBAN {v}.",
        "My account {v} was debited twice for order #{order}.",
        "Bank details: {v}",
        "I gave them my IBAN {v} {small} times and still no refund.",
    ],
    "address": [
        "The parcel was left at {v} instead of my door.",
        "Deliver to {v}, not the old address.",
        "I live at {v} and the courier never came.",
        "Ship to: {v}",
        "The store at {v} was out of stock again.",
    ],
}


def luhn_digit(partial: str) -> str:
    """The check digit that makes ``partial + digit`` pass Luhn."""
    total = 0
    for i, ch in enumerate(reversed(partial)):
        n = int(ch)
        if i % 2 == 0:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return str((10 - total % 10) % 10)


def digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def make_card(rng: random.Random, valid: bool = True) -> str:
    prefix, length = rng.choice(
        [("4", 16), ("4", 13), ("51", 16), ("55", 16), ("2221", 16), ("34", 15), ("37", 15), ("6011", 16),
         ("36", 14), ("62", 19), ("35", 16)]
    )  # fmt: skip
    body = prefix + digits(rng, length - len(prefix) - 1)
    check = luhn_digit(body)
    if not valid:
        check = str((int(check) + rng.randint(1, 9)) % 10)
    number = body + check
    if length == 15 or length == 14:
        groups = [number[:4], number[4:10], number[10:]]
    else:
        groups = [number[i : i + 4] for i in range(0, length, 4)]
    style = rng.choice(["plain", "space", "space", "dash"])
    return number if style == "plain" else (" " if style == "space" else "-").join(groups)


IBAN_SHAPES = {  # country: BBAN as (kind, length) runs, n=digits a=upper letters c=alnum
    "DE": [("n", 18)], "GB": [("a", 4), ("n", 14)], "FR": [("n", 10), ("c", 11), ("n", 2)],
    "NL": [("a", 4), ("n", 10)], "ES": [("n", 20)], "IT": [("a", 1), ("n", 10), ("c", 12)],
    "CH": [("n", 5), ("c", 12)], "BE": [("n", 12)], "AT": [("n", 16)], "PL": [("n", 24)],
    "IE": [("a", 4), ("n", 14)], "NO": [("n", 11)],
}  # fmt: skip


def make_iban(rng: random.Random) -> str:
    country = rng.choice(list(IBAN_SHAPES))
    bban = ""
    for kind, n in IBAN_SHAPES[country]:
        alphabet = {"n": string.digits, "a": string.ascii_uppercase, "c": string.digits + string.ascii_uppercase}
        bban += "".join(rng.choice(alphabet[kind]) for _ in range(n))
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(numeric) % 97
    iban = f"{country}{check:02d}{bban}"
    if rng.random() < 0.6:
        return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    return iban


def make_email(rng: random.Random) -> str:
    first, last, domain = rng.choice(FIRST), rng.choice(LAST), rng.choice(DOMAINS)
    style = rng.randrange(9)
    if style == 0:
        return f"{first}.{last}@{domain}"
    if style == 1:
        return f"{first}{last}{rng.randint(1, 99)}@{domain}"
    if style == 2:
        return f"{first[0]}_{last}+cx@{domain}"
    if style == 3:
        return f"{first.capitalize()}.{last.capitalize()}@{domain.upper()}"
    if style == 4:
        return f"{first} dot {last} at {domain.replace('.', ' dot ')}"
    if style == 5:
        return f"{first}[at]{domain.replace('.', '[dot]')}"
    if style == 6:
        return f"{first}.{last} (at) {domain.replace('.', ' (dot) ')}"
    if style == 7:
        return f"{first}-{last}@support.{domain}"
    return f"{first}{last[0]} at {domain.split('.')[0]} dot {domain.split('.', 1)[1].replace('.', ' dot ')}"


def make_phone(rng: random.Random) -> str:
    d = lambda n: digits(rng, n)  # noqa: E731
    area = str(rng.randint(2, 9)) + d(2)
    formats = [
        lambda: f"+1{area}{rng.randint(2, 9)}{d(6)}",
        lambda: f"+44 20 {d(4)} {d(4)}",
        lambda: f"+44 (0)20 {d(4)} {d(4)}",
        lambda: f"+44 7700 {d(6)}",
        lambda: f"({area}) {rng.randint(2, 9)}{d(2)}-{d(4)}",
        lambda: f"{area}.{rng.randint(2, 9)}{d(2)}.{d(4)}",
        lambda: f"{area}-{rng.randint(2, 9)}{d(2)}-{d(4)}",
        lambda: f"+1 ({area}) {rng.randint(2, 9)}{d(2)}-{d(4)}",
        lambda: f"1-800-{rng.randint(2, 9)}{d(2)}-{d(4)}",
        lambda: f"0049 30 {d(7)}",
        lambda: f"+49 30 {d(8)}",
        lambda: f"+49 (0)89 {d(7)}",
        lambda: f"030/{d(7)}",
        lambda: f"06 {d(2)} {d(2)} {d(2)} {d(2)}",
        lambda: f"07.{d(2)}.{d(2)}.{d(2)}.{d(2)}",
        lambda: f"+33 6 {d(2)} {d(2)} {d(2)} {d(2)}",
        lambda: f"0033 1 {d(2)} {d(2)} {d(2)} {d(2)}",
        lambda: f"020 {d(4)} {d(4)}",
        lambda: f"07700 {d(6)}",
        lambda: f"+31 6 {d(8)}",
        lambda: f"+61 4{d(2)} {d(3)} {d(3)}",
        lambda: f"+91 98{d(3)} {d(5)}",
        lambda: f"+39 06 {d(4)} {d(4)}",
        lambda: f"0612345{d(3)}",
    ]
    return rng.choice(formats)()


def make_address(rng: random.Random) -> str:
    n = rng.randint(1, 2400)
    style = rng.randrange(8)
    if style == 0:
        return f"{n} {rng.choice(EN_NAMES)} {rng.choice(EN_SUFFIX)}"
    if style == 1:
        return f"{n}{rng.choice('AB')} {rng.choice(EN_NAMES)} {rng.choice(EN_SUFFIX)}"
    if style == 2:
        return f"{n} {rng.choice(EN_NAMES)} {rng.choice(['Ave', 'St', 'Blvd'])} {rng.choice(['NW', 'SE'])}"
    if style == 3:
        return f"{n} {rng.choice(EN_NAMES)} {rng.choice(EN_SUFFIX)}, Apt {rng.randint(1, 40)}B"
    if style == 4:
        return f"{n} {rng.choice(EN_NAMES)} Road, Springfield, IL {rng.randint(10000, 99999)}"
    if style == 5:
        return f"{rng.choice(DE_NAMES)}{rng.choice(DE_SUFFIX)} {rng.randint(1, 120)}"
    if style == 6:
        city = rng.choice(DE_CITIES)
        return f"{rng.choice(DE_NAMES)}{rng.choice(DE_SUFFIX)} {rng.randint(1, 99)}, {rng.randint(10000, 99999)} {city}"
    return f"{rng.randint(1, 180)} {rng.choice(FR_STREETS)}"


def fill_negatives(rng: random.Random, template: str) -> str:
    values = {
        "order": digits(rng, rng.randint(5, 9)),
        "order_long": str(rng.randint(1, 9)) + digits(rng, rng.randint(7, 11)),
        "price": rng.choice(["$1,299.99", "$49", "£12.50", "€1.099,00", "$249.00"]),
        "price_eur": rng.choice(["49.99 EUR", "12,90 €", "7.50 EUR", "120 EUR"]),
        "duration": rng.choice(["45 minutes", "2 hours", "3 days", "90 seconds", "1.5 hours"]),
        "date": rng.choice(["2024-03-15", "2023-11-02", "March 15, 2024", "15 March 2024"]),
        "date_eu": rng.choice(["15/03/2024", "01.02.2024", "05/05/2024", "31.12.2023"]),
        "time": rng.choice(["10:30", "9am", "14:00", "08:15"]),
        "time2": rng.choice(["11:45", "6pm", "17:30"]),
        "version": rng.choice(["v2.3.1", "3.14.0", "10.2", "v1.0.0-beta.2", "2024.03.1"]),
        "os": rng.choice(["iOS 17.4", "Android 14", "Windows 11 23H2", "macOS 14.4.1"]),
        "percent": rng.choice(["50%", "12.5%", "100 %", "3 percent"]),
        "rating": rng.choice(["5/5", "1/10", "4.5 out of 5", "2 stars"]),
        "ten": rng.choice(["10 out of 10", "10/10", "0 out of 10"]),
        "small": str(rng.randint(2, 12)),
        "small2": str(rng.randint(2, 9)),
        "ticket": rng.choice(["TKT-48213", "INC0012345", "#A-2024-0042", "CS-2024-118532", "JIRA-1234"]),
        "tracking": rng.choice(["1Z999AA10123456784", "9400 1118 9922 3197 4284 90", "JJD0002249216534"]),
        "bad_card": make_card(rng, valid=False),
        "invoice": rng.choice(["INV-2024-00017", "2024/0451", "RE-55501"]),
        "title_duration": rng.choice(["45 Minutes", "3 Hours", "2 Weeks", "10 Days"]),
        "ordinal": rng.choice(["3rd", "2nd", "5th"]),
    }
    return template.format(**values)


def positive(rng: random.Random, kind: str) -> tuple[str, list[list[object]]]:
    value = {"email": make_email, "phone": make_phone, "card": make_card, "iban": make_iban,
             "address": make_address}[kind](rng)  # fmt: skip
    template = rng.choice(POSITIVE_TEMPLATES[kind])
    before, after = template.split("{v}")
    before, after = fill_negatives(rng, before), fill_negatives(rng, after)
    lead = rng.choice(PLAIN) + " " if rng.random() < 0.5 else ""
    text = lead + before + value + after
    start = len(lead) + len(before)
    return text, [[start, start + len(value), kind]]


HARD_CASES: list[tuple[str, list[tuple[str, str]]]] = [
    # (text, [(substring, kind), ...]); negatives have no spans.
    ("Email me: Jane.Doe@Example.COM or call +44 20 7946 0958.",
     [("Jane.Doe@Example.COM", "email"), ("+44 20 7946 0958", "phone")]),
    ("Card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00, order #123456.",
     [("4111 1111 1111 1111", "card"), ("DE89 3704 0044 0532 0130 00", "iban")]),
    ("Parcel for 221B Baker Street went to 1600 Pennsylvania Ave NW instead.",
     [("221B Baker Street", "address"), ("1600 Pennsylvania Ave NW", "address")]),
    ("Bitte an Hauptstraße 5 liefern, nicht an 12 rue de Rivoli.",
     [("Hauptstraße 5", "address"), ("12 rue de Rivoli", "address")]),
    ("Rappelez-moi au 06 12 34 56 78 ou au +33 6 12 34 56 78.",
     [("06 12 34 56 78", "phone"), ("+33 6 12 34 56 78", "phone")]),
    ("Ruf mich an: 0049 30 1234567.", [("0049 30 1234567", "phone")]),
    ("My number is (555) 123-4567, or 555.123.4567 at work.",
     [("(555) 123-4567", "phone"), ("555.123.4567", "phone")]),
    ("E.164 please: +14155552671", [("+14155552671", "phone")]),
    ("reach me at jane dot doe at example dot com", [("jane dot doe at example dot com", "email")]),
    ("Amex 3782 822463 10005 got charged.", [("3782 822463 10005", "card")]),
    ("GB82WEST12345698765432 is my account", [("GB82WEST12345698765432", "iban")]),
    ("Order #123456 cost $1,299.99 on 2024-03-15 at 10:30.", []),
    ("App v2.3.1 on iOS 17.4 crashes 50% of the time, 1/5.", []),
    ("10 out of 10, waited 45 minutes, had to call 3 times.", []),
    ("Card 4111 1111 1111 1112 is not a real number.", []),
    ("Ticket INC0012345 and TKT-48213 were both ignored.", []),
    ("The total was 49.99 EUR and delivery took 3-5 days.", []),
    ("Order number 1234567890123 was cancelled.", []),
    ("Tracking 1Z999AA10123456784 stuck since 01.02.2024.", []),
    ("Waited 45 Minutes On The Road For The Driver", []),
    ("I live 10 minutes from the store on the main road.", []),
    ("Bought it at amazon.com because the shop was closed.", []),
    ("It is available at amazon dot com for less.", []),
    ("Spring 2024 collection was disappointing.", []),
    ("Call 0800 123 4567 they said, but nobody answers.", [("0800 123 4567", "phone")]),
    ("My old card 5555 5555 5555 4444 exp 12/25 cvv 123 was charged.", [("5555 5555 5555 4444", "card")]),
    ("Send it to 10 Downing St, London SW1A 2AA please.", [("10 Downing St, London SW1A 2AA", "address")]),
    ("Lieferung an Berliner Straße 12, 10115 Berlin ging schief.", [("Berliner Straße 12, 10115 Berlin", "address")]),
    ("IBAN: FR14 2004 1010 0505 0001 3M02 606 for the refund", [("FR14 2004 1010 0505 0001 3M02 606", "iban")]),
    ("Rated 4.5/5, version 10.2.3, price 12,90 € — 3 stars overall.", []),
    ("Agent #4521 said the case 2024-118532 was closed.", []),
    ("Whatsapp me on +49 151 23456789 please", [("+49 151 23456789", "phone")]),
    ("call 020 7946 0958 10 times, still nothing", [("020 7946 0958", "phone")]),
    ("My phone: +49 (30) 1234-5678, ask for Tom.", [("+49 (30) 1234-5678", "phone")]),
    ("+33 (0)6 12 34 56 78 est mon portable", [("+33 (0)6 12 34 56 78", "phone")]),
    ("Ring 07700 900 123 after 6pm.", [("07700 900 123", "phone")]),
    ("Reach me on 555-123-4567 ext. 12 during office hours.", [("555-123-4567", "phone")]),
    ("Call me at 5551234567 tomorrow.", [("5551234567", "phone")]),
    ("Order number 5551234567 never shipped.", []),
    ("Serial 0034 5678 9012 is printed on the box.", []),
    ("The code 0123 4567 8901 2345 from the voucher did not work.", []),
    ("Test card 4242424242424242 worked but my real one did not.", [("4242424242424242", "card")]),
    ("Visa 4111-1111-1111-1111 exp 09/26 declined.", [("4111-1111-1111-1111", "card")]),
    ("UnionPay 6200000000000005 not accepted.", [("6200000000000005", "card")]),
    ("Diners 3622 720627 1667 was refused.", [("3622 720627 1667", "card")]),
    ("Refund to nl91abna0417164300 please.", [("nl91abna0417164300", "iban")]),
    ("Konto CH93 0076 2011 6238 5295 7 bitte.", [("CH93 0076 2011 6238 5295 7", "iban")]),
    ("iban DE89370400440532013000.", [("DE89370400440532013000", "iban")]),
    ("Deliver to 742 Evergreen Terrace, not next door.", [("742 Evergreen Terrace", "address")]),
    ("HQ at 350 Fifth Avenue, New York, NY 10118 ignored us.",
     [("350 Fifth Avenue, New York, NY 10118", "address")]),
    ("Paket ging an Kurfürstendamm 21 statt nach Hause.", [("Kurfürstendamm 21", "address")]),
    ("Negozio in Via Roma 10, personale scortese.", [("Via Roma 10", "address")]),
    ("La tienda de Calle Mayor 5 estaba cerrada.", [("Calle Mayor 5", "address")]),
    ("Livré au 8 boulevard Haussmann, 75009 Paris par erreur.", [("8 boulevard Haussmann, 75009 Paris", "address")]),
    ("Bezorgd op Kerkstraat 12 in plaats van thuis.", [("Kerkstraat 12", "address")]),
    ("Top 10 Best Street Food Places Nearby", []),
    ("The 24 Hour Drive Thru Was Closed", []),
    ("5 Stars Way Better Than Last Time", []),
    ("Waited 3 Hours On Hold, Gave Up", []),
    ("3 Main Issues With This App", []),
    ("Route 66 diner was lovely and staff were kind.", []),
    ("I took the 5 train and the store on Main Street was closed.", []),
    ("ISBN 978-3-16-148410-0 is printed wrong on the invoice.", []),
    ("Between 2019 2020 2021 the service got worse.", []),
    ("We have 1 000 000 users and 30 000 EUR revenue, yet no support.", []),
    ("Opening hours 10:30-11:45 and 14:00-18:00 are too short.", []),
    ("Via email 2 times, via chat 3 times, nothing.", []),
    ("Contact via the app, 24/7 support they said, +5 stars for trying.", []),
    ("Hotline 0800 555 0100 kept me waiting.", [("0800 555 0100", "phone")]),
    ("Sent from john.smith@gmail.com on 2024-03-15 10:30, order #123456.", [("john.smith@gmail.com", "email")]),
]  # fmt: skip


def build(seed: int = 6) -> list[dict[str, object]]:
    rng = random.Random(seed)
    rows: list[tuple[str, list[list[object]]]] = []
    for kind in POSITIVE_TEMPLATES:
        for _ in range(70):
            rows.append(positive(rng, kind))
    for _ in range(15):  # two kinds in one message
        a, b = rng.sample(list(POSITIVE_TEMPLATES), 2)
        t1, s1 = positive(rng, a)
        t2, s2 = positive(rng, b)
        shift = len(t1) + 1
        rows.append((t1 + " " + t2, s1 + [[s + shift, e + shift, k] for s, e, k in s2]))
    for template in NEGATIVE_TEMPLATES:
        for _ in range(8):
            lead = rng.choice(PLAIN) + " " if rng.random() < 0.5 else ""
            rows.append((lead + fill_negatives(rng, template), []))
    for _ in range(25):  # IBANs with a typo fail mod-97: not IBANs, and not cards or phones either
        iban = make_iban(rng)
        last = max(i for i, c in enumerate(iban) if c.isdigit())
        typo = iban[:last] + str((int(iban[last]) + rng.randint(1, 9)) % 10) + iban[last + 1 :]
        rows.append((f"The form rejected {typo} as invalid.", []))
    for _ in range(30):  # invalid-checksum cards on their own
        rows.append((f"Number {make_card(rng, valid=False)} came up in the error message.", []))
    rows.extend((p, []) for p in PLAIN)
    for text, subs in HARD_CASES:
        spans = []
        for sub, kind in subs:
            start = text.index(sub)
            spans.append([start, start + len(sub), kind])
        rows.append((text, spans))
    out = []
    for i, (text, spans) in enumerate(rows):
        expected, pos = [], 0
        for s, e, k in sorted(spans):
            expected += [text[pos:s], PLACEHOLDER[k]]
            pos = e
        expected.append(text[pos:])
        out.append({"id": i, "text": text, "spans": spans, "expected": "".join(expected)})
    return out


if __name__ == "__main__":
    rows = build()
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"wrote {len(rows)} lines to {OUT}")
