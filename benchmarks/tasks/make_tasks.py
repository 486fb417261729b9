"""Write the benchmark-only tasks (seeded, reproducible): `python benchmarks/tasks/make_tasks.py`.

These tasks are not among the examples in `configs/`: the seed-robustness benchmark runs on them too, so the
optimiser is judged on data it was not tuned on. Messages are composed from hand-written fragments; labels
follow from the fragments, never from a model.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).parent
DATASETS = HERE.parent.parent / "datasets"
sys.path.insert(0, str(DATASETS))
from make_datasets import review, row_key, write  # noqa: E402  (the project's dataset writer: seeded, distinct rows)

OPENERS = ["Hi,", "Hello team,", "Quick question:", "Hey there,", "Good morning,", "Urgent:", "", "Sorry to bother you,"]
INTENTS = {
    "billing": ["I was charged twice for my {plan} plan", "my invoice for {month} shows the wrong amount",
                "please refund the payment I made on {month} 3rd", "why did my card get billed after I cancelled",
                "the {plan} plan price went up without notice", "I need a receipt for my last payment",
                "can I switch to yearly billing to save money", "there is a fee on my statement I do not recognise"],
    "delivery": ["my parcel has not arrived after {days} days", "the tracking number for order {order} does not work",
                 "the courier left my package at the wrong address", "can you ship order {order} to my office instead",
                 "the box arrived damaged and half empty", "when will order {order} be dispatched",
                 "delivery was promised for {month} but nothing came", "I need express shipping for order {order}"],
    "login": ["I cannot sign in since I changed my phone", "the password reset email never arrives",
              "my account got locked after {days} failed attempts", "two-factor codes are rejected every time",
              "I forgot the email address I registered with", "the app logs me out every few minutes",
              "someone else may have accessed my account", "the sign-in page says my username does not exist"],
}
CLOSERS = ["", "", " Thanks.", " Please help.", " This is the {nth} time I write.", " Regards, {name}."]
FILL = {"plan": ["Basic", "Pro", "Family", "Business"], "month": ["March", "June", "October", "January"],
        "days": ["5", "9", "12", "3"], "order": ["#4471", "#9023", "#1180", "#5532"],
        "nth": ["second", "third"], "name": ["Ana", "Tom", "Priya", "Lars"]}


def message(rng: random.Random) -> dict[str, str]:
    intent = rng.choice(sorted(INTENTS))
    text = f"{rng.choice(OPENERS)} {rng.choice(INTENTS[intent])}.{rng.choice(CLOSERS)}".strip()
    for key, values in FILL.items():
        text = text.replace("{" + key + "}", rng.choice(values))
    return {"message": text[0].upper() + text[1:], "intent": intent}


SUBJECTS = ["My sister", "The old neighbour", "Our coach", "The whole class", "My best friend", "The driver", "I"]
EMOTIONS = {
    "joy": ["laughed all the way home after the {event}", "could not stop smiling at the {event}",
            "danced in the kitchen when the {news} came", "felt on top of the world after the {event}",
            "hugged everyone when the {news} arrived"],
    "anger": ["slammed the door after the {event}", "shouted at the clerk about the {news}",
              "was furious that the {event} was cancelled again", "kicked the wall when the {news} came",
              "could not forgive the lies about the {event}"],
    "sadness": ["cried quietly after the {event}", "stayed in bed all day after the {news}",
                "missed the old days badly after the {event}", "felt empty and alone when the {news} came",
                "looked at the photos of the {event} with tears"],
    "fear": ["trembled in the dark after the {news}", "could not sleep, afraid of the {event}",
             "froze when the {news} came at midnight", "hid under the blanket during the {event}",
             "felt the heart racing before the {event}"],
}
PLACES = ["", " at school", " in the station", " last night", " on Sunday", " in the hospital"]
EVENTS = {"event": ["wedding", "storm", "exam", "match", "funeral", "party", "interview"],
          "news": ["phone call", "letter", "message", "news", "verdict"]}


def feeling(rng: random.Random) -> dict[str, str]:
    emotion = rng.choice(sorted(EMOTIONS))
    text = f"{rng.choice(SUBJECTS)} {rng.choice(EMOTIONS[emotion])}{rng.choice(PLACES)}."
    for key, values in EVENTS.items():
        text = text.replace("{" + key + "}", rng.choice(values))
    return {"sentence": text, "emotion": emotion}


PLACES_OUT = ["in Oslo", "over the hills", "in the city centre", "at the coast", "in our village", "on the motorway"]
WEATHER = {  # unequal shares on purpose: real label sets rarely come balanced
    "sunny": (5, ["clear blue skies all day {place}", "warm sunshine and not a single cloud {place}",
                  "bright sun, people out in T-shirts {place}", "a hot dry afternoon {place}",
                  "sunglasses weather from dawn to dusk {place}"]),
    "rainy": (3, ["heavy showers flooded the streets {place}", "umbrellas out, steady drizzle {place}",
                  "a downpour soaked the commuters {place}", "puddles everywhere after the rain {place}",
                  "grey clouds and wet roads {place}"]),
    "snowy": (2, ["thick snow covered the cars {place}", "children built a snowman {place}",
                  "icy flakes fell all night {place}", "the ploughs cleared fresh snow {place}",
                  "a white blanket of snow {place}"]),
}
TIMES = ["Yesterday:", "This morning:", "Forecast for Friday:", "Report:", "Last weekend:", ""]


def weighted_answer(rng: random.Random, table: dict[str, tuple[int, list[str]]]) -> str:
    """An answer of `table` (answer -> (weight, fragments)), drawn in proportion to its weight."""
    return rng.choices(sorted(table), weights=[table[answer][0] for answer in sorted(table)])[0]


def weather(rng: random.Random) -> dict[str, str]:
    kind = weighted_answer(rng, WEATHER)
    text = f"{rng.choice(TIMES)} {rng.choice(WEATHER[kind][1])}.".strip().replace("{place}", rng.choice(PLACES_OUT))
    return {"report": text[0].upper() + text[1:], "weather": kind}


WHO = ["Dad", "My aunt", "The guest", "Grandma", "Our neighbour", "The plumber", "I", "The twins"]
ROOMS = {  # unequal shares on purpose (40/25/20/15 %)
    "kitchen": (8, ["stirred the soup on the stove", "loaded the dishwasher after dinner", "chopped onions on the counter",
                    "put the milk back in the fridge", "baked bread in the oven", "wiped crumbs off the table by the toaster"]),
    "bathroom": (5, ["brushed their teeth at the sink", "ran a hot bath", "fixed the leaking shower head",
                     "hung a fresh towel by the tub", "cleaned the mirror above the basin", "refilled the soap by the toilet"]),
    "bedroom": (4, ["made the bed with clean sheets", "set the alarm clock on the nightstand", "folded pyjamas under the pillow",
                    "hung shirts in the wardrobe", "read under the duvet until midnight", "drew the curtains before sleeping"]),
    "garden": (3, ["mowed the lawn", "watered the tomatoes in the beds", "raked leaves under the apple tree",
                   "planted tulip bulbs by the fence", "trimmed the hedge", "filled the bird feeder on the grass"]),
}
WHEN = ["", " this morning", " before lunch", " on Saturday", " late at night", " yesterday"]


def room(rng: random.Random) -> dict[str, str]:
    kind = weighted_answer(rng, ROOMS)
    return {"sentence": f"{rng.choice(WHO)} {rng.choice(ROOMS[kind][1])}{rng.choice(WHEN)}.", "room": kind}


ATHLETES = ["Our coach", "The new player", "My cousin", "A teenager", "The champion", "Our team", "She", "The veteran"]
SPORTS = {  # five answers in unequal shares (30/25/20/15/10 %)
    "football": (6, ["headed the ball into the net", "took a corner kick", "was shown a yellow card for a foul",
                     "saved a penalty in goal", "dribbled past two defenders", "scored an own goal"]),
    "tennis": (5, ["served an ace down the line", "hit a backhand volley at the net", "lost the tie-break",
                   "restrung the racket between sets", "won the match on grass", "double-faulted twice"]),
    "swimming": (4, ["dived off the starting block", "finished the butterfly leg", "touched the wall first",
                     "adjusted the goggles in the lane", "did a tumble turn", "swam four lengths of backstroke"]),
    "cycling": (3, ["pumped up the tyres before the stage", "sprinted up the mountain climb", "changed gear on the descent",
                    "wore the yellow jersey", "punctured a wheel", "led the peloton for ten kilometres"]),
    "chess": (2, ["castled on the king side", "sacrificed a knight", "promoted a pawn to a queen",
                  "resigned after losing the rook", "pressed the clock after the move", "played the Sicilian defence"]),
}
WHILE = ["", " in the final", " on Sunday", " during training", " in the second round", " last season"]


def sport(rng: random.Random) -> dict[str, str]:
    kind = weighted_answer(rng, SPORTS)
    return {"event": f"{rng.choice(ATHLETES)} {rng.choice(SPORTS[kind][1])}{rng.choice(WHILE)}.", "sport": kind}


TRAVELLERS = ["My sister", "The new manager", "Our choir", "Grandpa", "The students", "A colleague", "We", "I"]
CITIES = ["Lisbon", "Madrid", "Vienna", "Prague", "Oslo", "Dublin", "Athens", "Berlin", "Paris", "Rome", "Warsaw", "Zurich"]
TRIPS = [  # {to} is the answer; {from} is a second city, a distractor that comes before or after it
    "{who} flew from {from} to {to}{when}.", "{who} took the night train to {to}{when}.",
    "{who} left {from} for {to}{when}.", "After two days in {from}, {who_lower} moved on to {to}.",
    "{who} booked a hotel in {to} for the conference{when}.", "{who} will visit {to} after a stopover in {from}.",
    "The bus from {from} brought {who_lower} to {to}{when}.", "{who} is heading to {to}, not back to {from}.",
]


def trip(rng: random.Random) -> dict[str, str]:
    """An extraction task with a dozen answers and a distractor: the answer is a word of the input, not a label."""
    to, origin = rng.sample(CITIES, 2)
    who = rng.choice(TRAVELLERS)
    text = rng.choice(TRIPS).format(who=who, who_lower=who if who == "I" else who[0].lower() + who[1:],
                                     to=to, when=rng.choice(WHEN), **{"from": origin})
    return {"sentence": text, "destination": to}


if __name__ == "__main__":
    used = write("intent_train.jsonl", message, 60, 11, set(), HERE)
    write("intent_test.jsonl", message, 120, 12, used, HERE)
    used = write("emotion_train.jsonl", feeling, 60, 21, set(), HERE)
    write("emotion_test.jsonl", feeling, 120, 22, used, HERE)
    used = write("weather_train.jsonl", weather, 60, 31, set(), HERE)
    write("weather_test.jsonl", weather, 120, 32, used, HERE)
    used = write("room_train.jsonl", room, 60, 41, set(), HERE)
    used = write("room_test.jsonl", room, 120, 42, used, HERE)
    # Room with three times the labelled examples (fresh rows): what a larger validation pool buys.
    write("room_large_train.jsonl", room, 180, 43, used, HERE)
    used = write("sport_train.jsonl", sport, 60, 51, set(), HERE)
    write("sport_test.jsonl", sport, 120, 52, used, HERE)
    used = write("trip_train.jsonl", trip, 60, 61, set(), HERE)
    write("trip_test.jsonl", trip, 120, 62, used, HERE)
    # The project's reviews drawn afresh: 34 positive and 26 negative (the project's file is exactly 30/30; a
    # user's file rarely is). Scored on the project's sentiment test file, whose rows it leaves out.
    test = (DATASETS / "sentiment_test.jsonl").read_text().splitlines()
    write("sentiment_skew_train.jsonl", review, 60, 209, {row_key(json.loads(line)) for line in test}, HERE)
