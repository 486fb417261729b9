"""Write the benchmark-only tasks of the graded and several-field rewards (seeded, reproducible):
`python benchmarks/tasks/make_reward_tasks.py`.

Four tasks, one per reward kind the exact-match tasks of `make_tasks.py` never exercise: `booking` (several
answer fields: the guest, the city, the nights; a `fields` reward), `price` (a total to pay; a `numeric` reward
with a tolerance, as some unit prices have a tenth of a cent and are paid rounded to the cent), `phrase` (the
object of a sentence's verb, a short span; an `f1` reward) and `grade` (a star rating 1-5 read from a review; a
`python` reward in `grade_reward.py` giving half credit one star off). Sentences are composed from hand-written
fragments; answers follow from the fragments, never from a model. Stdlib only; each file holds distinct rows,
none shared between a task's train and test files.
"""

from __future__ import annotations

import random
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent.parent / "datasets"))
from make_datasets import write  # noqa: E402  (the project's dataset writer: seeded, distinct rows)

PEOPLE = ["Maria", "Tom", "Priya", "Lars", "Ana", "Kenji", "Fatima", "Oliver", "Chloe", "Mateo", "Ingrid", "Sam"]
CITIES = ["Lisbon", "Madrid", "Vienna", "Prague", "Oslo", "Dublin", "Athens", "Berlin", "Paris", "Rome", "Warsaw",
          "Zurich"]
BOOKINGS = [  # {who}, {to} and the nights of {stay} are the answer; {from}, {booker} and {other} are distractors
    "{who} is staying {stay} in {to} after visiting {from}.",
    "{booker} booked {stay} in {to} for {who}.",
    "{who} booked a room in {to} for {stay}, flying in from {from}.",
    "After {other} days in {from}, {who} will spend {stay} in {to}.",
    "On behalf of {who}, {booker} reserved {stay} at a hotel in {to}.",
    "{who} checks in to room {room} in {to} for {stay}, then goes back to {from}.",
    "Booking confirmed by {booker}: guest {who}, {to}, {stay}.",
    "{who} leaves {from} on Friday and stays in {to} for {stay}.",
    "From {from}, {who} and {other} friends travel to {to} for {stay}.",
]
NUMBER_WORDS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def booking(rng: random.Random) -> dict[str, object]:
    """Several answer fields: the guest (who may not be the person who booked), the city they stay in (most
    sentences name a second city) and the nights (as a digit or a word, beside other numbers)."""
    to, origin = rng.sample(CITIES, 2)
    who, booker = rng.sample(PEOPLE, 2)
    nights = rng.randint(1, 9)
    count = str(nights) if rng.random() < 0.5 else NUMBER_WORDS[nights - 1]
    stay = f"{count} night" + ("s" if nights > 1 else "")
    text = rng.choice(BOOKINGS).format(who=who, booker=booker, to=to, stay=stay, other=rng.randint(2, 6),
                                       room=rng.randint(101, 420), **{"from": origin})
    return {"sentence": text, "person": who, "destination": to, "nights": nights}


ITEMS = [("notebook", "notebooks"), ("pen", "pens"), ("coffee", "coffees"), ("ticket", "tickets"),
         ("sandwich", "sandwiches"), ("candle", "candles"), ("mug", "mugs"), ("battery", "batteries")]
BUYERS = ["I", "Dad", "My sister", "The teacher", "Our neighbour", "Sam"]
UNIT_PRICES = [0.5, 0.75, 1.2, 1.5, 1.99, 2.25, 2.5, 3.4, 3.99, 4.5, 6.75, 7.49, 9.99, 12.0]
ROUND_PRICES = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 10.0, 20.0]  # doubled in the head
METERED = [("litre of fuel", "litre"), ("kilowatt-hour", "kilowatt-hour"), ("kg of coffee beans", "kg")]
METERED_PRICES = ["1.789", "1.659", "0.347", "0.285", "12.495", "9.875", "2.114", "1.996"]


def money(value: float) -> str:
    return f"{value:.2f}"


