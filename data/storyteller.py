"""A deterministic, offline stand-in for the teacher model: procedurally generated (prompt, story) pairs.

The real pipeline distils instruction-following stories from a large teacher LLM. This module writes
synthetic ones from a small grammar, so that every other part of the project (tokenizer, training,
evaluation) runs with no network. The stories are synthetic and say so in the README.

What it teaches is copying, not lists. A prompt asks for a story shaped by one of eight plots, in the
shapes people type ("a robot who wants to learn to dance", "a princess who is afraid of the dark",
"a seal who juggles fish", "a hippo who wants to be a ballerina",
"a knight and a snail become friends at the market", "two penguins who build a sandcastle", "a fox
named Priya who loses her umbrella", "an owl who finds a key in the attic"), with words drawn from open
lists of hundreds per slot (data/words.py), with and without names and places, in many phrasings. The
story uses every word the prompt asked for, in its first sentences and again later, so a model learns
to carry a word from the prompt into the story whatever the word is. Each record keeps the words it
was asked for (`words`), so scoring stays exact (data/scoring.py).

Generalisation is measured on two held-out splits:
  heldout        new combinations: (character, second word) pairs, 1 in 10 by a CRC-32 rule, that never
                 occur in training, made of words that do
  heldout-words  words never seen at all: about 3 in 20 words of every slot (CRC-32 of the word) are
                 kept out of training entirely, and these prompts use only such words
The template text never uses a held-out word, so a held-out word reaches no training shard.

    python -m data.storyteller --n 20000 --seed 0 --split train --out data/cache/train.jsonl
    python -m data.storyteller --n 3 --show 3 --split heldout-words
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

from data import words as W
from data.records import write_jsonl
from errors import exit_with

VERSION = 2  # part of the cache file name of the built-in records: a new version is new data
SPLITS = ("train", "heldout", "heldout-words")
MIN_WORDS, MAX_WORDS = 90, 150
# Prompt and story must fit the default 256-token context together. Words alone do not bound tokens (a
# story that repeats "somersault" is long in tokens), so the characters are bounded too; the test
# encodes every training pair with the quickstart's vocabulary to check.
MAX_CHARS = 680

# -----------------------------------------------------------------------------
# Sentence pools. Fields: {name} {char} {a_char} ("a sleepy robot") {chars} (plural) {the_place}
# {at_place} ("at the beach") {obj} {a_obj} ("a red umbrella") {verb} {verbs} {verbed} {verbing}
# {fear} (the word) {fear_phrase} ("the dark") {Fear_phrase} {fear_was} ("was"/"were") {name2} {char2}
# {a_char2} {building} {a_building} {friend} ("mother"); pronouns in the male form, swapped per name:
# {he} {He} {him} {his} {His}. A tuple is one choice; "" lets a slot be skipped.

FRIENDS = ("mother", "father", "grandma", "grandpa", "best friend", "big sister", "big brother")

# sentences any plot can use: who the character is, what the day is like, how the story ends
DESCRIBE = ("{He} was kind and loved to play outside.", "{He} had a big smile and a warm heart.",
            "{He} loved to sing happy songs all day long.", "Everyone who knew {name} said {he} was very kind.",
            "{His} friends loved to play with {him} every day.", "{He} liked to watch the clouds and listen to the birds.")
DAY = ("One morning, the sun was shining and the sky was blue.", "One day, it was windy, and the leaves danced in the air.",
       "One cold morning, the grass was wet with dew.", "One warm day, the birds were singing.",
       "One bright morning, the wind was soft and the air was cool.")
CLOSE = ("That night, {name} went to sleep with a big smile.", "It was the best day ever.",
         "And they all lived happily ever after.", "The sun went down, and everyone went home happy.",
         "{name} hummed a happy song all the way home.")

PLOTS = {
    "wants": {
        "words": ("char", "verb"),
        "prompts": (
            "Write a story about {a_char_p} who wants to {verb}{at_place_p}.",
            "Write a story about {a_char_p} who wants to learn to {verb}.",
            "Tell me a story about {a_char_p} who dreams of {verbing}{at_place_p}.",
            "Can you tell me a story about {a_char_p} who wants to {verb}?",
            "A story about {a_char_p} who loves to {verb}.",
            "Once upon a time there was {a_char_p} who wanted to {verb}. What happened next?",
            "I would like a story about {a_char_p} learning to {verb}{at_place_p}.",
            "Write a bedtime story about {a_char_p} who wishes to {verb}.",
        ),
        "story": (
            ("Once upon a time, there was {a_char} named {name} who wanted to {verb} more than anything.",
             "{name} was {a_char} who dreamed of {verbing}.",
             "There once lived {a_char} called {name}. More than anything, {name} wanted to learn to {verb}."),
            ("{He} lived near {the_place}.", "{His} home was near {the_place}."),
            ("Every day, {name} watched the others {verb} {at_place} and wished {he} could {verb} too.",
             "{He} often said, \"One day I will {verb}!\"",
             "But the {char} did not know how to {verb} yet."),
            DESCRIBE,
            "\n\n",
            DAY,
            ("The first time {name} tried to {verb}, {he} fell down.",
             "{name} tried to {verb}, but it was much harder than it looked.",
             "At first, {name} could not {verb} at all."),
            ("{He} felt sad, but {he} did not give up.", "Some friends laughed, and the {char} felt sad.", ""),
            ("Then {his} {friend} said, \"Let us practice together.\"",
             "{His} {friend} showed {him} how to {verb}, one small step at a time.",
             "So {name} practiced every morning and every evening {at_place}."),
            ("Day after day, {name} got a little better.", "{He} kept trying until the sun went down."),
            "\n\n",
            ("At last, {name} could {verb}! {He} {verbed} all afternoon {at_place}.",
             "Finally, the day came when {name} {verbed} better than ever before.",
             "One morning, {name} {verbed} so well that everyone clapped."),
            ("{name} was so happy that {he} laughed out loud.", "{name} felt proud and happy."),
            ("{name} learned that practice makes hard things easy.",
             "From then on, the {char} {verbed} every day.",
             "And {name} never stopped {verbing}."),
            CLOSE,
        ),
    },
    "does": {
        "words": ("char", "action", "obj"),
        "prompts": (
            "Write a story about {a_char_p} who {actions} {a_obj}.",
            "Tell me a story about {a_char_p} who loves to {action} {objs}.",
            "Can you write a story about {a_char_p} who {actioned} {a_obj}{at_place_p}?",
            "A funny story about {a_char_p} who {actions} {objs}{at_place_p}.",
            "{A_char_p} who {actions} {a_obj}.",
            "Once upon a time there was {a_char_p} who {actioned} {a_obj}. What happened next?",
            "I want a story about {a_char_p} who likes {actioning} {objs}.",
        ),
        "story": (
            ("Once upon a time, {a_char} named {name} {actioned} {a_obj}.",
             "{name} was {a_char} who loved to {action} {objs}.",
             "There once was {a_char} called {name} who liked {actioning} {objs} more than anything."),
            ("{He} lived near {the_place}.", "{His} home was near {the_place}."),
            ("Nobody had ever seen {a_char_bare} {action} {a_obj} before.",
             "Everyone {at_place} talked about the {char} and the {obj}."),
            DESCRIBE,
            "\n\n",
            DAY,
            ("That day, {name} wanted to {action} the biggest {obj} of all.",
             "That day, {name} {actioned} the {obj} so well that everyone came to watch."),
            ("But something went wrong, and the {obj} rolled away!", "But it was harder than {he} thought."),
            ("{His} {friend} helped {him} try again.", "{name} did not give up.", ""),
            "\n\n",
            ("At last, {name} {actioned} the {obj}, and everyone cheered.",
             "In the end, the {char} {actioned} the {obj} and laughed."),
            ("From then on, everyone knew {name} as the {char} who {actions} {objs}.", "{name} was happy and proud."),
            CLOSE,
        ),
    },
    "be": {
        "words": ("char", "char2"),
        "prompts": (
            "Write a story about {a_char_p} who wants to be {a_char2}.",
            "Tell me a story about {a_char_p} who dreams of being {a_char2}.",
            "{A_char_p} who wants to become {a_char2}.",
            "A fairy tale about {a_char_p} who wishes to be {a_char2}.",
            "Can you write a story about {a_char_p} who pretends to be {a_char2}{at_place_p}?",
        ),
        "story": (
            ("Once upon a time, there was {a_char} named {name} who wanted to be {a_char2}.",
             "{name} was {a_char} who dreamed of being {a_char2}."),
            ("{He} lived near {the_place}.", "{His} home was near {the_place}."),
            ("Every night, {name} dreamed of being {a_char2}.", "{He} told everyone, \"One day I will be {a_char2}!\""),
            DESCRIBE,
            "\n\n",
            DAY,
            ("Some friends laughed and said, \"{A_char_bare} cannot be {a_char2}!\"", "But being {a_char2} was not easy."),
            ("{name} felt sad, but {he} did not give up.", "The {char} thought very hard."),
            ("So {he} watched {a_char2} {at_place} and learned everything.",
             "{His} {friend} helped {him} practice every day."),
            "\n\n",
            ("At last, {name} became the best {char2} {at_place}.", "In the end, the {char} was a wonderful {char2}."),
            ("Everyone cheered for the {char} who became {a_char2}.", "{name} smiled from ear to ear."),
            CLOSE,
        ),
    },
    "afraid": {
        "words": ("char", "fear"),
        "prompts": (
            "Write a story about {a_char_p} who is afraid of {fear_phrase}.",
            "Tell me a story about {a_char_p} who is scared of {fear_phrase}{at_place_p}.",
            "Can you write a story about {a_char_p} who does not like {fear_phrase}?",
            "A story about {a_char_p} who is afraid of {fear_phrase}{at_place_p}.",
            "Once upon a time there was {a_char_p} who was afraid of {fear_phrase}. What happened next?",
            "I want a bedtime story about {a_char_p} who is frightened of {fear_phrase}.",
            "Write a short story about {a_char_p} who learns not to fear {fear_phrase}.",
        ),
        "story": (
            ("Once upon a time, there was {a_char} named {name} who was afraid of {fear_phrase}.",
             "{name} was {a_char} who was very scared of {fear_phrase}.",
             "There once was {a_char} called {name}, and {name} was afraid of {fear_phrase}."),
            ("{He} lived near {the_place}.", "{His} home was near {the_place}."),
            ("Just thinking about {fear_phrase} made {him} shiver.",
             "Whenever {he} thought of {fear_phrase}, {he} hid behind {his} {friend}.",
             "{He} did not like {fear_phrase} one bit."),
            DESCRIBE,
            "\n\n",
            DAY,
            ("One day, {name} had to face {fear_phrase} {at_place}.",
             "One evening {at_place}, {name} met {fear_phrase}, and {his} knees began to shake."),
            ("{His} {friend} held {his} hand and said, \"Do not worry. I am right here.\"",
             "{name} took a deep breath and counted to ten.",
             "{name} wanted to run away, but {he} stayed."),
            ("Slowly, {name} looked at {fear_phrase} for a long time.",
             "Slowly, {name} stepped a little closer to {fear_phrase}."),
            "\n\n",
            ("{Fear_phrase} {fear_was} not so scary after all!", "{name} saw that {fear_phrase} {fear_was} not so bad."),
            ("{name} smiled a big smile.", "{name} felt brave and proud."),
            ("From that day on, {name} was not afraid of {fear_phrase} anymore.",
             "{name} learned that being brave means trying even when you are scared of {fear_phrase}."),
            CLOSE,
        ),
    },
    "friends": {
        "words": ("char", "char2", "place"),
        "prompts": (
            "Write a story about {a_char_p} and {a_char2_p} who become friends {at_place}.",
            "{A_char_p} and {a_char2_p} become friends {at_place}. Write a story about it.",
            "Tell me a story about how {a_char_p} and {a_char2_p} became friends {at_place}.",
            "Can you write a story where {a_char_p} meets {a_char2_p} {at_place}?",
            "A story about {a_char_p} and {a_char2_p} who meet {at_place}.",
            "Write a story about a friendship between {a_char_p} and {a_char2_p} {at_place}.",
        ),
        "story": (
            ("Once upon a time, {a_char} named {name} went to {the_place}.",
             "One sunny day, {a_char} called {name} was playing {at_place}."),
            ("There, {he} met {a_char2} named {name2}.", "Soon, {he} saw {a_char2} named {name2}."),
            ("At first, the {char} and the {char2} were shy.", "The {char2} looked lonely."),
            DESCRIBE,
            "\n\n",
            DAY,
            ("Then {name2} smiled and said, \"Do you want to play?\"", "{name} waved and said hello to the {char2}."),
            ("They played together {at_place} all day.", "The {char} and the {char2} ran and laughed {at_place}."),
            ("They shared a snack and told funny stories.", "They played hide and seek until they were tired.",
             "{name2} showed {name} {his2} favorite game."),
            ("When it started to rain, the {char2} shared {his2} umbrella.",
             "When {name} fell down, the {char2} helped {him} up.", ""),
            "\n\n",
            ("The {char} and the {char2} became the best of friends.", "From that day on, {name} and {name2} were best friends."),
            ("Every day after that, they met {at_place}.", "They played {at_place} every day after that."),
            CLOSE,
        ),
    },
    "build": {
        "words": ("char", "building"),
        "prompts": (
            "Write a story about two {chars} who build {a_building}.",
            "Tell me a story about two {chars} who want to build {a_building}{at_place_p}.",
            "Can you tell me a story about two {chars} building {a_building}?",
            "Two {chars} named {name} and {name2} build {a_building}. Write a story about it.",
            "A story about two {chars} who build {a_building}{at_place_p}.",
            "Write a story where two {chars} work together to build {a_building}.",
        ),
        "story": (
            ("Once upon a time, there were two {chars} named {name} and {name2}.",
             "{name} and {name2} were two {chars} who were the best of friends."),
            ("They lived near {the_place}.", "Their home was near {the_place}."),
            ("One day, the two {chars} decided to build {a_building} {at_place}.",
             "One morning, {name} said, \"Let us build {a_building}!\""),
            DESCRIBE,
            "\n\n",
            DAY,
            ("They worked hard all morning.", "{name} carried the heavy parts, and {name2} put them together."),
            ("But then the wind blew, and the {building} fell down!", "But the {building} was crooked, and it fell over."),
            ("The two {chars} did not give up.", "{name} and {name2} looked at each other and laughed."),
            ("They tried again, more carefully this time.", "They started again, one piece at a time."),
            "\n\n",
            ("At last, the {building} was finished.", "Finally, the {building} stood tall and strong."),
            ("The two {chars} were very proud of their {building}.", "{name} and {name2} cheered and clapped."),
            ("Every day, the {chars} played with their {building}.", "It was the best {building} in the world."),
            CLOSE,
        ),
    },
    "lose": {
        "words": ("char", "obj", "name"),
        "prompts": (
            "Write a story about {a_char} named {name} who loses {his} {obj}.",
            "Tell me a story about {name} the {char}, who cannot find {his} {obj}.",
            "A story about {a_char} called {name} who loses {a_obj}{at_place_p}.",
            "Can you write a story about {name}, {a_char} who lost {his} {obj}?",
            "{name} the {char} lost {his} {obj}{at_place_p}. What happened next?",
        ),
        "story": (
            ("{name} was {a_char} who had {a_obj}.", "Once upon a time, {a_char} named {name} had {a_obj}."),
            ("{He} loved the {obj} very much and took it everywhere.", "The {obj} was {his} favorite thing."),
            DESCRIBE,
            "\n\n",
            DAY,
            ("One day, {name} went {at_place} with the {obj}.", "One day, {name} played {at_place} all morning."),
            ("When {he} got home, the {obj} was gone!", "But when {he} looked again, the {obj} was gone!"),
            ("\"Oh no! Where is my {obj}?\" cried {name}.", "{name} felt sad and worried about the {obj}."),
            ("{He} looked under the bed and behind the door.", "{He} looked high and low for the {obj}."),
            ("{His} {friend} helped {him} look.", ""),
            "\n\n",
            ("At last, {name} found the {obj} {at_place}, right where {he} had played.",
             "Finally, {he} saw something under a bush. It was {his} {obj}!"),
            ("{name} hugged the {obj} and smiled.", "{name} was so happy to have the {obj} back."),
            ("From then on, the {char} took good care of the {obj}.", "{name} never lost the {obj} again."),
            CLOSE,
        ),
    },
    "find": {
        "words": ("char", "obj", "place"),
        "prompts": (
            "Write a story about {a_char_p} who finds {a_obj} {at_place}.",
            "Tell me a story where {a_char_p} finds {a_obj} {at_place}.",
            "A story about {a_char_p} who discovers {a_obj} {at_place}.",
            "Can you write a story about {a_char_p} who finds {a_obj} {at_place}?",
            "{A_char_p} found {a_obj} {at_place}. Write a story about it.",
        ),
        "story": (
            ("Once upon a time, {a_char} named {name} was walking {at_place}.",
             "{name} was {a_char} who loved to explore {the_place}."),
            ("Suddenly, {he} saw something shiny under a bush. It was {a_obj}!",
             "One day {at_place}, {he} found {a_obj}."),
            ("{name} picked up the {obj} and looked at it closely.", "The {char} had never seen such {a_obj_bare} before."),
            DESCRIBE,
            "\n\n",
            DAY,
            ("\"Who does this {obj} belong to?\" {name} wondered.", "{name} wanted to find the owner of the {obj}."),
            ("{He} asked everyone {at_place}, but nobody knew.", "{He} carried the {obj} carefully all day."),
            ("{His} {friend} said, \"Let us ask one more time.\"", ""),
            "\n\n",
            ("At last, a little child came running. \"That is my {obj}!\" said the child.",
             "Finally, {name} met someone who had lost the {obj}."),
            ("{name} gave back the {obj}, and the child smiled.", "The child thanked {name} for finding the {obj}."),
            ("{name} went home from {the_place} happy and proud.", "That night, {name} dreamed of {the_place}."),
            CLOSE,
        ),
    },
}

PRONOUNS = {"she": {"he": "she", "He": "She", "him": "her", "his": "her", "His": "Her"},
            "he": {"he": "he", "He": "He", "him": "him", "his": "his", "His": "His"}}


# -----------------------------------------------------------------------------
# Held-out words and pairs

SLOTS = {"char": W.CHARACTERS, "char2": W.CHARACTERS, "place": list(W.PLACES), "obj": W.OBJECTS,
         "building": W.BUILDINGS, "verb": [v[0] for v in W.VERBS], "action": [a[0] for a in W.ACTIONS],
         "fear": list(W.FEARS),
         "name": W.NAMES_SHE + W.NAMES_HE, "name2": W.NAMES_SHE + W.NAMES_HE}
VERB_FORMS = {v[0]: v for v in W.VERBS + W.ACTIONS}


def verb_forms(verb: str) -> tuple[str, str, str, str]:
    """(base, third person, past, -ing) of a listed verb, or by the regular rule for an invented one
    (which always ends in a consonant that is not doubled: blimok, blimoks, blimoked, blimoking)."""
    return VERB_FORMS.get(verb) or (verb, verb + "s", verb + "ed", verb + "ing")


def forms(word: str) -> set[str]:
    """Every way a slot value is written into a text, lower-case: itself, its plural, its verb forms,
    and for a fear the word its phrase ends with ("mice" for mouse)."""
    out = {word.lower(), W.plural(word.lower())} | set(VERB_FORMS.get(word, ()))
    if word in W.FEARS:
        out.add(W.FEARS[word].split()[-1])
    return out


@functools.lru_cache(maxsize=1)
def template_words() -> frozenset[str]:
    """Every word the templates write around the slots. None of them may be held out: every story
    would show it."""
    text = " ".join(s for plot in PLOTS.values() for group in (plot["prompts"], *plot["story"])
                    for s in (group if isinstance(group, tuple) else (group,)))
    text += " " + " ".join(FRIENDS) + " " + " ".join(W.CHARACTER_ADJECTIVES + W.THING_ADJECTIVES)
    return frozenset(re.findall(r"[a-z]+", re.sub(r"\{[^}]*\}", " ", text).lower()))


@functools.lru_cache(maxsize=None)
def is_heldout_word(word: str) -> bool:
    """3 values in 20 (CRC-32 of the word, the same on every machine) never occur in training, in
    whatever slot it would stand, unless a form of it is part of the templates' own text."""
    return zlib.crc32(word.lower().encode()) % 20 < 3 and not forms(word) & template_words()


