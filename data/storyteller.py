"""A deterministic, offline stand-in for the teacher model: procedurally generated (prompt, story) pairs.

The real pipeline distils instruction-following stories from a large teacher LLM. This module writes
synthetic ones from a small grammar, so that every other part of the project (tokenizer, training,
evaluation) runs with no network. The stories are synthetic and say so in the README.

Why a grammar and not free text: a tiny model (a few hundred thousand parameters) can learn it, and
instruction following can be scored *exactly*. Each prompt asks for a character name, a kind of
character, a place, an object and sometimes a helper; the record keeps those values in `attributes`, and
a story follows its instruction when `score_story` finds every one of them in it. Stories never mention
any other value from the lists below, so a story about the wrong fox in the wrong forest scores False.

Generalisation is tested with held-out pairings: about 10% of (kind, place) pairs never occur in the
"train" split and are the only pairs of the "heldout" split. Every single kind and place does occur in
training; only the combination is new (in the spirit of compositional splits such as SCAN/COGS).

    python -m data.storyteller --n 20000 --seed 0 --split train --out data/cache/train.jsonl
    python -m data.storyteller --n 3 --show 3
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import re
import sys
import time
import zlib

from data.records import write_jsonl
from errors import exit_with

# -----------------------------------------------------------------------------
# The values a prompt can ask for. Each is one common English word; no word is another's plural, and
# none of them (nor a plural of a kind or object) appears anywhere in the sentence templates below,
# so whole-word matching is unambiguous. Keep it that way when adding words: the tests check it.

ATTRIBUTES = ("name", "kind", "place", "object", "helper")

GIRL_NAMES = (
    "Mia", "Lily", "Emma", "Anna", "Sara", "Lucy", "Ella", "Zoe", "Amy", "Kate", "Nora", "Ruby",
    "Rosa", "Tina", "Lena", "Nina", "Maya", "Hannah", "Chloe", "Alice", "Sophie", "Clara", "Molly", "Bella",
)
BOY_NAMES = (
    "Leo", "Max", "Sam", "Tom", "Ben", "Jack", "Tim", "Finn", "Jake", "Luke", "Noah", "Liam",
    "Alex", "Owen", "Ryan", "Adam", "Eric", "Oscar", "Hugo", "Felix", "Oliver", "Henry", "Theo", "Nick",
)
NAMES = GIRL_NAMES + BOY_NAMES

# kind -> the names it may take. People get names that fit them; animals and creatures take any name,
# and their pronoun follows the name (a fox named Mia is "she").
HUMAN_KINDS = {"girl": GIRL_NAMES, "woman": GIRL_NAMES, "boy": BOY_NAMES, "man": BOY_NAMES}
KINDS = (
    "girl", "boy", "woman", "man", "fox", "rabbit", "bear", "dragon", "robot", "mouse",
    "cat", "dog", "duck", "turtle", "owl", "squirrel", "pig", "lion", "tiger", "monkey",
    "elephant", "penguin", "hedgehog", "badger", "horse", "goat", "unicorn", "giraffe", "panda", "frog",
)
ADULT_KINDS = ("woman", "man")  # "a little man" reads wrong; adults skip the size adjectives

# place -> the preposition that goes before "the <place>" when something happens there.
PLACES = {
    "forest": "in", "beach": "at", "castle": "at", "garden": "in", "village": "in", "meadow": "in",
    "cave": "in", "river": "by", "mountain": "on", "farm": "on", "library": "at", "park": "in",
    "lake": "by", "island": "on", "jungle": "in", "desert": "in", "pond": "by", "hill": "on",
    "valley": "in", "school": "at", "market": "at", "zoo": "at", "city": "in", "harbor": "at",
    "orchard": "in", "swamp": "in", "bakery": "at", "playground": "at", "museum": "at", "barn": "in",
}

OBJECTS = (
    "kite", "lantern", "key", "map", "shell", "hat", "ball", "book", "crown", "ring",
    "drum", "flute", "boat", "compass", "scarf", "basket", "bell", "clock", "coin", "feather",
    "umbrella", "blanket", "egg", "acorn", "balloon", "whistle", "wagon", "necklace", "puppy", "kitten",
)
PETS = ("puppy", "kitten")  # the living "objects": they get pet adjectives and can be found lost
FIXABLE = ("kite", "lantern", "drum", "flute", "boat", "compass", "bell", "clock", "umbrella",
           "whistle", "wagon", "necklace", "crown")  # things that can break and be mended

HELPERS = (
    "owl", "grandmother", "grandfather", "frog", "squirrel", "bee", "butterfly", "parrot",
    "beaver", "deer", "ladybug", "crab", "teacher", "fairy", "wizard",
)
HELPER_PROBABILITY = 1 / 3

# Unrequested variety: these words are not scored, so they may repeat freely across stories.
KIND_ADJECTIVES = ("brave", "curious", "happy", "clever", "gentle", "cheerful", "friendly", "shy", "young")
SIZE_ADJECTIVES = ("little", "small")
THING_ADJECTIVES = ("shiny", "red", "blue", "green", "yellow", "golden", "silver", "little", "old",
                    "special", "magic", "pretty", "big", "purple", "bright", "tiny")
PET_ADJECTIVES = ("little", "tiny", "fluffy", "sleepy", "small", "playful")
HELPER_ADJECTIVES = ("wise", "kind", "friendly", "clever", "gentle", "helpful", "old", "cheerful")
TRAITS = ("brave", "curious", "kind", "cheerful", "gentle", "clever", "friendly", "helpful")
SAD_FEELINGS = ("sad", "upset", "worried", "unhappy")
SCARED_FEELINGS = ("scared", "afraid", "nervous", "worried")

# -----------------------------------------------------------------------------
# Prompt templates. The attributes come in a different order in different templates, so a model must
# read the prompt rather than rely on position. Fields:
#   {a_kind} "a fox"  {name} "Leo"  {kind} "fox"  {does} "finds a shiny key"  {does_it} "finds it"
#   {at_place} "in the forest"  {At_place} "In the forest"  {at_a_place} "in a forest"  {a_object} "a shiny key"
#   {help} " with help from a wise owl" or ""   {help_sentence} e.g. " Add a wise owl who helps." or ""
#   {items} "a fox called Leo, a shiny key, and a forest" (shuffled)   {words} "key, Leo, forest, fox" (shuffled)

PROMPT_TEMPLATES = (
    "Write a story about {a_kind} named {name} who {does} {at_place}{help}.",
    "Tell me a story where {name} the {kind} {does} {at_place}{help}.",
    "Write a short story featuring {items}.",
    "Can you write a story about {name}, {a_kind} who {does} {at_place}{help}?",
    "Write a children's story set {at_a_place} about {a_kind} named {name} who {does}{help}.",
    "{At_place}, {name} the {kind} {does}{help}. Write a story about it.",
    "Write a story that has {a_object} and {a_kind} named {name} who {does_it} {at_place}{help}.",
    "I want a story. The main character is {a_kind} named {name}. The story happens {at_place}, "
    "and it is about {a_object}.{help_sentence}",
    "Write a bedtime story that takes place {at_place}. It is about {a_kind} named {name} who {does}{help}.",
    "Write a story with these words: {words}.",
    "Write a simple story about {name}. {name} is {a_kind}. The story should have {a_object} "
    "and take place {at_place}.{help_sentence}",
)
HELP_CLAUSES = (" with help from {a_helper}", ", and {a_helper} helps", " with the help of {a_helper}",
                " and gets help from {a_helper}")
HELP_SENTENCES = (" {A_helper} helps along the way.", " It should also have {a_helper} who helps.",
                  " Add {a_helper} who helps.")

# -----------------------------------------------------------------------------
# Story templates, one pool per slot. Fields (pronouns are written in the male form and swapped):
#   {name} {kind} {a_kind} "a little fox"  {the_place} "the forest"  {at_place} "in the forest"
#   {obj} "key"  {adj_obj} "shiny key"  {a_adj_obj} "a shiny key"  {helper} "owl"  {a_helper} "a wise owl"
#   {he} {He} {him} {his} {His} {himself}  {trait} {sad} {scared}

OPENINGS = (
    "Once upon a time, there was {a_kind} named {name} who lived near {the_place}.",
    "Once upon a time, {a_kind} named {name} lived near {the_place}.",
    "There once was {a_kind} called {name}. {He} lived near {the_place}.",
    "{name} was {a_kind} who lived near {the_place}.",
    "Long ago, near {the_place}, there lived {a_kind} named {name}.",
    "Not far from {the_place}, there lived {a_kind} named {name}.",
    "Once there was {a_kind} named {name}. {His} home was near {the_place}.",
    "In a cozy home near {the_place}, there lived {a_kind} named {name}.",
    "Once upon a time, near {the_place}, lived {a_kind} called {name}.",
    "This is a story about {a_kind} named {name}, who lived near {the_place}.",
)
DESCRIPTIONS = (
    "{He} was {trait} and loved to explore.",
    "{He} had a big smile and a warm heart.",
    "{He} loved to sing happy songs as {he} walked.",
    "Every day, {he} played outside from morning until night.",
    "{He} liked to watch the clouds and listen to the birds.",
    "Everyone who knew {name} said that {he} was very {trait}.",
    "{His} favorite thing to do was to run and jump and laugh.",
    "{He} always said hello to everyone {he} met.",
    "{name} was {trait}, and {he} liked to try new things.",
    "{He} liked to draw pictures and tell funny jokes.",
    "{His} friends loved to play with {him} every day.",
)
DAYS = (  # the sentence that starts the day of the story: weather, or just a time
    "One morning, the sun was shining and the sky was blue.",
    "One day, it was windy, and the leaves were dancing in the air.",
    "One cold morning, the grass was wet with dew.",
    "One day, a soft rain was falling, and the air smelled fresh.",
    "One day, the weather was warm, and the birds were singing.",
    "One night, snow fell, and in the morning everything was white and quiet.",
    "One day, big gray clouds filled the sky, but the air was warm.",
    "One sunny afternoon, everything looked bright and happy.",
    "One day, {name} woke up early.",
    "One day, {name} woke up with the sun.",
    "One bright morning, the wind was soft and the air was cool.",
)
SEARCHING = (
    "{He} looked under rocks and behind bushes.",
    "{He} looked high and low, but {he} could not see it anywhere.",
    "{He} searched all morning, but the {obj} was nowhere to be seen.",
    "{He} walked up and down, looking everywhere.",
    "{He} looked to the left and to the right, but there was nothing there.",
)
OBSTACLES = (
    "Soon {his} legs were tired, and {he} wanted to give up.",
    "Then it began to get dark, and {name} felt {scared}.",
    "A cold wind began to blow, and {he} started to shiver.",
    "The way was long, and {he} was getting hungry.",
    "Then a big gray cloud came, and it started to rain.",
)
# When a helper was asked for, the opening paragraph introduces it as a friend, so that a small model
# decides "this story has a helper" right after reading the prompt, not a hundred tokens later; then it
# arrives in the middle of the story, speaks, and helps.
HELPER_INTRODUCTIONS = (
    "{He} often played with {a_helper}.",
    "{name} had a good friend, {a_helper}.",
    "{He} was good friends with {a_helper} who lived nearby.",
    "Nearby lived {a_helper}, who was {his} friend.",
)
HELPER_ARRIVES = (
    "Just then, {a_helper} came by.",
    "Then {name} met {a_helper}.",
    "Luckily, {a_helper} was nearby and saw {him}.",
    "Soon, {a_helper} came to see what was wrong.",
)
HELPER_SPEAKS = (
    "\"Can I help you?\" asked the {helper}. {name} told the {helper} everything.",
    "\"Do not worry,\" said the {helper}. \"I will help you.\"",
    "\"I know what to do,\" said the {helper} with a smile.",
    "The {helper} listened carefully and then had a good idea.",
)
HELPER_HELPS = (
    "The {helper} showed {him} what to do.",
    "Together, they tried one more time.",
    "The {helper} stayed with {him} every step of the way.",
)
HELPER_THANKS = (
    "{name} thanked the {helper} with a big hug.",
    "\"Thank you!\" {name} said to the {helper}.",
    "{name} and the {helper} laughed together.",
)
ALONE = (  # what happens instead when no helper was asked for
    "{name} sat down and thought very hard. Then {he} had an idea.",
    "{name} took a deep breath and told {himself} not to give up.",
    "But the {kind} was {trait}, and {he} did not give up.",
    "{name} remembered that {he} was {trait}, so {he} kept going.",
)
FEELINGS = (
    "{name} was so happy that {he} jumped up and down.",
    "{name} felt proud and happy.",
    "{name} smiled from ear to ear.",
    "{name} laughed and danced in a circle.",
    "{name} could not stop smiling.",
)
ENDINGS = (
    "That night, {name} went to sleep with a big smile.",
    "{name} learned that it is good to never give up.",
    "It was the best day ever.",
    "{name} would always remember that day {at_place}.",
    "And {name} lived happily ever after.",
    "After that, the {kind} went home, happy and proud.",
    "The sun went down, and {name} knew that {he} could do hard things.",
    "{name} hummed a happy song all the way home.",
)
HELPER_ENDINGS = (
    "{name} learned that friends can make hard things easy.",
    "From then on, {name} and the {helper} were the best of friends.",
)
KEEP_ENDINGS = (  # only for plots where the character keeps the object
    "From that day on, {name} took good care of the {obj}.",
    "{name} kept the {obj} safe forever.",
)

# A plot decides the goal: what the prompt says the character does with the object, how the story sets
# it up (one sentence from each slot; "" means the slot may be skipped), what the struggle looks like,
# and how it ends.
PLOTS = {
    "lose": {
        "does": "looks for {his} lost {obj}", "does_it": "looks for it", "keeps": True,
        "setup": (
            ("{His} favorite thing in the whole world was {a_adj_obj}.",
             "{name} had {a_adj_obj} that {he} loved very much.",
             "{name} had {a_adj_obj}, and {he} took it everywhere."),
            ("{He} took the {obj} out to play {at_place}, but later the {obj} was gone!",
             "But that day, {he} lost the {obj} {at_place}.",
             "That day, {he} took the {obj} to {the_place}, but on the way home {he} saw that it was gone!"),
            ("\"Oh no!\" cried {name}. \"Where is my {obj}?\"",
             "{name} felt {sad}, and {his} eyes filled with tears.", ""),
        ),
        "struggle": SEARCHING,
        "resolution": (
            "At last, {he} saw something under a pile of leaves. It was {his} {adj_obj}!",
            "Then {he} saw something behind a big rock. It was the {obj}!",
            "Finally, {name} found the {obj} right where {he} had stopped to rest.",
        ),
    },
    "find": {
        "does": "finds {a_adj_obj}", "does_it": "finds it", "keeps": False,
        "setup": (
            ("While {he} was walking {at_place}, {he} saw something under a bush.",
             "As {he} played {at_place}, {he} heard a little noise.",
             "{He} was walking {at_place} when something caught {his} eye."),
            ("It was {a_adj_obj}!", "{He} looked closer and found {a_adj_obj}."),
            ("Who did it belong to? {name} wanted to give it back.",
             "{name} knew that someone must be missing the {obj}."),
        ),
        "struggle": (
            "{He} asked everyone {he} met, but nobody knew.",
            "{He} walked a long way, holding the {obj} carefully.",
            "{He} looked for the owner all day long.",
        ),
        "resolution": (
            "At last, {he} heard someone crying. It was a small child who had lost the {obj}.",
            "Finally, {name} met a child who was looking for the {obj} too. \"That is mine!\" said the child.",
        ),
    },
    "quest": {
        "does": "goes looking for {a_adj_obj}", "does_it": "goes looking for it", "keeps": True,
        "setup": (
            ("{name} had heard about {a_adj_obj} hidden somewhere {at_place}.",
             "Everyone said that {a_adj_obj} was hidden somewhere {at_place}.",
             "{name} dreamed of finding {a_adj_obj} {at_place}."),
            ("{He} wanted to find it more than anything.",
             "{He} decided to go and look for it.",
             "So {he} packed a snack and set off."),
        ),
        "struggle": SEARCHING,
        "resolution": (
            "At last, {he} found the {adj_obj} in a quiet spot where nobody had looked before.",
            "Then, behind a big rock, {he} saw it. It was the {adj_obj}!",
            "Finally, {name} found it. The {adj_obj} was even better than {he} had dreamed.",
        ),
    },
    "bring": {
        "does": "brings {a_adj_obj} to a friend", "does_it": "brings it to a friend", "keeps": False,
        "setup": (
            ("{name} had {a_adj_obj} for {his} best friend.",
             "{name} wanted to give {a_adj_obj} to {his} best friend as a gift."),
            ("But {his} friend lived on the far side of {the_place}.",
             "{His} friend was waiting {at_place}, and the way there was long."),
        ),
        "struggle": (
            "The path was long and bumpy, and {he} had to walk very carefully.",
            "On the way, the wind almost took the {obj} away.",
            "Soon {he} came to a muddy path, and {his} feet got stuck.",
            "Then {he} took a wrong turn and did not know which way to go.",
        ),
        "resolution": (
            "At last, {name} reached {his} friend and handed over the {obj}.",
            "Finally, {name} arrived and gave the {adj_obj} to {his} friend. {His} friend jumped for joy.",
        ),
    },
    "fix": {
        "does": "fixes {his} {adj_obj}", "does_it": "fixes it", "keeps": True, "only": FIXABLE,
        "setup": (
            ("{name} had {a_adj_obj} that {he} loved very much.",
             "{His} most special thing was {a_adj_obj}."),
            ("But one day, {he} dropped it {at_place}, and it broke!",
             "But that day {at_place}, {he} found that the {obj} was broken."),
            ("{name} felt very {sad}.", ""),
        ),
        "struggle": (
            "{He} tried to fix it by {himself}, but it did not work.",
            "{He} tried again and again, but the {obj} was still broken.",
            "{He} did not know how to make it work again.",
        ),
        "resolution": (
            "{name} worked slowly and carefully, and soon the {obj} was as good as new.",
            "At last, the {obj} worked again, just like before!",
            "{name} fixed the last little piece, and the {obj} was whole again.",
        ),
    },
}

MIN_WORDS, MAX_WORDS = 80, 250

# -----------------------------------------------------------------------------
# Held-out rule and scoring


def is_heldout(attributes: dict) -> bool:
    """True when the (kind, place) pair is held out of training: CRC-32 of "kind|place" is 0 mod 10.

    CRC-32 (not Python's hash(), which is salted per process) makes the rule the same on every machine.
    """
    key = f"{attributes['kind']}|{attributes['place']}".encode("utf-8")
    return zlib.crc32(key) % 10 == 0


PAIRS = [(kind, place) for kind in KINDS for place in PLACES]
TRAIN_PAIRS = [p for p in PAIRS if not is_heldout({"kind": p[0], "place": p[1]})]
HELDOUT_PAIRS = [p for p in PAIRS if is_heldout({"kind": p[0], "place": p[1]})]


@functools.lru_cache(maxsize=None)
def _word_pattern(word: str, plural: bool) -> re.Pattern:
    return re.compile(r"\b" + re.escape(word) + (r"s?" if plural else "") + r"\b", re.IGNORECASE)


def score_story(story: str, attributes: dict) -> dict[str, bool]:
    """For each requested attribute, whether the story mentions its value.

    Matching is case-insensitive and on whole words ("fox" does not match "foxglove"); kinds and
    objects may also appear with a plural "s" ("kites"). A possessive ("Mia's") counts as the name.
    """
    return {key: bool(_word_pattern(value, key in ("kind", "object")).search(story))
            for key, value in attributes.items()}


# -----------------------------------------------------------------------------
# Generation


def with_article(phrase: str) -> str:
    """'a' or 'an' by the sound of the first word: an owl, an old key, a unicorn, an umbrella."""
    first = phrase.split()[0].lower()
    vowel_sound = first[0] in "aeiou" and not first.startswith(("uni", "use", "eu", "one"))
    return ("an " if vowel_sound else "a ") + phrase


def _capitalize(text: str) -> str:
    return text[0].upper() + text[1:]


def _pronouns(name: str) -> dict[str, str]:
    if name in GIRL_NAMES:
        return {"he": "she", "He": "She", "him": "her", "his": "her", "His": "Her", "himself": "herself"}
    return {"he": "he", "He": "He", "him": "him", "his": "his", "His": "His", "himself": "himself"}


def _sample_attributes(rng: random.Random, split: str) -> dict:
    kind, place = rng.choice(TRAIN_PAIRS if split == "train" else HELDOUT_PAIRS)
    attributes = {"name": rng.choice(HUMAN_KINDS.get(kind, NAMES)), "kind": kind, "place": place,
                  "object": rng.choice(OBJECTS)}
    if rng.random() < HELPER_PROBABILITY:
        attributes["helper"] = rng.choice([h for h in HELPERS if h != kind])
    return attributes


def _story_fields(rng: random.Random, attributes: dict, plot: str) -> dict[str, str]:
    """Everything a prompt or story template can refer to, sampled once per record."""
    kind, place, obj = attributes["kind"], attributes["place"], attributes["object"]
    if obj in PETS:
        adjective = "lost" if plot == "find" and rng.random() < 0.5 else rng.choice(PET_ADJECTIVES)
    else:
        adjective = rng.choice(THING_ADJECTIVES)
    kind_adjectives = KIND_ADJECTIVES + (() if kind in ADULT_KINDS else SIZE_ADJECTIVES)
    adj_kind = f"{rng.choice(kind_adjectives)} {kind}" if rng.random() < 0.7 else kind
    at_place = f"{PLACES[place]} the {place}"
    fields = {
        "name": attributes["name"], "kind": kind, "a_kind": with_article(adj_kind),
        "place": place, "the_place": f"the {place}", "at_place": at_place,
        "obj": obj, "adj_obj": f"{adjective} {obj}", "a_adj_obj": with_article(f"{adjective} {obj}"),
        "trait": rng.choice(TRAITS), "sad": rng.choice(SAD_FEELINGS), "scared": rng.choice(SCARED_FEELINGS),
        **_pronouns(attributes["name"]),
    }
    if "helper" in attributes:
        fields["helper"] = attributes["helper"]
        fields["a_helper"] = with_article(f"{rng.choice(HELPER_ADJECTIVES)} {attributes['helper']}")
        fields["A_helper"] = _capitalize(fields["a_helper"])
    return fields


def _write_story(rng: random.Random, fields: dict[str, str], plot: str) -> str:
    """Five sections (intro, problem, struggle, resolution, ending) grouped into 2-4 paragraphs."""
    p = PLOTS[plot]
    has_helper = "helper" in fields
    intro = [rng.choice(OPENINGS)] + rng.sample(DESCRIPTIONS, rng.choice((1, 1, 2)))
    if has_helper:
        intro.append(rng.choice(HELPER_INTRODUCTIONS))
    problem = [rng.choice(DAYS)] + [s for s in (rng.choice(slot) for slot in p["setup"]) if s]
    struggle = rng.sample(p["struggle"], rng.choice((1, 2)))
    if rng.random() < 0.6:
        struggle.append(rng.choice(OBSTACLES))
    if has_helper:
        struggle += [rng.choice(HELPER_ARRIVES), rng.choice(HELPER_SPEAKS), rng.choice(HELPER_HELPS)]
    else:
        struggle.append(rng.choice(ALONE))
    resolution = [rng.choice(p["resolution"]), rng.choice(FEELINGS)]
    if has_helper:
        resolution.append(rng.choice(HELPER_THANKS))
    endings = ENDINGS + (HELPER_ENDINGS if has_helper else ()) + (KEEP_ENDINGS if p["keeps"] else ())
    ending = rng.sample(endings, rng.choice((1, 2)))

    sections = [intro, problem, struggle, resolution, ending]
    n_paragraphs = rng.choice((2, 3, 3, 4))
    cuts = sorted(rng.sample(range(1, len(sections)), n_paragraphs - 1)) + [len(sections)]
    paragraphs, start = [], 0
    for cut in cuts:
        sentences = [s for section in sections[start:cut] for s in section]
        paragraphs.append(" ".join(sentences).format_map(fields))
        start = cut
    return "\n\n".join(paragraphs)


def _write_prompt(rng: random.Random, fields: dict[str, str], attributes: dict, plot: str) -> str:
    does = PLOTS[plot]["does"].format_map(fields)
    a_object = with_article(fields["adj_obj"])
    items = [f"{with_article(attributes['kind'])} called {attributes['name']}", a_object,
             with_article(attributes["place"])]
    words = [attributes["name"], attributes["kind"], attributes["place"], attributes["object"]]
    help_clause = help_sentence = ""
    if "helper" in attributes:
        items.append(fields["a_helper"])
        words.append(attributes["helper"])
        help_clause = rng.choice(HELP_CLAUSES).format_map(fields)
        help_sentence = rng.choice(HELP_SENTENCES).format_map(fields)
    rng.shuffle(items)
    rng.shuffle(words)
    prompt_fields = {
        "name": attributes["name"], "kind": attributes["kind"], "a_kind": with_article(attributes["kind"]),
        "does": does, "does_it": PLOTS[plot]["does_it"], "a_object": a_object,
        "at_place": fields["at_place"], "At_place": _capitalize(fields["at_place"]),
        "at_a_place": f"{PLACES[attributes['place']]} {with_article(attributes['place'])}",
        "help": help_clause, "help_sentence": help_sentence,
        "items": ", ".join(items[:-1]) + ", and " + items[-1], "words": ", ".join(words),
    }
    return rng.choice(PROMPT_TEMPLATES).format_map(prompt_fields)


def make_record(rng: random.Random, split: str = "train") -> dict:
    """One record: {"prompt", "story", "attributes", "split"}, drawn from rng."""
    attributes = _sample_attributes(rng, split)
    plots = [name for name, p in PLOTS.items() if attributes["object"] in p.get("only", OBJECTS)]
    plot = rng.choice(plots)
    fields = _story_fields(rng, attributes, plot)
    while True:  # nearly every draw is in range; redrawing keeps the length bounds exact
        story = _write_story(rng, fields, plot)
        if MIN_WORDS <= len(story.split()) <= MAX_WORDS:
            break
    prompt = _write_prompt(rng, fields, attributes, plot)
    return {"prompt": prompt, "story": story, "attributes": attributes, "split": split}


def make_records(n: int, seed: int = 0, split: str = "train") -> list[dict]:
    """n records from one random.Random stream, so the first k of make_records(n) equal make_records(k).

    split "train" draws only (kind, place) pairs that are not held out, "heldout" only pairs that are.
    """
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout', not {split!r}")
    if n < 0:
        raise ValueError(f"n must be >= 0, not {n}")
    # Seeding with a string is stable across Python versions (it hashes with SHA-512, not hash()),
    # and gives the two splits independent streams for the same seed.
    rng = random.Random(f"storyteller:{split}:{seed}")
    return [make_record(rng, split) for _ in range(n)]


# -----------------------------------------------------------------------------
# CLI


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Write synthetic (prompt, story) records as JSONL: the offline "
                                         "stand-in for teacher-distilled stories.")
    parser.add_argument("--n", type=int, default=20000, help="number of records (default 20000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--split", choices=("train", "heldout"), default="train",
                        help="train: (kind, place) pairs seen in training; heldout: the held-out pairs")
    parser.add_argument("--out", help="output .jsonl path (written atomically)")
    parser.add_argument("--show", type=int, default=0, metavar="K", help="print the first K records")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error(f"--n must be at least 1, got {args.n}")
    if args.show < 0:
        parser.error(f"--show must be >= 0, got {args.show}")
    if not args.out and not args.show:
        parser.error("nothing to do: give --out PATH.jsonl and/or --show K")

    t0 = time.time()
    records = make_records(args.n, args.seed, args.split)
    elapsed = time.time() - t0
    for i, record in enumerate(records[:args.show]):
        print(f"--- record {i} ({record['split']}) {json.dumps(record['attributes'])}")
        print(f"PROMPT: {record['prompt']}\n\n{record['story']}\n")
    if args.out:
        try:
            write_jsonl(records, args.out)
        except OSError as e:
            exit_with(e)
        words = sum(len(r["story"].split()) for r in records)
        print(f"wrote {len(records)} {args.split} records ({words / len(records):.0f} words per story) "
              f"to {args.out} in {elapsed:.1f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
