"""Tests for data/storyteller.py (version 2): the synthetic (prompt, story) generator that teaches a model to
copy the words of a prompt, with its two held-out splits."""

import functools
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from data import storyteller as st  # noqa: E402
from data import words as W  # noqa: E402
from data.scoring import find_words  # noqa: E402


@functools.lru_cache(maxsize=None)
def sample(split="train", n=3000):
    return st.make_records(n, seed=0, split=split)


def words_of(text: str) -> Counter:
    return Counter(w.lower() for w in re.findall(r"[A-Za-z]+", text))


def test_same_seed_same_records_and_prefix_stable():
    assert st.make_records(60, seed=7) == st.make_records(60, seed=7)
    assert st.make_records(60, seed=7)[:10] == st.make_records(10, seed=7)


def test_different_seeds_and_splits_differ():
    a, b = st.make_records(100, seed=0), st.make_records(100, seed=1)
    assert sum(x["story"] == y["story"] for x, y in zip(a, b)) == 0
    assert len({r["prompt"] for r in sample()}) > 0.98 * len(sample())


def test_deterministic_across_processes():
    # A fresh interpreter with a different hash seed must produce the same records: catches any use
    # of hash() or set iteration order in generation.
    code = "import json; from data.storyteller import make_records; print(json.dumps(make_records(200, 5)))"
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=True).stdout
    assert json.loads(out) == st.make_records(200, 5)


def test_record_layout_and_every_plot_used():
    for split in st.SPLITS:
        records = sample(split, 600)
        for r in records:
            assert set(r) == {"prompt", "story", "words", "plot", "split"} and r["split"] == split
            assert 2 <= len(r["words"]) <= 6 and all(" " not in w for w in r["words"])
        assert set(Counter(r["plot"] for r in records)) == set(st.PLOTS)


def test_word_lists_are_open_and_clean():
    assert len(W.CHARACTERS) >= 150 and len(W.OBJECTS) >= 150 and len(W.PLACES) >= 100
    assert len(W.NAMES_SHE) + len(W.NAMES_HE) >= 140 and len(W.VERBS) >= 60 and len(W.FEARS) >= 50
    for values in (W.CHARACTERS, list(W.PLACES), W.OBJECTS, W.BUILDINGS, list(W.FEARS)):
        assert len(set(values)) == len(values) and all(v.isalpha() and v.islower() for v in values)
    names = {n.lower() for n in W.NAMES_SHE + W.NAMES_HE}
    assert not names & set(W.CHARACTERS + W.OBJECTS + list(W.PLACES) + W.BUILDINGS)  # a name is never a thing


def test_story_length_and_shape():
    for r in sample()[:2000] + list(sample("heldout-words", 300)):
        story = r["story"]
        assert st.MIN_WORDS <= len(story.split()) <= st.MAX_WORDS, story
        paragraphs = story.split("\n\n")
        assert len(paragraphs) == 3 and all(p.strip() == p and "\n" not in p for p in paragraphs)
        assert "{" not in story and "}" not in story and "  " not in story
        assert all(p[0].isupper() and p[-1] in '.!?"' for p in paragraphs)


def test_every_story_has_every_asked_word_early_and_the_prompt_asks_for_them():
    for split in st.SPLITS:
        for r in sample(split, 1500):
            assert all(find_words(r["story"], r["words"]).values()), r
            assert all(find_words(r["prompt"], r["words"]).values()), r
            first = r["story"].split("\n\n")[0]  # the first paragraph already uses the plot's words
            assert all(find_words(first, r["words"][:2]).values()), r


def test_heldout_words_never_reach_training():
    heldout = {w for slot in st.SLOTS for w in st.slot_values(slot, True)}
    every = {w for slot in st.SLOTS for w in st.SLOTS[slot]}
    assert 0.10 < len(heldout) / len(every) < 0.16  # about 3 in 20, less the template words
    forms = set().union(*(st.forms(w) for w in heldout))
    seen = Counter()
    for r in st.make_records(6000, seed=3, split="train") + st.make_records(2000, seed=4, split="heldout"):
        seen.update(words_of(r["prompt"] + " " + r["story"]))
    leaked = {f: seen[f] for f in forms if seen[f]}
    assert not leaked, leaked
    for slot in ("char", "verb", "fear", "obj", "place", "building", "name", "trait"):  # every slot holds some out
        assert st.slot_values(slot, True), slot
    # and the held-out-words split uses nothing else in the words it asks for
    for r in sample("heldout-words", 600):
        assert all(st.is_heldout_word(w) for w in r["words"]), r


def test_heldout_pairs_only_in_the_heldout_split():
    def pair(r):
        return r["words"][0], r["words"][1]
    assert not any(st.is_heldout_pair(*pair(r)) for r in sample())
    assert all(st.is_heldout_pair(*pair(r)) for r in sample("heldout", 600))
    assert not any(st.is_heldout_word(w) for r in sample("heldout", 600) for w in r["words"])


