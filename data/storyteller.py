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
import hashlib
import json
import random
import re
import sys
import time
import zlib

from data import words as W
from data.records import write_jsonl
from data.scoring import word_forms
from errors import exit_with

VERSION = 3  # part of the cache file name of the built-in records: a new version is new data
SPLITS = ("train", "heldout", "heldout-words")
MIN_WORDS, MAX_WORDS = 90, 150
# Prompt and story must fit the default 256-token context together. Words alone do not bound tokens (a
# story that repeats "somersault" is long in tokens), so the characters are bounded too; the test
# encodes every training pair with the quickstart's vocabulary to check.
MAX_CHARS = 640

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
HOME = ("{He} lived near {the_place}.", "{His} home was near {the_place}.", "")

# A plot is a premise and the story that grows from it. The premise is a clause that follows the
# character ("a robot | who wants to learn to dance"), written twice: as a prompt says it, in the present,
# and as the story's first sentence retells it, in the past ("who wanted to learn to dance"). Every story
# opens by retelling its premise with the prompt's own words, so what a model learns is to carry the
# clause of the prompt into the story, whatever words it holds: the one habit that also serves a prompt
# no template here produced. `subject` says who the premise is about: one character, two of a kind
# ("two penguins who build ..."), or a pair ("a knight and a snail who ..."). `story` holds the sentence
# groups after the first sentence: one choice per tuple, "" skips, "\n\n" ends a paragraph.
PLOTS = {
    "wants": {
        "words": ("char", "verb"), "subject": "one",
        "clauses": (("wants to {verb}", "wanted to {verb}"),
                    ("wants to learn to {verb}", "wanted to learn to {verb}"),
                    ("dreams of {verbing}", "dreamed of {verbing}"),
                    ("loves to {verb}", "loved to {verb}"),
                    ("wishes {he} could {verb}", "wished {he} could {verb}"),
                    ("learns to {verb}", "learned to {verb}")),
        "story": (
            HOME,
            ("Every day, {name} watched the others {verb} and wished {he} could {verb} too.",
             "{He} often said, \"One day I will {verb}!\"", "But the {char} did not know how to {verb} yet."),
            DESCRIBE,
            "\n\n",
            DAY,
            ("The first time {name} tried to {verb}, {he} fell down.",
             "{name} tried to {verb}, but it was much harder than it looked.", "At first, {name} could not {verb} at all."),
            ("{He} felt sad, but {he} did not give up.", "Some friends laughed, and the {char} felt sad.", ""),
            ("Then {his} {friend} said, \"Let us practice together.\"",
             "{His} {friend} showed {him} how to {verb}, one small step at a time.",
             "So {name} practiced every morning and every evening."),
            ("Day after day, {name} got a little better.", "{He} kept trying until the sun went down."),
            "\n\n",
            ("At last, {name} could {verb}! {He} {verbed} all afternoon.",
             "Finally, the day came when {name} {verbed} better than ever before.",
             "One morning, {name} {verbed} so well that everyone clapped."),
            ("{name} was so happy that {he} laughed out loud.", "{name} felt proud and happy."),
            ("{name} learned that practice makes hard things easy.", "From then on, the {char} {verbed} every day.",
             "And {name} never stopped {verbing}."),
            CLOSE,
        ),
    },
    "cannot": {
        "words": ("char", "verb"), "subject": "one",
        "clauses": (("can't {verb}", "couldn't {verb}"),
                    ("cannot {verb}", "could not {verb}"),
                    ("does not know how to {verb}", "did not know how to {verb}"),
                    ("can't stop {verbing}", "couldn't stop {verbing}"),
                    ("is too scared to {verb}", "was too scared to {verb}")),
        "story": (
            HOME,
            ("All the other {chars} could {verb}, but not {name}.", "Everyone else could {verb}. It looked so easy!"),
            ("This made the little {char} very sad.", "{name} sat alone and sighed."),
            DESCRIBE,
            "\n\n",
            DAY,
            ("{name} said, \"Today I will try to {verb} one more time.\"",
             "{name} met someone very wise, who said, \"Everyone can learn something new.\""),
            ("{He} tried and tried, and {he} fell many times.", "{He} tried slowly, one little step at a time."),
            ("{His} {friend} cheered, \"You can do it!\"", "{His} {friend} held {his} hand.", ""),
            "\n\n",
            ("Then, all of a sudden, {name} {verbed}!", "At last, {name} {verbed}, just a little."),
            ("Everyone clapped for the brave {char}.", "{name} laughed with joy."),
            ("From that day on, {name} {verbed} every day.", "{name} learned that it is fine to take {his} time."),
            CLOSE,
        ),
    },
    "be": {
        "words": ("char", "char2"), "subject": "one",
        "clauses": (("wants to be {a_char2}", "wanted to be {a_char2}"),
                    ("dreams of being {a_char2}", "dreamed of being {a_char2}"),
                    ("wants to become {a_char2}", "wanted to become {a_char2}"),
                    ("wishes to be {a_char2}", "wished to be {a_char2}"),
                    ("pretends to be {a_char2}", "pretended to be {a_char2}")),
        "story": (
            HOME,
            ("Every night, {name} dreamed of being {a_char2}.", "{He} told everyone, \"One day I will be {a_char2}!\""),
            DESCRIBE,
            "\n\n",
            DAY,
            ("Some friends laughed and said, \"{A_char_bare} cannot be {a_char2}!\"", "But being {a_char2} was not easy."),
            ("{name} felt sad, but {he} did not give up.", "The {char} thought very hard."),
            ("So {he} watched {a_char2} and learned everything.", "{His} {friend} helped {him} practice every day."),
            "\n\n",
            ("At last, {name} became the best {char2} of all.", "In the end, the {char} was a wonderful {char2}."),
            ("Everyone cheered for the {char} who became {a_char2}.", "{name} smiled from ear to ear."),
            CLOSE,
        ),
    },
    "afraid": {
        "words": ("char", "fear"), "subject": "one",
        "clauses": (("is afraid of {fear_phrase}", "was afraid of {fear_phrase}"),
                    ("is scared of {fear_phrase}", "was scared of {fear_phrase}"),
                    ("is frightened of {fear_phrase}", "was frightened of {fear_phrase}"),
                    ("does not like {fear_phrase}", "did not like {fear_phrase}"),
                    ("learns not to fear {fear_phrase}", "learned not to fear {fear_phrase}")),
        "story": (
            HOME,
            ("Just thinking about {fear_phrase} made {him} shiver.",
             "Whenever {he} thought of {fear_phrase}, {he} hid behind {his} {friend}.",
             "{He} did not like {fear_phrase} one bit."),
            DESCRIBE,
            "\n\n",
            DAY,
            ("One day, {name} had to face {fear_phrase}.",
             "One evening, {name} met {fear_phrase}, and {his} knees began to shake."),
            ("{His} {friend} held {his} hand and said, \"Do not worry. I am right here.\"",
             "{name} took a deep breath and counted to ten.", "{name} wanted to run away, but {he} stayed."),
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
    "does": {
        "words": ("char", "action", "obj"), "subject": "one",
        "clauses": (("{actions} {objs}", "{actioned} {objs}"),
                    ("{actions} {a_obj}", "{actioned} {a_obj}"),
                    ("loves to {action} {objs}", "loved to {action} {objs}"),
                    ("likes {actioning} {objs}", "liked {actioning} {objs}"),
                    ("wants to {action} {a_obj}", "wanted to {action} {a_obj}"),
                    ("tries to {action} {a_obj}", "tried to {action} {a_obj}"),
                    ("learns to {action} {objs}", "learned to {action} {objs}"),
                    ("can't stop {actioning} {objs}", "couldn't stop {actioning} {objs}"),
                    ("dreams of {actioning} {a_obj}", "dreamed of {actioning} {a_obj}")),
        "story": (
            HOME,
            ("Nobody had ever seen {a_char_bare} {action} {a_obj_bare} before.",
             "Everyone talked about the {char} and the {obj}.", "{He} {actioned} {objs} every single day."),
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
    "for": {
        "words": ("char", "action", "obj", "char2"), "subject": "one",
        "clauses": (("{actions} {objs} for the {chars2}", "{actioned} {objs} for the {chars2}"),
                    ("{actions} {a_obj} for {a_char2}", "{actioned} {a_obj} for {a_char2}"),
                    ("loves to {action} {objs} for the {chars2}", "loved to {action} {objs} for the {chars2}")),
        "story": (
            HOME,
            ("The {chars2} loved it when {name} {actioned} {objs} for them.", "{name} did it to make the {chars2} happy."),
            DESCRIBE,
            "\n\n",
            DAY,
            ("That day, the {chars2} looked sad, so {name} wanted to {action} the best {obj} ever.",
             "That day, {name} could not find a single {obj}."),
            ("{He} looked everywhere, and {his} {friend} helped {him}.", "{He} worked very hard all morning."),
            "\n\n",
            ("At last, {name} {actioned} {a_obj_bare} for the {chars2}, and they cheered.",
             "In the end, the {chars2} clapped and thanked the kind {char}."),
            ("The {char} and the {chars2} became good friends.", "{name} felt warm and happy inside."),
            CLOSE,
        ),
    },
    "friends": {
        "words": ("char", "char2", "place"), "subject": "pair",
        "clauses": (("become friends {at_place}", "became friends {at_place}"),
                    ("meet {at_place}", "met {at_place}"),
                    ("play together {at_place}", "played together {at_place}")),
        "story": (
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
    "befriends": {
        "words": ("char", "char2"), "subject": "one",
        "clauses": (("makes friends with {a_char2}", "made friends with {a_char2}"),
                    ("wants to be friends with {a_char2}", "wanted to be friends with {a_char2}"),
                    ("meets {a_char2}", "met {a_char2}"),
                    ("plays with {a_char2}", "played with {a_char2}")),
        "story": (
            HOME,
            ("One day, {he} saw {a_char2} named {name2}.", "Not far away lived {a_char2} named {name2}."),
            ("The {char2} was all alone.", "At first, the {char2} did not say a word."),
            DESCRIBE,
            "\n\n",
            DAY,
            ("{name} walked up to the {char2} and said hello.", "{name} asked the {char2}, \"Do you want to play?\""),
            ("They played a game, and the {char2} won!", "They shared a snack and sat in the shade.",
             "They told each other funny jokes."),
            ("The {char} and the {char2} laughed and laughed.", "{name2} smiled for the first time in a long while."),
            "\n\n",
            ("From then on, the {char} and the {char2} were best friends.", "After that day, {name} and {name2} played together every day."),
            ("{name} was glad {he} had said hello.", "They never felt lonely again."),
            CLOSE,
        ),
    },
    "build": {
        "words": ("char", "building"), "subject": "two",
        "clauses": (("build {a_building}", "built {a_building}"),
                    ("want to build {a_building}", "wanted to build {a_building}"),
                    ("work together to build {a_building}", "worked together to build {a_building}"),
                    ("decide to build {a_building}", "decided to build {a_building}")),
        "story": (
            ("They lived near {the_place}.", "Their home was near {the_place}.", ""),
            ("One morning, {name} said, \"Let us build {a_building}!\"", "The two {chars} wanted the best {building} in the world."),
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
        "words": ("char", "obj"), "subject": "one",
        "clauses": (("loses {his} {obj}", "lost {his} {obj}"),
                    ("cannot find {his} {obj}", "could not find {his} {obj}"),
                    ("loses {a_obj}", "lost {a_obj}"),
                    ("keeps losing {his} {obj}", "kept losing {his} {obj}")),
        "story": (
            ("{He} loved the {obj} very much and took it everywhere.", "The {obj} was {his} favorite thing."),
            DESCRIBE,
            "\n\n",
            DAY,
            ("One day, {name} played outside all morning with the {obj}.", "One day, {name} went out to play."),
            ("When {he} got home, the {obj} was gone!", "But when {he} looked again, the {obj} was gone!"),
            ("\"Oh no! Where is my {obj}?\" cried {name}.", "{name} felt sad and worried about the {obj}."),
            ("{He} looked under the bed and behind the door.", "{He} looked high and low for the {obj}."),
            ("{His} {friend} helped {him} look.", ""),
            "\n\n",
            ("At last, {name} found the {obj}, right where {he} had played.",
             "Finally, {he} saw something under a bush. It was {his} {obj}!"),
            ("{name} hugged the {obj} and smiled.", "{name} was so happy to have the {obj} back."),
            ("From then on, the {char} took good care of the {obj}.", "{name} never lost the {obj} again."),
            CLOSE,
        ),
    },
    "find": {
        "words": ("char", "obj", "place"), "subject": "one",
        "clauses": (("finds {a_obj} {at_place}", "found {a_obj} {at_place}"),
                    ("discovers {a_obj} {at_place}", "discovered {a_obj} {at_place}"),
                    ("finds a magic {obj} {at_place}", "found a magic {obj} {at_place}")),
        "story": (
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
    "goes": {
        "words": ("char", "place"), "subject": "one",
        "clauses": (("goes to {the_place}", "went to {the_place}"),
                    ("visits {the_place}", "visited {the_place}"),
                    ("gets lost {at_place}", "got lost {at_place}"),
                    ("travels to {the_place}", "traveled to {the_place}"),
                    ("lives {at_place}", "lived {at_place}")),
        "story": (
            ("{name} had heard many stories about {the_place}.", "{He} liked {the_place} more than any other place."),
            DESCRIBE,
            "\n\n",
            DAY,
            ("{At_place_cap}, everything was new and strange.", "{At_place_cap}, {name} saw many wonderful things."),
            ("Soon {name} did not know the way home.", "Then {name} met someone kind who knew the way.",
             "{name} felt a little scared, but {he} was brave."),
            ("{His} {friend} came to find {him}.", "{He} went on, step by step.", ""),
            "\n\n",
            ("At last, {name} was safe and happy.", "In the end, {name} found the way home from {the_place}."),
            ("{name} told everyone about {the_place}.", "The {char} could not wait to go back to {the_place}."),
            CLOSE,
        ),
    },
    "whose": {
        "words": ("char", "obj"), "subject": "one",
        "clauses": (("whose {obj} is broken", "whose {obj} was broken"),
                    ("whose {obj} is too small", "whose {obj} was too small"),
                    ("whose {obj} goes missing", "whose {obj} went missing"),
                    ("who needs a new {obj}", "who needed a new {obj}"),
                    ("who wants {a_obj}", "who wanted {a_obj}")),
        "relative": False,  # the clause brings its own "whose" or "who"
        "story": (
            HOME,
            ("{name} loved {his} {obj} more than anything.", "The {obj} was very special to {him}."),
            ("But the {obj} was not right, and {name} felt sad.", "Without a good {obj}, nothing felt right."),
            DESCRIBE,
            "\n\n",
            DAY,
            ("{name} asked {his} {friend} what to do about the {obj}.", "{name} set off to find a new {obj}."),
            ("They looked high and low, near and far.", "They worked on it together all afternoon."),
            ("It was hard, but they did not give up.", ""),
            "\n\n",
            ("At last, {name} had the perfect {obj}.", "In the end, the {obj} was as good as new."),
            ("{name} hugged {his} {friend} and said thank you.", "The {char} jumped for joy."),
            CLOSE,
        ),
    },
    "trait": {
        "words": ("char", "trait"), "subject": "one",
        "clauses": (("", ""),),  # the premise is the character and its trait alone: "a sleepy whale"
        "story": (
            HOME,
            ("{name} was the most {trait} {char} anyone had ever met.", "Everyone knew that {name} was very {trait}."),
            DESCRIBE,
            "\n\n",
            DAY,
            ("Being so {trait} was not always easy.", "Because {he} was so {trait}, {name} did things {his} own way."),
            ("The other animals did not understand {him} at first.", "{His} {friend} smiled and said, \"You are just right.\""),
            ("Then something happened that needed {a_trait_char}.", "{name} did what {he} could in {his} own {trait} way."),
            "\n\n",
            ("In the end, everyone was glad that {name} was so {trait}.", "At last, {name} saw that being {trait} was fine."),
            ("{name} felt happy and proud.", "{name} smiled a big smile."),
            CLOSE,
        ),
    },
}

# What may follow a premise, retold with it: a thing with a preposition ("jumps over the moon", "sings
# for the birds": the thing is then asked for too), or words that ask for nothing ("every morning"). So a
# model learns to carry the whole clause of a prompt into its story, not the plot's own words only.
TAIL_PREPOSITIONS = ("over", "under", "near", "behind", "through", "across", "around", "with", "for", "from",
                     "beside", "inside")
ADVERBIALS = ("every morning", "for the first time", "at night", "again and again", "one more time",
              "all day long", "very fast", "in secret")

# How a prompt wraps its premise. {P}: the character and the premise ("a robot who wants to learn to
# dance"); {Sp}/{Sd}: the same as a sentence in the present or the past ("a fox finds a key", "a fox found
# a key"); {was}: "was" or "were".
WRAPPERS = (
    "Write a story about {P}.", "Write a short story about {P}.", "Tell me a story about {P}.",
    "Can you tell me a story about {P}?", "Could you write a story about {P}?", "A story about {P}.",
    "{P_cap}.", "{P}", "I want a story about {P}.", "I would like a bedtime story about {P}.",
    "Please write a story about {P}.", "Write a funny story about {P}.", "Make up a story about {P}.",
    "Tell me a bedtime story about {P}.", "Write a story for a five year old about {P}.",
    "Write me a story where {Sp}.", "Tell me a story where {Sp}.", "My kids want a story about {P}.",
    "Once upon a time there {was} {P}. What happened next?", "There once {was} {P}. Write what happens.",
    "Once upon a time {Sd}. What happened next?", "What would happen if {Sd}? Tell me a story.",
    "What happens when {Sp}?", "Can you write about {P}?", "i want a story about {P}",
    "Write a story about {P}", "tell me a story about {P}", "Story about {P}.",
)
# How a story retells its premise in its first sentence. {NP}: the character with its name; {Vd}, {Vp}:
# the premise in the past and the present (with its "who" where it needs one).
OPENERS = (
    "Once upon a time, there {was} {NP} {Vd}.", "There once {was} {NP} {Vd}.",
    "Long ago, there {was} {NP} {Vd}.", "This is the story of {NP} {Vp}.",
)
OPENER_WEIGHTS = (2, 1, 1, 3)
# the same when the premise is a bare trait ("a sleepy whale"): no clause to retell
OPENERS_BARE = ("Once upon a time, there {was} {NP}.", "There once {was} {NP}.", "Long ago, there {was} {NP}.")

PRONOUNS = {"she": {"he": "she", "He": "She", "him": "her", "his": "her", "His": "Her"},
            "he": {"he": "he", "He": "He", "him": "him", "his": "his", "His": "His"}}


# -----------------------------------------------------------------------------
# Held-out words and pairs

SLOTS = {"char": W.CHARACTERS, "char2": W.CHARACTERS, "place": list(W.PLACES), "obj": W.OBJECTS,
         "building": W.BUILDINGS, "verb": [v[0] for v in W.VERBS], "action": [a[0] for a in W.ACTIONS],
         "fear": list(W.FEARS), "trait": W.CHARACTER_ADJECTIVES,
         "name": W.NAMES_SHE + W.NAMES_HE, "name2": W.NAMES_SHE + W.NAMES_HE}
VERB_FORMS = {v[0]: v for v in W.VERBS + W.ACTIONS}


def verb_forms(verb: str) -> tuple[str, str, str, str]:
    """(base, third person, past, -ing) of a listed verb, or by the regular rules for an invented one."""
    return VERB_FORMS.get(verb) or regular_forms(verb)


def forms(word: str) -> set[str]:
    """Every way a slot value is written into a text, lower-case: itself, its plural, its verb forms,
    and for a fear the word its phrase ends with ("mice" for mouse)."""
    out = {word.lower(), W.plural(word.lower())} | set(VERB_FORMS.get(word, ()))
    if word in W.FEARS:
        out.add(W.FEARS[word].split()[-1])
    return out


def _texts(group) -> tuple[str, ...]:
    return group if isinstance(group, tuple) else (group,)


@functools.lru_cache(maxsize=1)
def template_words() -> frozenset[str]:
    """Every word the templates write around the slots. None of them may be held out: every story
    would show it."""
    parts = [*WRAPPERS, *OPENERS, *OPENERS_BARE, *FRIENDS, *W.THING_ADJECTIVES, *TAIL_PREPOSITIONS, *ADVERBIALS,
             "who that named called the two and"]
    for plot in PLOTS.values():
        parts += [c for pair in plot["clauses"] for c in pair]
        parts += [s for group in plot["story"] for s in _texts(group)]
    text = " ".join(parts)
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
# Invented words. A word the lists hold appears in many training stories, so a model can learn each
# one's spelling by heart and, given a word it never saw, write the known word nearest to it ("a crow"
# becomes "a cow"). A share of every training record's words is therefore made up on the spot: each such
# word occurs in one record only, and the one way to write it in the story is to copy it from the prompt.
# They are spelled like the words of the lists (a letter model of them, below), so they break into the
# same sub-word pieces a real word does: copying learned on them carries over to real words never seen.
# (Made from a few fixed syllables instead, they taught a model to copy syllables and nothing else: it
# copied 96% of invented words' pieces but 45% of a held-out real word's.)

INVENTED_SHARE = 0.3  # chance that an asked-for word of a training record is invented


@functools.lru_cache(maxsize=None)
def _letter_model(names: bool) -> dict[str, tuple[tuple[str, ...], tuple[int, ...]]]:
    """Which letter follows each pair of letters, and how often, in the training words (never a held-out
    one): "^" starts a word and "$" ends it."""
    words = slot_values("name", False) if names else [w for slot in ("char", "obj", "place", "building", "verb",
                                                                       "action", "fear") for w in slot_values(slot, False)]
    counts: dict[str, dict[str, int]] = {}
    for word in words:
        padded = "^^" + word.lower() + "$"
        for i in range(2, len(padded)):
            follow = counts.setdefault(padded[i - 2:i], {})
            follow[padded[i]] = follow.get(padded[i], 0) + 1
    return {ctx: (tuple(f), tuple(f.values())) for ctx, f in sorted(counts.items())}


def invent_word(rng: random.Random, name: bool = False) -> str:
    """A word spelled like the lists' words ("plimber", "Tavina") that is in none of them."""
    model = _letter_model(name)
    while True:
        word = "^^"
        while word[-1] != "$" and len(word) < 14:
            letters, weights = model[word[-2:]]
            word += rng.choices(letters, weights)[0]
        word = word[2:-1]
        if word.endswith("$") or not 4 <= len(word) <= 10 or forms(word) & known_words():
            continue
        if not name and {W.plural(word), *regular_forms(word)} - word_forms(word):
            continue  # a spelling whose forms the scorer would not recognise ("crog", "croging")
        return word.capitalize() if name else word


def regular_forms(verb: str) -> tuple[str, str, str, str]:
    """(base, third person, past, -ing) of a verb by the spelling rules of regular English verbs (no
    doubling of the final consonant): bake, bakes, baked, baking; carry, carries, carried, carrying."""
    if verb.endswith("e"):
        return verb, verb + "s", verb + "d", verb[:-1] + "ing"
    if verb.endswith("y") and verb[-2:-1] not in ("a", "e", "i", "o", "u", ""):
        return verb, verb[:-1] + "ies", verb[:-1] + "ied", verb + "ing"
    if verb.endswith(("s", "x", "z", "ch", "sh")):
        return verb, verb + "es", verb + "ed", verb + "ing"
    return verb, verb + "s", verb + "ed", verb + "ing"


@functools.lru_cache(maxsize=1)
def known_words() -> frozenset[str]:
    return frozenset(f for slot in SLOTS for v in SLOTS[slot] for f in forms(v)) | template_words()


# -----------------------------------------------------------------------------
# Generation

def _capitalize(text: str) -> str:
    return text[0].upper() + text[1:]


def _pick(rng: random.Random, slot: str, split: str, avoid=(), within=None) -> str:
    avoid, within = set(avoid), None if within is None else set(within)  # sets: the lists run to thousands
    values = [v for v in slot_values(slot, split == "heldout-words") if v not in avoid
              and (within is None or v in within)]
    return rng.choice(values)


def _names_for(char: str):
    """The names a character may take: a princess is never called Leo."""
    return W.NAMES_SHE if char in W.SHE else W.NAMES_HE if char in W.HE else None


def _sample_words(rng: random.Random, plot: str, split: str) -> dict[str, str]:
    """The slot values of one record: the plot's required slots, a place for every story, and names
    for both characters (a prompt may or may not show them)."""
    asked = PLOTS[plot]["words"]
    while True:
        chosen = {"char": _pick(rng, "char", split)}
        for slot in ("char2", "verb", "action", "fear", "building", "obj", "place", "trait"):
            if slot in asked or slot == "place":
                chosen[slot] = _pick(rng, slot, split, avoid=(chosen["char"],))
        if split == "train":  # only words the prompt asks for: an invented word must be copyable
            for slot in asked:
                if slot != "trait" and rng.random() < INVENTED_SHARE:
                    chosen[slot] = invent_word(rng)
        if split == "heldout-words" or is_heldout_pair(chosen["char"], chosen[asked[1]]) == (split == "heldout"):
            break
    if plot != "trait" and "place" not in asked and rng.random() < 0.3:  # a thing after the premise
        chosen["tail"] = _pick(rng, "obj", split, avoid=tuple(chosen.values()))
        if split == "train" and rng.random() < INVENTED_SHARE:
            chosen["tail"] = invent_word(rng)
    chosen["name"] = _pick(rng, "name", split, within=_names_for(chosen["char"]))
    chosen["name2"] = _pick(rng, "name2", split, avoid=(chosen["name"],), within=_names_for(chosen.get("char2", "")))
    if split == "train" and rng.random() < INVENTED_SHARE * 0.5 and not _names_for(chosen["char"]):
        chosen["name"] = invent_word(rng, name=True)
    return chosen


def _pronoun(char: str, name: str) -> str:
    if char in W.SHE or char in W.HE:
        return "she" if char in W.SHE else "he"
    return "she" if name in W.NAMES_SHE else "he"


def _fields(rng: random.Random, plot: str, chosen: dict[str, str]) -> dict[str, str]:
    """Everything a prompt or story template can refer to."""
    char, name = chosen["char"], chosen["name"]
    if plot == "trait":
        adjective = chosen["trait"]
    else:  # variety only, so never a word held out of training
        adjective = rng.choice(slot_values("trait", False)) if rng.random() < 0.5 else ""
        if rng.random() < 0.12:  # a noun before the noun: "a garden snail", "a bakery cat"
            adjective = f"{adjective} {rng.choice(slot_values(rng.choice(('place', 'obj')), False))}".strip()
    fields = {"name": name, "char": char, "chars": W.plural(char),
              "a_char": W.with_article(f"{adjective} {char}".strip()),
              "a_char_bare": W.with_article(char), "A_char_bare": _capitalize(W.with_article(char)),
              "name2": chosen["name2"], "friend": rng.choice(FRIENDS), "trait": chosen.get("trait", ""),
              "a_trait_char": W.with_article(f"{chosen.get('trait', '')} {char}".strip())}
    fields.update(PRONOUNS[_pronoun(char, name)])
    fields["his2"] = PRONOUNS[_pronoun(chosen.get("char2", ""), chosen["name2"])]["his"]
    place = chosen["place"]
    at_place = f"{W.PLACES.get(place, 'at')} the {place}"
    fields.update(place=place, the_place=f"the {place}", at_place=at_place, At_place_cap=_capitalize(at_place))
    if "char2" in chosen:
        fields.update(char2=chosen["char2"], chars2=W.plural(chosen["char2"]), a_char2=W.with_article(chosen["char2"]))
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
    if "tail" in chosen:
        preposition = rng.choice(TAIL_PREPOSITIONS)
        thing = rng.choice((f"the {chosen['tail']}", W.with_article(chosen["tail"]), f"the {W.plural(chosen['tail'])}"))
        fields["tail"] = f"{preposition} {thing}"
    elif plot != "trait" and rng.random() < 0.15:
        fields["tail"] = rng.choice(ADVERBIALS)
    return fields


def _subjects(rng: random.Random, plot: str, fields: dict[str, str], named: bool) -> tuple[str, str]:
    """(the character as the prompt names it, as the story names it): "a robot" and "a robot named Leo";
    for two of a kind, "two penguins (named Mia and Leo)"; for a pair, "a knight and a snail"."""
    subject = PLOTS[plot]["subject"]
    if subject == "two":
        story = "two {chars} named {name} and {name2}".format_map(fields)
        return (story if named else "two {chars}".format_map(fields)), story
    story = rng.choice(("{a_char} named {name}", "{a_char} called {name}")).format_map(fields)
    prompt = fields["a_char"]
    if named:
        the = "{name} the {trait} {char}" if plot == "trait" else "{name} the {char}"  # the trait is the premise
        prompt = rng.choice(("{a_char} named {name}", "{a_char} called {name}", the)).format_map(fields)
    if subject == "pair":
        story += " and {a_char2} named {name2}".format_map(fields)
        prompt += " and {a_char2}".format_map(fields) + (" named {name2}".format_map(fields) if named else "")
    return prompt, story


def _write(rng: random.Random, plot: str, fields: dict[str, str], named: bool, with_place: bool) -> tuple[str, str]:
    """(prompt, story): the premise wrapped in one of the ways people ask for a story, and the story that
    opens by retelling it."""
    spec = PLOTS[plot]
    present, past = rng.choice(spec["clauses"])
    present, past = present.format_map(fields), past.format_map(fields)
    if with_place and "place" not in spec["words"] and present:
        present, past = f"{present} {fields['at_place']}", f"{past} {fields['at_place']}"
    elif fields.get("tail") and present:
        present, past = f"{present} {fields['tail']}", f"{past} {fields['tail']}"
    np_prompt, np_story = _subjects(rng, plot, fields, named)
    was = "was" if spec["subject"] == "one" else "were"
    if not present:  # a bare trait: "a sleepy whale"
        prompt = rng.choice([w for w in WRAPPERS if "{S" not in w]).format(P=np_prompt, P_cap=_capitalize(np_prompt), was=was)
        opener = rng.choice(OPENERS_BARE).format(NP=np_story, was=was)
    else:
        relative = spec.get("relative", True)
        who = "that" if relative and fields["char"] in THINGS and rng.random() < 0.6 else "who"
        rel = f"{who} " if relative else ""
        shapes = WRAPPERS if relative else [w for w in WRAPPERS if "{S" not in w]
        p = f"{np_prompt} {rel}{present}"
        prompt = rng.choice(shapes).format(P=p, P_cap=_capitalize(p), was=was, Sp=f"{np_prompt} {_agree(present, spec)}",
                                           Sd=f"{np_prompt} {past}")
        # the present-tense retelling is the prompt's clause word for word, the easiest thing to copy
        opener = rng.choices(OPENERS, weights=OPENER_WEIGHTS)[0].format(NP=np_story, was=was, Vd=f"{rel}{past}",
                                                                       Vp=f"{rel}{present}")
    sentences = [_capitalize(opener)]
    for group in spec["story"]:
        choice = group if isinstance(group, str) else rng.choice(group)
        if choice:
            sentences.append(choice.format_map(fields))
    return prompt, " ".join(sentences).replace(" \n\n ", "\n\n")


def _agree(present: str, spec: dict) -> str:
    """The premise as the verb of a sentence: "who wants" and "a fox wants" agree alike, so only a
    clause that starts with its own "whose"/"who" (relative False) would need changing; those plots
    never use the sentence shapes."""
    return present


THINGS = frozenset(getattr(W, "THINGS", ()))  # characters that are objects: "a teapot that wants to travel"


def make_record(rng: random.Random, split: str = "train") -> dict:
    """One record: {"prompt", "story", "words" (what the prompt asks for), "plot", "split"}."""
    fits = False
    while not fits:  # a few shapes for these words; if none fits (long words, a long plot), other words
        plot = rng.choice(tuple(PLOTS))
        chosen = _sample_words(rng, plot, split)
        fields = _fields(rng, plot, chosen)
        for _ in range(20):
            named = rng.random() < 0.4
            with_place = "place" in PLOTS[plot]["words"] or rng.random() < 0.3
            prompt, story = _write(rng, plot, fields, named, with_place)
            fits = MIN_WORDS <= len(story.split()) <= MAX_WORDS and len(prompt) + len(story) <= MAX_CHARS
            if fits:
                break
    asked = [fields[s] for s in PLOTS[plot]["words"]]
    if "tail" in chosen and fields["tail"] in prompt:  # the premise took its thing (not a place instead)
        asked.append(chosen["tail"])
    for slot in ("name", "name2", "place"):  # optional words count as asked for when the prompt shows them
        if fields[slot] not in asked and re.search(rf"\b{re.escape(fields[slot])}\b", prompt):
            asked.append(fields[slot])
    return {"prompt": prompt, "story": story, "words": asked, "plot": plot, "split": split}


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """12 hex digits of the sha256 of this module's and data/words.py's source: part of the cached records'
    file name, so that an edited template or word list gets records of its own instead of stale ones."""
    digest = hashlib.sha256()
    for module in (sys.modules[__name__], W):
        digest.update(open(module.__file__, "rb").read())
    return digest.hexdigest()[:12]


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
