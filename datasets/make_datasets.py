"""Write the example datasets (seeded, so the files are reproducible): `python datasets/make_datasets.py`.

Sentences are composed from hand-written fragments; labels follow from the fragments, never from a model.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).parent

SUBJECTS = ["The plot", "The acting", "This film", "The soundtrack", "The script", "The director's work",
            "The cast", "The ending", "The dialogue", "The cinematography", "This sequel", "The story"]
POSITIVE = ["was wonderful and moving", "kept me smiling from start to finish", "is a brilliant piece of work",
            "felt fresh, funny and heartfelt", "deserves every award it gets", "was a pure joy to watch",
            "left me genuinely impressed", "is the best I have seen this year", "was clever and beautifully done",
            "made the whole evening worth it", "surprised me in the best way", "is warm, sharp and memorable"]
NEGATIVE = ["was a complete waste of time", "dragged on and bored me to tears", "is a mess from start to finish",
            "felt lazy and predictable", "made me want to leave early", "was painfully dull",
            "left me cold and annoyed", "is the worst I have seen this year", "was clumsy and badly acted",
            "ruined what could have been fun", "disappointed me in every way", "is flat, loud and forgettable"]
TAILS = ["", "", " Honestly.", " I would not say otherwise.", " My friends agreed.", " Even on a second viewing.",
         " The popcorn was fine though.", " Two hours well spent, or not."]

TOPICS = {
    "sports": ["{team} beat {team2} in overtime thriller", "Star striker signs record deal with {team}",
               "{team} coach sacked after fifth straight loss", "Olympic champion retires after knee injury",
               "Underdogs {team} reach the cup final", "Marathon record falls in {city}",
               "Tennis star withdraws from {city} open", "{team} fans celebrate league title"],
    "business": ["Shares of {company} jump after strong earnings", "{company} to cut 2,000 jobs amid slowdown",
                 "Central bank raises interest rates again", "{company} agrees to buy rival for $4 billion",
                 "Oil prices fall as demand weakens", "Start-up in {city} raises $50 million",
                 "{company} profits slide on weaker sales", "Retail sales rise for third month"],
    "science": ["Astronomers spot water on distant exoplanet", "New antibiotic found in {city} soil samples",
                "Researchers map the brain of a fruit fly", "Fusion reactor sets new energy record",
                "Ancient DNA reveals early human migration", "Telescope captures birth of a star",
                "Study links gut bacteria to sleep quality", "Physicists measure the neutrino's mass"],
    "world": ["Elections in {country} end in a tight race", "Leaders of {country} and {country2} sign peace deal",
              "Floods force thousands to flee in {country}", "{country} parliament approves new constitution",
              "Protests spread across the capital of {country}", "Earthquake strikes northern {country}",
              "Ceasefire agreed after talks in {city}", "{country} opens its borders to refugees"],
}
FILL = {
    "team": ["Rovers", "United", "the Falcons", "City", "the Tigers", "Athletic"],
    "team2": ["Wanderers", "the Sharks", "Rangers", "the Giants"],
    "company": ["Acme Corp", "Globex", "Initech", "Umbrella Group", "Northwind", "Vandelay Industries"],
    "city": ["Lisbon", "Osaka", "Nairobi", "Toronto", "Berlin", "Lima"],
    "country": ["Norway", "Chile", "Kenya", "Vietnam", "Portugal", "Canada"],
    "country2": ["Peru", "Ghana", "Laos", "Spain"],
}


# Harder shapes: a concession then the verdict ("X was dull, but overall ..."), and negated praise or blame.
CONCESSIONS = {"positive": ["I expected to hate it", "The first half dragged", "Some scenes were clumsy",
                             "The trailer looked cheap"],
               "negative": ["The acting was fine", "It looked gorgeous", "The cast was famous",
                            "The first act was promising"]}
VERDICTS = {"positive": ["it won me over completely", "I left the cinema smiling", "I would happily watch it again",
                         "it is a little gem", "it ended up moving me"],
            "negative": ["it fell apart badly", "I was bored within minutes", "I regret buying the ticket",
                         "it is instantly forgettable", "it never came together"]}
NEGATED = {"positive": ["was not bad at all", "was far from boring", "never felt dull for a second",
                        "was not the disaster I feared"],
           "negative": ["was not good at all", "was far from funny", "never felt exciting", "was not worth the hype"]}


def review(rng: random.Random) -> dict[str, str]:
    label = rng.choice(["positive", "negative"])
    shape = rng.random()
    if shape < 0.45:
        text = f"{rng.choice(SUBJECTS)} {rng.choice(POSITIVE if label == 'positive' else NEGATIVE)}.{rng.choice(TAILS)}"
    elif shape < 0.75:
        text = f"{rng.choice(CONCESSIONS[label])}, but {rng.choice(VERDICTS[label])}."
    else:
        text = f"{rng.choice(SUBJECTS)} {rng.choice(NEGATED[label])}.{rng.choice(TAILS)}"
    return {"review": text, "sentiment": label}


def headline(rng: random.Random) -> dict[str, str]:
    topic = rng.choice(sorted(TOPICS))
    text = rng.choice(TOPICS[topic])
    for key, values in FILL.items():
        text = text.replace("{" + key + "}", rng.choice(values))
    return {"headline": text, "topic": topic}


def row_key(row: dict[str, str]) -> str:
    """A row's identity, for keeping a file's rows out of another (`write`'s `exclude`)."""
    return json.dumps(row, sort_keys=True)


def write(name: str, make, count: int, seed: int, exclude: set[str], directory: Path = HERE) -> set[str]:
    """`count` distinct rows from `make`, none of them in `exclude` (`row_key`s), as `directory/name`; returns the
    keys of all rows seen."""
    rng, rows, seen = random.Random(seed), [], set(exclude)
    while len(rows) < count:
        row = make(rng)
        key = row_key(row)
        if key not in seen:
            seen.add(key)
            rows.append(row)
    (directory / name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return seen


if __name__ == "__main__":
    used = write("sentiment_train.jsonl", review, 60, 1, set())
    write("sentiment_test.jsonl", review, 60, 2, used)
    used = write("topic_train.jsonl", headline, 60, 3, set())
    write("topic_test.jsonl", headline, 60, 4, used)