def is_heldout_pair(first: str, second: str) -> bool:
    """1 (character, second word) pair in 10 occurs only in the heldout split."""
    return zlib.crc32(f"{first}|{second}".encode()) % 10 == 0


@functools.lru_cache(maxsize=None)
def slot_values(slot: str, heldout_words: bool) -> tuple[str, ...]:
    """The held-out values of a slot, or all the others."""
    return tuple(v for v in dict.fromkeys(SLOTS[slot]) if is_heldout_word(v) == heldout_words)


# -----------------------------------------------------------------------------
# Invented words. A word the lists hold appears in hundreds of training stories, so a model can learn
# each one's spelling by heart and, given a word it never saw, write the known word nearest to it ("a
# crow" becomes "a cow"). A share of every training record's words is therefore made up on the spot
# from syllables: each such word occurs in one record only, and the one way to write it in the story
# is to copy it from the prompt.

INVENTED_SHARE = 0.3  # chance that an asked-for word of a training record is invented
ONSETS = "b d f g k l m n p r t v z br bl dr fl gl gr kl pl pr sk sl sn sp st tr sh ch".split()
VOWELS = "a e i o u".split()
CODAS = "b d g k l m n p r t".split()


def invent_word(rng: random.Random, name: bool = False) -> str:
    """A pronounceable two-syllable word ("blimok", "Tavira") that is in none of the word lists."""
    while True:
        word = rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(ONSETS) + rng.choice(VOWELS)
        word += rng.choice(VOWELS if name else CODAS)
        if word not in known_words():
            return word.capitalize() if name else word


