"""Synthetic user facts for benchmarks: templated statements about food, places, hobbies,
pets, work and plans, and natural questions about them. Deterministic for a given seed."""

import itertools
import random

FOODS = [
    "sushi",
    "peanuts",
    "pasta",
    "ramen",
    "tacos",
    "lentil soup",
    "dark chocolate",
    "shellfish",
    "gluten",
    "spicy curry",
    "goat cheese",
    "mangoes",
]
CITIES = [
    "Lisbon",
    "Kyoto",
    "Toronto",
    "Nairobi",
    "Oslo",
    "Buenos Aires",
    "Seoul",
    "Marseille",
    "Denver",
    "Hanoi",
    "Krakow",
    "Melbourne",
]
HOBBIES = [
    "tennis",
    "rock climbing",
    "chess",
    "watercolor painting",
    "trail running",
    "the cello",
    "woodworking",
    "salsa dancing",
    "birdwatching",
    "sourdough baking",
]
PETS = ["a beagle", "two cats", "a parrot", "a rescue greyhound", "a tortoise", "goldfish"]
JOBS = [
    "a nurse",
    "a data engineer",
    "a primary school teacher",
    "an architect",
    "a line cook",
    "a freelance translator",
    "a veterinarian",
    "a pilot",
]
LANGUAGES = ["Japanese", "Portuguese", "Swahili", "German", "Korean", "Italian"]

TEMPLATES = [
    ("preference", "Loves eating {food}", "food"),
    ("profile", "Is allergic to {food}", "food"),
    ("profile", "Lives in {city}", "city"),
    ("event", "Moved to {city} last spring", "city"),
    ("plan", "Is planning a trip to {city} next year", "city"),
    ("preference", "Spends weekends on {hobby}", "hobby"),
    ("event", "Started taking lessons in {hobby}", "hobby"),
    ("profile", "Has {pet} at home", "pet"),
    ("profile", "Works as {job}", "job"),
    ("decision", "Decided to learn {language}", "language"),
    ("plan", "Wants to become fluent in {language}", "language"),
]
_VALUES = {
    "food": FOODS,
    "city": CITIES,
    "hobby": HOBBIES,
    "pet": PETS,
    "job": JOBS,
    "language": LANGUAGES,
}

QUESTIONS = [
    "What food does the user enjoy?",
    "Does the user have any food allergies?",
    "Where does the user live these days?",
    "Which city is the user travelling to?",
    "What does the user do for fun on weekends?",
    "Does the user have pets?",
    "What is the user's job?",
    "Which language is the user studying?",
    "Is there anything the user cannot eat?",
    "What sport or instrument has the user picked up?",
    "Where did the user move recently?",
    "What are the user's plans for next year?",
]


def statements() -> list[tuple[str, str]]:
    """Every (kind, text) the templates can make."""
    made: list[tuple[str, str]] = []
    for kind, template, slot in TEMPLATES:
        made.extend((kind, template.format(**{slot: value})) for value in _VALUES[slot])
    return made


def user_sizes(rows: int, users: int, seed: int) -> list[int]:
    """Rows per user, skewed like real usage: a few heavy users, a long tail of light ones."""
    rng = random.Random(seed)
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(users)]
    rng.shuffle(weights)
    total = sum(weights)
    sizes = [max(1, int(rows * w / total)) for w in weights]
    sizes[0] += rows - sum(sizes)
    return sizes


def questions(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    pool = list(itertools.islice(itertools.cycle(QUESTIONS), max(count, len(QUESTIONS))))
    rng.shuffle(pool)
    return pool[:count]
