"""Tests for data/storyteller.py: the synthetic (prompt, story) generator and its exact scorer."""

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

CORE = ("name", "kind", "place", "object")
ALL_VALUES = set(st.NAMES) | set(st.KINDS) | set(st.PLACES) | set(st.OBJECTS) | set(st.HELPERS)


@functools.lru_cache(maxsize=None)
def sample(split="train", n=3000):
    return st.make_records(n, seed=0, split=split)


def mentioned_values(text):
    """Every value word from any list that the text mentions."""
    words = set(re.findall(r"[a-z]+", text.lower()))  # plurals count too: stricter than the scorer
    return {v for v in ALL_VALUES if v.lower() in words or v.lower() + "s" in words}


def test_same_seed_same_records_and_prefix_stable():
    assert st.make_records(60, seed=7) == st.make_records(60, seed=7)
    assert st.make_records(60, seed=7)[:10] == st.make_records(10, seed=7)


def test_different_seeds_and_splits_differ():
    a, b = st.make_records(100, seed=0), st.make_records(100, seed=1)
    assert sum(x["story"] == y["story"] for x, y in zip(a, b)) == 0
    assert len({r["story"] for r in sample()}) == len(sample())  # no duplicate stories either


def test_deterministic_across_processes():
    # A fresh interpreter with a different hash seed must produce the same records: catches any use
    # of hash() or set iteration order in generation.
    code = "import json; from data.storyteller import make_records; print(json.dumps(make_records(200, 5)))"
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=True).stdout
    assert json.loads(out) == st.make_records(200, 5)


def test_record_layout():
    for split in ("train", "heldout"):
        for r in sample(split):
            assert set(r) == {"prompt", "story", "attributes", "split"} and r["split"] == split
            keys = tuple(r["attributes"])
            assert keys in (CORE, CORE + ("helper",))
            assert r["attributes"]["name"] in st.NAMES and r["attributes"]["kind"] in st.KINDS
            assert r["attributes"]["place"] in st.PLACES and r["attributes"]["object"] in st.OBJECTS
    helper_share = sum("helper" in r["attributes"] for r in sample()) / len(sample())
    assert 0.28 < helper_share < 0.39


def test_story_length_and_paragraphs():
    paragraph_counts = Counter()
    for r in sample()[:2000]:
        story = r["story"]
        assert 80 <= len(story.split()) <= 250, story
        paragraphs = story.split("\n\n")
        assert 2 <= len(paragraphs) <= 4
        assert all(p.strip() == p and p and "\n" not in p for p in paragraphs)
        assert "{" not in story and "}" not in story and "  " not in story
        assert all(p[0].isupper() and p[-1] in '.!?"' for p in paragraphs)
        paragraph_counts[len(paragraphs)] += 1
    assert set(paragraph_counts) == {2, 3, 4}


def test_every_story_follows_its_prompt():
    for r in sample() + sample("heldout"):
        attrs = r["attributes"]
        assert all(st.score_story(r["story"], attrs).values()), r
        assert all(st.score_story(r["prompt"], attrs).values()), r  # the prompt asks for all of them
        assert len(re.findall(rf"\b{attrs['name']}\b", r["story"])) >= 2


def test_no_distractor_values():
    # Neither prompt nor story mentions a value from the lists that the record did not ask for, so a
    # story about another character or place scores False.
    for r in sample() + sample("heldout"):
        wanted = set(r["attributes"].values())
        assert mentioned_values(r["story"]) == wanted, r
        assert mentioned_values(r["prompt"]) == wanted, r


def test_other_records_attributes_mostly_fail():
    records = sample()
    all_true, per_key = 0, Counter()
    for i, r in enumerate(records):
        other = records[(i + 1) % len(records)]["attributes"]
        scores = st.score_story(r["story"], other)
        all_true += all(scores.values())
        per_key.update(k for k, ok in scores.items() if ok)
    assert all_true / len(records) < 0.01
    for key in CORE:  # a value matches only by chance of being equal: ~1/48, 1/30, ...
        assert per_key[key] / len(records) < 0.08, (key, per_key)