@functools.lru_cache(maxsize=1)
def known_words() -> frozenset[str]:
    return frozenset(f for slot in SLOTS for v in SLOTS[slot] for f in forms(v)) | template_words()


# -----------------------------------------------------------------------------
# Generation

def _capitalize(text: str) -> str:
    return text[0].upper() + text[1:]


def _pick(rng: random.Random, slot: str, split: str, avoid=(), within=None) -> str:
    values = [v for v in slot_values(slot, split == "heldout-words") if v not in avoid
              and (within is None or v in within)]
    return rng.choice(values)


def _names_for(char: str):
    """The names a character may take: a princess is never called Leo."""
    return W.NAMES_SHE if char in W.SHE else W.NAMES_HE if char in W.HE else None


def _sample_words(rng: random.Random, plot: str, split: str) -> dict[str, str]:
    """The slot values of one record: the plot's required slots, a place for every story, and names
    for both characters (a prompt may or may not show them)."""
    while True:
        chosen = {"char": _pick(rng, "char", split)}
        for slot in ("char2", "verb", "action", "fear", "building", "obj", "place"):
            if slot in PLOTS[plot]["words"] or slot == "place":
                chosen[slot] = _pick(rng, slot, split, avoid=(chosen["char"],))
        if split == "train":  # only words the prompt asks for: an invented word must be copyable
            for slot in PLOTS[plot]["words"]:
                if slot != "name" and rng.random() < INVENTED_SHARE:
                    chosen[slot] = invent_word(rng)
        second = chosen[PLOTS[plot]["words"][1]]  # a plot's first two words are the pair held out
        if split == "heldout-words" or is_heldout_pair(chosen["char"], second) == (split == "heldout"):
            break
    chosen["name"] = _pick(rng, "name", split, within=_names_for(chosen["char"]))
    chosen["name2"] = _pick(rng, "name2", split, avoid=(chosen["name"],), within=_names_for(chosen.get("char2", "")))
    if split == "train" and "name" in PLOTS[plot]["words"] and not _names_for(chosen["char"]):
        if rng.random() < INVENTED_SHARE:
            chosen["name"] = invent_word(rng, name=True)
    return chosen


