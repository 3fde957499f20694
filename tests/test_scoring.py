"""Tests for data/scoring.py and data/freeform.jsonl: whole-word matching, the morphology rules, the score
arithmetic, and the hand-written prompt set itself. Every expected value here was worked out by hand."""

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from data import storyteller  # noqa: E402
from data.records import DataError  # noqa: E402
from data.scoring import find_words, read_freeform, score, word_forms  # noqa: E402

NAMED_PROMPTS = {  # the three prompts the set must keep, with their words
    "Write a story about a princess who is afraid of the dark": ["princess", "dark"],
    "Tell me a story about a robot who wants to learn to dance": ["robot", "dance"],
    "Write a story about a dragon who is afraid of the dark": ["dragon", "dark"],
}


def present(story: str, word: str) -> bool:
    return find_words(story, [word])[word]


# ----------------------------------------------------------------------------------------------
# whole words, case, punctuation, apostrophes


@pytest.mark.parametrize("story, word, expected", [
    ("The cat sat.", "cat", True),
    ("The category was full.", "cat", False),           # a word inside a longer word is not the word
    ("They concatenate strings.", "cat", False),
    ("We went to a party.", "art", False),
    ("She loved art class.", "art", True),
    ("A scatter of dogma and catalogues.", "dog", False),
    ("It was dark.", "dark", True),                      # punctuation ends a word
    ("Dark, cold and wet.", "dark", True),               # case does not matter
    ("DARKNESS fell.", "dark", False),                   # a derived word is not a form (list it as a|b)
    ("Priya's umbrella was red.", "Priya", True),        # possessive of a name
    ("Priya’s umbrella was red.", "Priya", True),        # curly apostrophe
    ("Priya’s umbrella was red.", "umbrella", True),
    ("PRIYA ran home.", "Priya", True),                  # names match case-insensitively too
    ("Zoe\u0308 ran home.", "Zo\u00eb", True),           # a combining diaeresis equals the precomposed ë
    ("the foxes' den", "fox", True),                     # plural possessive, apostrophe after the s
    ("the foxes’ den", "fox", True),
    ("the children's room", "child", True),              # possessive of an irregular plural
    ("the princess' crown", "princess", True),
    ("'I love my cat,' she said.", "cat", True),         # a closing quote is not part of the word
    ("She built a sand-castle.", "castle", True),        # hyphens split words
    ("She built a sandcastle.", "castle", False),        # ...but a closed compound is one word
    ("She was scared of the _dark_.", "dark", True),     # markdown emphasis is not part of the word
    ("The snail won't stop.", "win", False),             # "won't" is one word, not "won" + "t"
    ("The snail won’t stop.", "win", False),             # ...with a curly apostrophe too
    ("The snail won the race.", "win", True),
    ("The dragon's asleep.", "dragon", True),            # the contraction of "is" reads as a possessive
])
def test_whole_word_matching(story, word, expected):
    assert present(story, word) is expected


def test_a_story_that_has_a_word_only_inside_other_words_scores_false():
    story = "The scattered category of dancers sat in the snowmobile by the seashore."
    assert find_words(story, ["cat", "dance", "snow", "sea|ocean"]) == {
        "cat": False, "dance": False, "snow": False, "sea|ocean": False}


def test_find_words_keeps_the_order_and_spelling_of_the_required_words():
    result = find_words("Priya’s umbrella danced.", ["Priya", "umbrella|brolly", "dance", "cat"])
    assert list(result.items()) == [("Priya", True), ("umbrella|brolly", True), ("dance", True), ("cat", False)]


# ----------------------------------------------------------------------------------------------
# morphology


@pytest.mark.parametrize("word, forms", [
    ("fox", ["foxes", "fox's"]),
    ("princess", ["princesses", "princess's"]),
    ("berry", ["berries"]),
    ("day", ["days"]),
    ("leaf", ["leaves"]),
    ("wolf", ["wolves"]),
    ("knife", ["knives"]),
    ("roof", ["roofs"]),
    ("potato", ["potatoes"]),
    ("piano", ["pianos"]),
    ("watch", ["watches"]),
    ("mouse", ["mice", "mice's"]),
    ("child", ["children", "children's"]),
    ("goose", ["geese"]),
    ("tooth", ["teeth"]),
    ("foot", ["feet"]),
    ("man", ["men"]),
    ("woman", ["women"]),
    ("person", ["people"]),
    ("snowman", ["snowmen"]),                             # a compound follows its last part
    ("grandchild", ["grandchildren"]),
    ("sheep", ["sheep"]), ("fish", ["fish"]), ("deer", ["deer"]),
])
def test_noun_forms(word, forms):
    assert set(forms) <= word_forms(word)