def test_score_story_rules():
    story = "Mia's little fox had two Kites near the riverbank. The FOXES ran. A foxglove grew."
    scores = st.score_story(story, {"name": "Mia", "kind": "fox", "place": "river", "object": "kite"})
    assert scores == {"name": True, "kind": True, "place": False, "object": True}
    assert st.score_story("A foxglove and a mousetrap.", {"kind": "fox", "object": "mouse"}) == \
        {"kind": False, "object": False}
    assert st.score_story("She saw the rivers.", {"place": "river"}) == {"place": False}
    assert st.score_story("Tom and Tomas.", {"name": "Tomas", "helper": "owl"}) == \
        {"name": True, "helper": False}


def test_value_words_do_not_collide():
    values = sorted(ALL_VALUES)
    assert all(" " not in v and v.isalpha() for v in values)
    for v in values:  # a plural of one value must not be another value
        assert v + "s" not in ALL_VALUES, v
    assert len(set(st.NAMES)) == len(st.NAMES) >= 40 and len(st.KINDS) >= 25
    assert len(st.PLACES) >= 25 and len(st.OBJECTS) >= 25 and len(st.HELPERS) >= 12


def test_heldout_split():
    assert not any(st.is_heldout(r["attributes"]) for r in sample())
    assert all(st.is_heldout(r["attributes"]) for r in sample("heldout"))
    share = len(st.HELDOUT_PAIRS) / len(st.PAIRS)
    assert 0.05 < share < 0.15
    assert {k for k, _ in st.TRAIN_PAIRS} == set(st.KINDS)
    assert {p for _, p in st.TRAIN_PAIRS} == set(st.PLACES)
    assert len({(r["attributes"]["kind"], r["attributes"]["place"]) for r in sample("heldout")}) > 60


def test_every_value_appears_in_train():
    seen = {key: {r["attributes"][key] for r in sample() if key in r["attributes"]} for key in st.ATTRIBUTES}
    assert seen["name"] == set(st.NAMES)
    assert seen["kind"] == set(st.KINDS)
    assert seen["place"] == set(st.PLACES)
    assert seen["object"] == set(st.OBJECTS)
    assert seen["helper"] == set(st.HELPERS)


def test_names_fit_kinds_and_pronouns_agree():
    for r in sample()[:1500]:
        name, kind = r["attributes"]["name"], r["attributes"]["kind"]
        if kind in st.HUMAN_KINDS:
            assert name in st.HUMAN_KINDS[kind]
        words = set(re.findall(r"[a-z]+", r["story"].lower()))
        wrong = {"he", "him", "his", "himself"} if name in st.GIRL_NAMES else {"she", "her", "herself"}
        assert not words & wrong, r["story"]


def test_helper_never_equals_kind():
    overlap = set(st.HELPERS) & set(st.KINDS)
    assert overlap  # otherwise this test could not fail
    for r in sample() + sample("heldout"):
        assert r["attributes"].get("helper") != r["attributes"]["kind"]


def test_all_prompt_templates_used_and_order_varies():
    # A template's signature is its literal text before the first field (or after the last one).
    def signature(template):
        prefix = template.split("{")[0]
        return ("start", prefix) if prefix else ("end", template.rsplit("}", 1)[1])

    signatures = [signature(t) for t in st.PROMPT_TEMPLATES]
    used = Counter()
    orders = Counter()
    for r in sample():
        prompt = r["prompt"]
        hits = [i for i, (where, text) in enumerate(signatures)
                if (prompt.startswith(text) if where == "start" else prompt.endswith(text))]
        assert len(hits) == 1, prompt
        used[hits[0]] += 1
        positions = {k: re.search(rf"\b{r['attributes'][k]}s?\b", prompt, re.I).start() for k in CORE}
        orders[tuple(sorted(CORE, key=positions.get))] += 1
    assert set(used) == set(range(len(st.PROMPT_TEMPLATES)))
    assert len(orders) >= 8
    assert max(orders.values()) / len(sample()) < 0.35  # no single order dominates


def test_article_agreement():
    pattern = re.compile(r"\b(a|an) ([a-z]+)", re.IGNORECASE)
    checked = Counter()
    for r in sample()[:2000]:
        for text in (r["prompt"], r["story"]):
            for article, word in pattern.findall(text):
                word = word.lower()
                vowel_sound = word[0] in "aeio" or (word[0] == "u" and not word.startswith("uni"))
                assert (article.lower() == "an") == vowel_sound, f"{article} {word}: {text}"
                checked[article.lower()] += 1
    assert checked["an"] > 100 and checked["a"] > 1000
    assert not any(" a owl" in r["story"].lower() for r in sample())


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