def _pronoun(char: str, name: str) -> str:
    if char in W.SHE or char in W.HE:
        return "she" if char in W.SHE else "he"
    return "she" if name in W.NAMES_SHE else "he"


def _fields(rng: random.Random, chosen: dict[str, str]) -> dict[str, str]:
    """Everything a prompt or story template can refer to."""
    char, name = chosen["char"], chosen["name"]
    adjective = rng.choice(W.CHARACTER_ADJECTIVES)
    fields = {"name": name, "char": char, "chars": W.plural(char),
              "a_char": W.with_article(f"{adjective} {char}" if rng.random() < 0.5 else char),
              "a_char_bare": W.with_article(char), "A_char_bare": _capitalize(W.with_article(char)),
              "name2": chosen["name2"], "friend": rng.choice(FRIENDS)}
    fields.update(PRONOUNS[_pronoun(char, name)])
    fields["his2"] = PRONOUNS[_pronoun(chosen.get("char2", ""), chosen["name2"])]["his"]
    place = chosen["place"]
    fields.update(place=place, the_place=f"the {place}", at_place=f"{W.PLACES.get(place, 'at')} the {place}")
    if "char2" in chosen:
        fields.update(char2=chosen["char2"], a_char2=W.with_article(chosen["char2"]))
    if "verb" in chosen:
        fields.update(zip(("verb", "verbs", "verbed", "verbing"), verb_forms(chosen["verb"])))
    if "action" in chosen:
        fields.update(zip(("action", "actions", "actioned", "actioning"), verb_forms(chosen["action"])))
    if "fear" in chosen:
        phrase = W.FEARS.get(chosen["fear"], f"the {chosen['fear']}")
        fields.update(fear=chosen["fear"], fear_phrase=phrase, Fear_phrase=_capitalize(phrase),
                      fear_was="was" if phrase.split()[-1] == chosen["fear"] else "were")
    if "building" in chosen:
        fields.update(building=chosen["building"], a_building=W.with_article(chosen["building"]))
    if "obj" in chosen:
        obj = chosen["obj"]
        adjective = rng.choice(W.THING_ADJECTIVES)
        fields.update(obj=obj, objs=W.plural(obj), a_obj_bare=W.with_article(obj),
                      a_obj=W.with_article(f"{adjective} {obj}" if rng.random() < 0.6 else obj))
    return fields