@pytest.mark.parametrize("word, forms", [
    ("dance", ["dance", "dances", "danced", "dancing"]),
    ("bake", ["baked", "baking"]),
    ("swim", ["swims", "swimming", "swam", "swum"]),
    ("fly", ["flies", "flew", "flying", "flown"]),
    ("cry", ["cries", "cried", "crying"]),
    ("play", ["plays", "played", "playing"]),
    ("tie", ["tied", "tying"]),
    ("agree", ["agreed", "agreeing"]),
    ("build", ["builds", "built", "building"]),
    ("find", ["found"]),
    ("sing", ["sang", "sung", "singing"]),
    ("run", ["ran", "running"]),
    ("dig", ["dug", "digging"]),
    ("stop", ["stopped", "stopping"]),
    ("hug", ["hugged", "hugging"]),
    ("visit", ["visited", "visiting"]),
    ("travel", ["travelled", "traveled", "travelling", "traveling"]),
    ("picnic", ["picnicked", "picnicking"]),
    ("fix", ["fixes", "fixed", "fixing"]),
    ("jump", ["jumps", "jumped", "jumping"]),
    ("feed", ["feeds", "fed", "feeding"]),
    ("sell", ["sold"]),
    ("weave", ["wove", "woven", "weaving"]),
])
def test_verb_forms(word, forms):
    assert set(forms) <= word_forms(word)


@pytest.mark.parametrize("word, other_word", [
    ("hat", "hated"),      # a one-syllable word doubles its consonant; the undoubled form is another word
    ("hop", "hoping"),
    ("star", "staring"),
    ("scar", "scared"),
    ("bear", "born"),      # irregular verbs whose forms are common words of their own are left out
    ("ring", "rang"),
    ("stick", "stuck"),
    ("stand", "stood"),
])
def test_forms_that_would_be_other_words_are_not_made(word, other_word):
    assert other_word not in word_forms(word)


def test_a_name_counts_only_as_itself_and_its_possessive():
    assert word_forms("Priya") == {"priya", "priya's"}
    assert word_forms("Rose") == {"rose", "rose's"}
    assert not present("She picked roses.", "Rose")  # a name is not inflected: roses are not Rose
    assert present("The rose was red and the roses smelled sweet.", "rose")


def test_forms_are_normalized_and_contain_the_word():
    assert "dance" in word_forms("dance")
    assert all(form == form.lower() for form in word_forms("Priya") | word_forms("Dragon"))


@pytest.mark.parametrize("story, words", [
    ("Danced under the stars.", ["dance", "star"]),
    ("Dancing is fun, said the baker.", ["dance", "baker"]),
    ("The foxes swam home to their wolves' den.", ["fox", "swim", "wolf"]),
    ("Three geese flew over the children.", ["goose", "fly", "child"]),
])
def test_inflected_forms_match_in_stories(story, words):
    assert find_words(story, words) == {word: True for word in words}


# ----------------------------------------------------------------------------------------------
# alternatives


@pytest.mark.parametrize("story, expected", [
    ("They sailed across the ocean.", True),
    ("The sea was calm.", True),
    ("The seas were rough.", True),
    ("They played at the seaside.", False),   # "seaside" is one word, and neither alternative
    ("They sailed across the lake.", False),
])
def test_alternatives_match_either_word(story, expected):
    assert present(story, "sea|ocean") is expected


def test_alternatives_with_a_compound():
    assert present("Two penguins built sandcastles.", "sandcastle|castle")
    assert present("Two penguins built a castle of sand.", "sandcastle|castle")
    assert present("Two penguins built a sand-castle.", "sandcastle|castle")
    assert not present("Two penguins built a tower.", "sandcastle|castle")


# ----------------------------------------------------------------------------------------------
# score


def test_score_arithmetic_on_three_stories():
    records = [
        {"prompt": "A robot who wants to learn to dance", "words": ["robot", "dance"]},
        {"prompt": "A princess who is afraid of the dark", "words": ["princess", "dark"]},
        {"prompt": "A knight and a snail become friends at the market", "words": ["snail", "knight", "market"]},
    ]
    stories = [
        "The robot danced all night.",          # robot, dance: 2 of 2
        "The princess was brave.",              # princess: 1 of 2
        "A snail met a dog in the marketplace.",  # snail: 1 of 3 ("marketplace" is not "market")
    ]
    result = score(records, stories)
    assert result["prompts"] == 3
    assert result["word_rate"] == pytest.approx(4 / 7)       # (2 + 1 + 1) / (2 + 2 + 3)
    assert result["all_words_rate"] == pytest.approx(1 / 3)  # only the first has every word
    assert [p["all_words"] for p in result["per_prompt"]] == [True, False, False]
    assert result["per_prompt"][1] == {"prompt": records[1]["prompt"],
                                       "words": {"princess": True, "dark": False}, "all_words": False}
    assert result["per_prompt"][2]["words"] == {"snail": True, "knight": False, "market": False}


def test_score_refuses_mismatched_or_empty_input():
    with pytest.raises(ValueError, match="2 records but 1 stories"):
        score([{"prompt": "a", "words": ["a"]}] * 2, ["a"])
    with pytest.raises(ValueError, match="no records"):
        score([], [])