def cents(price: str) -> float:
    """What is paid for a unit priced to a tenth of a cent: rounded to the cent, halves up."""
    return float(Decimal(price).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def price(rng: random.Random) -> dict[str, object]:
    """A total to pay, kept within reach of a small model shown examples: half are one item (the price is the
    answer, the quantity "1" a distractor), a third two items at a round price (double it), the rest one unit
    of something priced to a tenth of a cent, paid rounded to the cent: copying the unit price is right only
    within the tolerance."""
    who, (one, many) = rng.choice(BUYERS), rng.choice(ITEMS)
    shape = rng.random()
    if shape < 0.5:
        unit = rng.choice(UNIT_PRICES)
        text, total = rng.choice([f"{who} bought 1 {one} for {money(unit)}.", f"1 {one} at {money(unit)}.",
                                  f"One {one} costs {money(unit)}.", f"{who} paid {money(unit)} for 1 {one}."]), unit
    elif shape < 0.8:
        unit = rng.choice(ROUND_PRICES)
        text, total = rng.choice([f"{who} bought 2 {many} at {money(unit)} each.",
                                  f"2 {many} at {money(unit)} each."]), 2 * unit
    else:
        (thing, measure), unit = rng.choice(METERED), rng.choice(METERED_PRICES)
        text, total = f"{who} bought 1 {thing} at {unit} per {measure}.", cents(unit)
    return {"sentence": text, "total": round(total, 2)}


SPEAKERS = ["The committee", "My neighbour", "The new manager", "Our team", "The city council", "A local baker",
            "The students", "The old professor", "Her brother", "The mayor"]
ACTIONS = [  # verb, then objects: the answer is the object phrase, a span of the sentence
    ("approved", ["the new parking policy", "the school budget", "a longer lunch break", "the revised plan"]),
    ("painted", ["the garden fence", "a small blue boat", "the kitchen walls", "an old wooden chair"]),
    ("cancelled", ["the summer concert", "the weekly meeting", "a trip to the coast", "the evening train"]),
    ("found", ["a lost black wallet", "the missing keys", "an old family photo", "the broken umbrella"]),
    ("repaired", ["the leaking roof", "a flat bicycle tyre", "the office printer", "the front door lock"]),
    ("sold", ["the red sports car", "a box of old records", "the family farm", "two tickets for the final"]),
    ("wrote", ["a long letter to the editor", "the opening speech", "a short story about winter", "the annual report"]),
    ("ordered", ["a large pepperoni pizza", "the new office chairs", "fresh flowers for the hall",
                 "a taxi to the airport"]),
]
TAILS = ["", " yesterday", " on Monday", " after a long debate", " last week", " without telling anyone",
         " before the holidays", " in the morning"]
OPENERS = ["", "", "", "To everyone's surprise, ", "In the end, ", "Last spring, "]


def phrase(rng: random.Random) -> dict[str, str]:
    """A short answer: the object of the sentence's verb, partly right answers (a word short or long) scored by
    F1."""
    speaker, (verb, objects) = rng.choice(SPEAKERS), rng.choice(ACTIONS)
    target, opener = rng.choice(objects), rng.choice(OPENERS)
    subject = speaker[0].lower() + speaker[1:] if opener else speaker
    return {"sentence": f"{opener}{subject} {verb} {target}{rng.choice(TAILS)}.", "object": target}


REVIEWS = {  # stars -> what a reviewer of that rating says; the rating follows from the fragment
    1: ["it broke on the first day, a total waste of money", "terrible, I want my money back",
        "the worst purchase I have ever made", "awful quality, avoid it"],
    2: ["disappointing, it works but barely", "poor value, I expected much more",
        "not great, several small problems", "below average and rather flimsy"],
    3: ["it is okay, nothing special", "average, does the job", "fine for the price, neither good nor bad",
        "decent but forgettable"],
    4: ["good quality, I would buy it again", "very nice, only a small flaw", "works well and looks good",
        "solid product, happy with it"],
    5: ["absolutely perfect, I love it", "outstanding, the best I have owned", "excellent in every way",
        "flawless, could not be happier"],
}
PRODUCTS = ["The kettle", "This lamp", "The headphones", "My new backpack", "The blender", "This jacket",
            "The desk chair", "The phone case"]
ENDINGS = ["", "", " Delivery was quick.", " Bought it last month.", " It came in a blue box.", " My son uses it too."]


def grade(rng: random.Random) -> dict[str, object]:
    """A star rating 1-5 from a short review; ordinal, so an answer one star off earns half credit (the python
    reward in `grade_reward.py`)."""
    stars = rng.randint(1, 5)
    return {"review": f"{rng.choice(PRODUCTS)}: {rng.choice(REVIEWS[stars])}.{rng.choice(ENDINGS)}", "stars": stars}


if __name__ == "__main__":
    used = write("booking_train.jsonl", booking, 60, 71, set(), HERE)
    write("booking_test.jsonl", booking, 120, 72, used, HERE)
    used = write("price_train.jsonl", price, 60, 81, set(), HERE)
    write("price_test.jsonl", price, 120, 82, used, HERE)
    used = write("phrase_train.jsonl", phrase, 60, 91, set(), HERE)
    write("phrase_test.jsonl", phrase, 120, 92, used, HERE)
    used = write("grade_train.jsonl", grade, 60, 101, set(), HERE)
    write("grade_test.jsonl", grade, 120, 102, used, HERE)