def _write_story(rng: random.Random, plot: str, fields: dict[str, str]) -> str:
    sentences = []
    for group in PLOTS[plot]["story"]:
        choice = group if isinstance(group, str) else rng.choice(group)
        if choice:
            sentences.append(choice.format_map(fields))
    return " ".join(sentences).replace(" \n\n ", "\n\n")


def _write_prompt(rng: random.Random, plot: str, fields: dict[str, str], named: bool,
                  with_place: bool) -> str:
    """The prompt, and through named and with_place which optional words it asks for."""
    fields = dict(fields)
    if named:
        shape = rng.choice(("{a} named {name}", "{a} called {name}", "{name} the {char}"))
        fields["a_char_p"] = shape.format(a=fields["a_char"], name=fields["name"], char=fields["char"])
    else:
        fields["a_char_p"] = fields["a_char"]
    fields["A_char_p"] = _capitalize(fields["a_char_p"])
    fields["a_char2_p"] = fields.get("a_char2", "")
    fields["at_place_p"] = f" {fields['at_place']}" if with_place else ""
    return rng.choice(PLOTS[plot]["prompts"]).format_map(fields)


def make_record(rng: random.Random, split: str = "train") -> dict:
    """One record: {"prompt", "story", "words" (what the prompt asks for), "plot", "split"}."""
    plot = rng.choice(tuple(PLOTS))
    chosen = _sample_words(rng, plot, split)
    fields = _fields(rng, chosen)
    while True:
        named = "name" in PLOTS[plot]["words"] or rng.random() < 0.4
        with_place = "place" in PLOTS[plot]["words"] or rng.random() < 0.3
        prompt = _write_prompt(rng, plot, fields, named, with_place)
        story = _write_story(rng, plot, fields)
        if MIN_WORDS <= len(story.split()) <= MAX_WORDS and len(prompt) + len(story) <= MAX_CHARS:
            break
    asked = [fields[s] for s in PLOTS[plot]["words"]]
    for slot in ("name", "name2", "place"):  # optional words count as asked for when the prompt shows them
        if fields[slot] not in asked and re.search(rf"\b{re.escape(fields[slot])}\b", prompt):
            asked.append(fields[slot])
    return {"prompt": prompt, "story": story, "words": asked, "plot": plot, "split": split}


def make_records(n: int, seed: int = 0, split: str = "train") -> list[dict]:
    """n records from one random.Random stream, so the first k of make_records(n) equal make_records(k)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    if n < 0:
        raise ValueError(f"n must be >= 0, not {n}")
    # Seeding with a string is stable across Python versions (it hashes with SHA-512, not hash()),
    # and gives the splits independent streams for the same seed.
    rng = random.Random(f"storyteller-v{VERSION}:{split}:{seed}")
    return [make_record(rng, split) for _ in range(n)]


# -----------------------------------------------------------------------------
# CLI


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Write synthetic (prompt, story) records as JSONL: the offline "
                                                 "stand-in for teacher-distilled stories.")
    parser.add_argument("--n", type=int, default=20000, help="number of records (default 20000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--split", choices=SPLITS, default="train",
                        help="train; heldout: new (character, word) pairs of training words; "
                             "heldout-words: words never seen in training")
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
        print(f"--- record {i} ({record['split']}, {record['plot']}) {json.dumps(record['words'])}")
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