# ----------------------------------------------------------------------------------------------
# the hand-written set


@pytest.fixture(scope="module")
def freeform():
    return read_freeform()


def test_the_set_is_large_valid_and_has_no_duplicates(freeform):
    path = ROOT / "data" / "freeform.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(freeform) >= 72
    assert len(freeform) == len(lines) and all(line.strip() for line in lines)  # every line is a record
    assert all(json.loads(line)["prompt"] == r["prompt"] for line, r in zip(lines, freeform))  # stored stripped
    assert len({r["prompt"] for r in freeform}) == len(freeform)
    assert all(1 <= len(r["words"]) <= 4 for r in freeform)


def test_the_named_prompts_are_in_the_set(freeform):
    words = {r["prompt"]: r["words"] for r in freeform}
    for prompt, expected in NAMED_PROMPTS.items():
        assert words.get(prompt) == expected, prompt


def test_every_prompt_contains_its_own_words(freeform):
    # The scorer must never ask for something the prompt did not say; this also catches a typo in a
    # word and a morphology rule that stops matching ("two penguins" must contain "penguin").
    for record in freeform:
        hits = find_words(record["prompt"], record["words"])
        assert all(hits.values()), (record["prompt"], hits)


def test_words_are_lower_case_except_names(freeform):
    for record in freeform:
        for word in record["words"]:
            for alternative in word.split("|"):
                if alternative[:1].isupper():  # a name: capitalised in the prompt too
                    assert re.search(rf"\b{alternative}\b", record["prompt"]), (record["prompt"], alternative)
                else:
                    assert alternative == alternative.lower(), (record["prompt"], alternative)


def test_no_prompt_is_one_the_storyteller_writes(freeform):
    # Compared ignoring case, punctuation and spacing, which is stricter than equality: "Write a story
    # about a dragon who is afraid of the dark." with a full stop is the same prompt.
    def canonical(prompt):
        return " ".join(re.sub(r"[^\w\s']", " ", prompt.lower()).split())

    ours = {canonical(r["prompt"]) for r in freeform}
    splits = getattr(storyteller, "SPLITS", ("train", "heldout"))
    for split in splits:
        for seed in (0, 1):
            generated = {canonical(r["prompt"]) for r in storyteller.make_records(2000, seed=seed, split=split)}
            assert not ours & generated, (split, seed, sorted(ours & generated))


# ----------------------------------------------------------------------------------------------
# read_freeform errors

GOOD = '{"prompt": "A story about a sleepy whale", "words": ["whale"]}'


@pytest.mark.parametrize("bad_line, message", [
    ("not json", "invalid JSON"),
    ('["whale"]', "expected a JSON object"),
    ('{"words": ["cat"]}', '"prompt" must be a non-empty string'),
    ('{"prompt": "   ", "words": ["cat"]}', '"prompt" must be a non-empty string'),
    ('{"prompt": 7, "words": ["cat"]}', '"prompt" must be a non-empty string'),
    ('{"prompt": "A cat"}', '"words" must be a non-empty list'),
    ('{"prompt": "A cat", "words": []}', '"words" must be a non-empty list'),
    ('{"prompt": "A cat", "words": "cat"}', '"words" must be a non-empty list'),
    ('{"prompt": "A cat", "words": [""]}', "words[0] must be a non-empty string"),
    ('{"prompt": "A cat", "words": ["cat", 3]}', "words[1] must be a non-empty string"),
    ('{"prompt": "An ice cream", "words": ["ice cream"]}', "is not a single word"),
    ('{"prompt": "An ice-cream", "words": ["ice-cream"]}', "is not a single word"),
    ('{"prompt": "A sea", "words": ["sea|"]}', "is not a single word"),
    ('{"prompt": "A cat", "words": ["cat", "cat"]}', "lists a word twice"),
    (GOOD, "the same prompt as line 1"),
])
def test_read_freeform_names_the_file_and_line(tmp_path, bad_line, message):
    path = tmp_path / "set.jsonl"
    path.write_text(GOOD + "\n\n" + bad_line + "\n")  # the blank line 2 is skipped but still counted
    with pytest.raises(DataError) as error:
        read_freeform(path)
    assert str(error.value).startswith(f"{path}:3: ")
    assert message in str(error.value)


def test_read_freeform_file_level_errors(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_freeform(tmp_path / "missing.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(DataError, match="no prompts found"):
        read_freeform(empty)
    latin1 = tmp_path / "latin1.jsonl"
    latin1.write_bytes('{"prompt": "Zoë", "words": ["Zoë"]}\n'.encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        read_freeform(latin1)


def test_read_freeform_strips_the_prompt_and_keeps_other_keys(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text('{"prompt": "  A sleepy whale \\n", "words": ["whale", "sleepy|sleep"], "by": "me"}\n')
    assert read_freeform(path) == [{"prompt": "A sleepy whale", "words": ["whale", "sleepy|sleep"], "by": "me"}]
