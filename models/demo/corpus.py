"""Templated English corpus for the bundled demo model.

Each template is a tiny, fully deterministic "fact" so that a model of a few
hundred thousand parameters learns it to high confidence, and so that an
attribution graph on one of the prompts has a small, readable circuit:

* capitals: ``The capital of France is Paris.`` (and reversed / city-in forms),
* languages: ``In France, people speak French.``,
* opposites: ``The opposite of small is large.`` (both directions),
* counting: ``one two three four`` (a run of number words from a random start),
* days: ``Monday Tuesday Wednesday`` (a cyclic run of day names).

Pure stdlib; the generator is seeded so the same seed gives the same corpus.
"""

from __future__ import annotations

import random
from collections.abc import Callable

CAPITALS: tuple[tuple[str, str, str], ...] = (
    # (country, capital, language)
    ("France", "Paris", "French"),
    ("Germany", "Berlin", "German"),
    ("Italy", "Rome", "Italian"),
    ("Spain", "Madrid", "Spanish"),
    ("Japan", "Tokyo", "Japanese"),
    ("China", "Beijing", "Chinese"),
    ("Russia", "Moscow", "Russian"),
    ("Egypt", "Cairo", "Arabic"),
    ("Greece", "Athens", "Greek"),
    ("Portugal", "Lisbon", "Portuguese"),
    ("Poland", "Warsaw", "Polish"),
    ("Sweden", "Stockholm", "Swedish"),
    ("Norway", "Oslo", "Norwegian"),
    ("Austria", "Vienna", "German"),
    ("Ireland", "Dublin", "English"),
    ("England", "London", "English"),
    ("Canada", "Ottawa", "English"),
    ("Mexico", "Mexico City", "Spanish"),
    ("Peru", "Lima", "Spanish"),
    ("Kenya", "Nairobi", "Swahili"),
    ("India", "Delhi", "Hindi"),
    ("Turkey", "Ankara", "Turkish"),
    ("Brazil", "Brasilia", "Portuguese"),
    ("Cuba", "Havana", "Spanish"),
)

OPPOSITES: tuple[tuple[str, str], ...] = (
    ("small", "large"),
    ("hot", "cold"),
    ("up", "down"),
    ("fast", "slow"),
    ("old", "new"),
    ("happy", "sad"),
    ("light", "dark"),
    ("early", "late"),
    ("high", "low"),
    ("open", "closed"),
    ("wet", "dry"),
    ("hard", "soft"),
    ("good", "bad"),
    ("rich", "poor"),
    ("long", "short"),
    ("full", "empty"),
    ("strong", "weak"),
    ("thick", "thin"),
)

NUMBERS: tuple[str, ...] = (
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve",
)

DAYS: tuple[str, ...] = (
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
)

DEMO_PROMPTS: tuple[tuple[str, str], ...] = (
    ("The capital of France is", " Paris"),
    ("The opposite of small is", " large"),
    ("one two three", " four"),
)
"""Prompts the README reports top-5 predictions for, with the expected next token."""


def _capital(rng: random.Random) -> str:
    country, city, language = rng.choice(CAPITALS)
    form = rng.random()
    if form < 0.55:
        return f"The capital of {country} is {city}."
    if form < 0.7:
        return f"{city} is the capital of {country}."
    if form < 0.85:
        return f"{city} is a city in {country}."
    return f"In {country}, people speak {language}."


def _opposite(rng: random.Random) -> str:
    a, b = rng.choice(OPPOSITES)
    if rng.random() < 0.5:
        a, b = b, a
    return f"The opposite of {a} is {b}."


def _run(words: tuple[str, ...], rng: random.Random, cyclic: bool) -> str:
    length = rng.randint(3, 7)
    if cyclic:
        start = rng.randrange(len(words))
        return " ".join(words[(start + k) % len(words)] for k in range(length))
    # Starting at "one" most often makes "one two three" -> " four" the clearest case.
    start = 0 if rng.random() < 0.4 else rng.randrange(len(words) - length + 1)
    return " ".join(words[start:start + length])


def _counting(rng: random.Random) -> str:
    return _run(NUMBERS, rng, cyclic=False)


def _days(rng: random.Random) -> str:
    return _run(DAYS, rng, cyclic=True)


_TEMPLATES: tuple[tuple[Callable[[random.Random], str], float], ...] = (
    (_capital, 0.4),
    (_opposite, 0.3),
    (_counting, 0.18),
    (_days, 0.12),
)


def sentence(rng: random.Random) -> str:
    """One random templated sentence."""
    makers = [m for m, _ in _TEMPLATES]
    weights = [w for _, w in _TEMPLATES]
    return rng.choices(makers, weights=weights, k=1)[0](rng)


def documents(n_docs: int, seed: int, max_sentences: int = 3) -> list[str]:
    """Generate ``n_docs`` short documents of 1..``max_sentences`` sentences.

    Args:
        n_docs: How many documents to produce.
        seed: Seed of the private ``random.Random`` used (global state is untouched).
        max_sentences: Upper bound on sentences per document.

    Returns:
        Documents as plain strings, sentences joined by single spaces (no BOS/EOS).
    """
    rng = random.Random(seed)
    return [" ".join(sentence(rng) for _ in range(rng.randint(1, max_sentences)))
            for _ in range(n_docs)]


def vocabulary_text() -> list[str]:
    """Every template word at least once, so the tokenizer can learn whole-word merges."""
    lines = [f"The capital of {c} is {p}. {p} is a city in {c}. In {c}, people speak {lang}."
             for c, p, lang in CAPITALS]
    lines += [f"The opposite of {a} is {b}. The opposite of {b} is {a}." for a, b in OPPOSITES]
    lines += [" ".join(NUMBERS), " ".join(DAYS)]
    return lines