def test_invented_words_look_like_words_and_are_none_of_the_lists():
    rng = __import__("random").Random(0)
    invented = [st.invent_word(rng) for _ in range(2000)]
    names = [st.invent_word(rng, name=True) for _ in range(300)]
    known = st.known_words()
    assert not {w.lower() for w in invented + names} & known  # never a list word, held out or not
    assert all(w.isalpha() and w.islower() and 4 <= len(w) <= 10 for w in invented)
    assert all(n[0].isupper() and n[1:].islower() for n in names)
    assert len(set(invented)) > 1700  # each is (nearly always) new
    # spelled like the lists' words: their letter pairs are pairs the training words have
    pairs = {w[i:i + 2] for slot in ("char", "obj", "place", "building", "verb", "action", "fear")
             for w in st.slot_values(slot, False) for i in range(len(w) - 1)}
    assert all(w[i:i + 2] in pairs for w in invented for i in range(len(w) - 1))


def test_regular_verb_forms():
    assert st.regular_forms("blim") == ("blim", "blims", "blimed", "bliming")
    assert st.regular_forms("snazzle") == ("snazzle", "snazzles", "snazzled", "snazzling")
    assert st.regular_forms("flurry") == ("flurry", "flurries", "flurried", "flurrying")
    assert st.regular_forms("play") == ("play", "plays", "played", "playing")
    assert st.regular_forms("grush") == ("grush", "grushes", "grushed", "grushing")


def test_template_words_are_never_held_out():
    assert not any(st.is_heldout_word(w) for w in st.template_words())
    assert "the" in st.template_words() and "{" not in "".join(st.template_words())


def test_pronouns_agree_with_the_character():
    for r in sample()[:2000]:
        if r["plot"] == "friends":  # two characters, each with a pronoun of its own
            continue
        char = r["words"][0]
        words = set(words_of(r["story"]))
        if char in W.SHE:
            assert not words & {"he", "him", "his"}, r["story"]
        if char in W.HE:
            assert not words & {"she", "her"}, r["story"]


def test_prompt_shapes_vary():
    starts = Counter(" ".join(r["prompt"].split()[:3]) for r in sample())
    assert len(starts) > 30 and max(starts.values()) / len(sample()) < 0.3  # "Write a story ..." is the commonest
    assert sum(" named " in r["prompt"] or " called " in r["prompt"] or " the " in r["prompt"]
               for r in sample()) > 0.3 * len(sample())


def test_article_agreement():
    pattern = re.compile(r"\b(a|an) ([a-z]+)", re.IGNORECASE)
    checked = Counter()
    for r in sample()[:2000]:
        for text in (r["prompt"], r["story"]):
            for article, word in pattern.findall(text):
                word = word.lower()
                vowel_sound = word[0] in "aeio" or (word[0] == "u" and not word.startswith(("uni", "use")))
                assert (article.lower() == "an") == vowel_sound, f"{article} {word}: {text}"
                checked[article.lower()] += 1
    assert checked["an"] > 100 and checked["a"] > 1000


def test_every_pair_fits_the_default_context(tmp_path):
    """Prompt and story of every built-in training record, in the instruct layout (EOS prompt BOS story
    EOS), fit the quickstart's 256-token context with the vocabulary the quickstart trains."""
    from tokenizer import train_tokenizer
    records = st.make_records(30000, seed=0, split="train")
    tok = train_tokenizer((r["story"] for r in records), 1024, tmp_path / "tok.model")
    stories = tok.encode_batch([r["story"] for r in records])
    prompts = tok.encode_batch([r["prompt"] for r in records])
    longest = max(len(p) + len(s) + 3 for p, s in zip(prompts, stories))
    assert longest <= 256, longest


def test_write_jsonl_roundtrip(tmp_path):
    records = sample()[:25]
    path = tmp_path / "sub" / "stories.jsonl"
    st.write_jsonl(records, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == records
    assert os.listdir(path.parent) == ["stories.jsonl"]  # the .tmp file was renamed away


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "data.storyteller", *args], cwd=ROOT,
                          capture_output=True, text=True)


@pytest.mark.parametrize("args", [("--n", "0", "--show", "1"), ("--n", "x"), ("--split", "test", "--show", "1"),
                                  ("--n", "5")])
def test_cli_errors_are_one_line(args):
    result = run_cli(*args)
    assert result.returncode == 2  # a usage error, as argparse reports it everywhere: usage, then one line
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("usage: ") and ": error: " in lines[-1], result.stderr
    assert "Traceback" not in result.stderr


def test_cli_cannot_write_is_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    result = run_cli("--n", "3", "--out", str(tmp_path / "file" / "records.jsonl"))
    assert result.returncode == 1 and result.stderr.startswith("error: ") and result.stderr.count("\n") == 1


def test_cli_writes_records(tmp_path):
    out = tmp_path / "heldout.jsonl"
    result = run_cli("--n", "30", "--seed", "4", "--split", "heldout", "--out", str(out), "--show", "2")
    assert result.returncode == 0, result.stderr
    assert [json.loads(x) for x in out.read_text().splitlines()] == st.make_records(30, 4, "heldout")
    assert result.stdout.count("PROMPT: ") == 2
    assert run_cli("--help").returncode == 0
