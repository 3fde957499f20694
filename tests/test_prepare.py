"""Tests for data/prepare.py: the cache key covers everything that changes the shards, a cached run builds
nothing, and evaluation never writes into the cache."""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from data.prepare import prepare, validation_shards  # noqa: E402
from data.records import DataError, write_jsonl  # noqa: E402
from tokenizer import Tokenizer  # noqa: E402

SMALL = dict(vocab_size=320, builtin_stories=120)
quiet = dict(log=lambda *a: None)


def tree(root: Path) -> dict[str, int]:
    """Every file under root with its modification time: what a run wrote, and when."""
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cache")
    prepare("builtin", root, instruct=True, seed=1, **SMALL, **quiet)
    return root


def test_a_prepared_run_builds_nothing_again(cache):
    before = tree(cache)
    shard_dir, tokenizer = prepare("builtin", cache, instruct=True, seed=1, **SMALL, **quiet)
    assert tree(cache) == before
    assert (shard_dir / "meta.json").exists() and tokenizer.exists()


@pytest.mark.parametrize("change", [dict(seed=2), dict(val_fraction=0.1), dict(instruct=False),
                                    dict(builtin_stories=121)])
def test_what_changes_the_shards_gets_shards_of_its_own(cache, change):
    base = dict(instruct=True, seed=1, **SMALL)
    first, _ = prepare("builtin", cache, **base, **quiet)
    other, _ = prepare("builtin", cache, **{**base, **change}, **quiet)
    assert other != first and (other / "meta.json").exists()
    meta = (other / "meta.json").read_text()
    for key, value in change.items():
        if key in ("seed", "val_fraction", "instruct"):
            assert f'"{key}": {str(value).lower()}' in meta


def test_another_tokenizer_and_an_edited_file_get_shards_of_their_own(tmp_path):
    records = tmp_path / "stories.jsonl"
    write_jsonl([{"prompt": f"Write about {i}", "story": f"Once there was a fox number {i}. The end."}
                 for i in range(60)], records)
    cache = tmp_path / "cache"
    first, tok_a = prepare(str(records), cache, instruct=True, seed=0, vocab_size=300, **quiet)
    second, tok_b = prepare(str(records), cache, instruct=True, seed=0, vocab_size=310, **quiet)
    assert first != second and tok_a != tok_b
    third, _ = prepare(str(records), cache, instruct=True, seed=0, vocab_size=300, tokenizer_model=tok_b, **quiet)
    assert third == second  # the vocabulary is what counts, not the --vocab-size flag
    with open(records, "a") as f:
        f.write('{"prompt": "one more", "story": "A new story that changes the file."}\n')
    edited, tok_c = prepare(str(records), cache, instruct=True, seed=0, vocab_size=300, **quiet)
    assert edited not in (first, second) and tok_c != tok_a  # an edited file: a new vocabulary and new shards


def test_evaluation_reads_the_cached_split_and_writes_nothing(cache):
    shard_dir, tokenizer_model = prepare("builtin", cache, instruct=True, seed=1, **SMALL, **quiet)
    tokenizer = Tokenizer(tokenizer_model)
    before = tree(cache)
    with validation_shards("builtin", cache, tokenizer, instruct=True, seed=1, builtin_stories=120) as shards:
        assert shards == sorted(shard_dir.glob("val_*.bin"))
    # not cached for this seed: encoded to a temporary directory, identical to what prepare would write
    with validation_shards("builtin", cache, tokenizer, instruct=True, seed=5, builtin_stories=120) as shards:
        temporary = [p.read_bytes() for p in shards]
        assert all(not str(p).startswith(str(cache)) for p in shards)
    assert tree(cache) == before
    fresh, _ = prepare("builtin", cache, instruct=True, seed=5, **SMALL, tokenizer_model=tokenizer_model, **quiet)
    assert temporary == [p.read_bytes() for p in sorted(fresh.glob("val_*.bin"))]


def test_evaluation_on_a_cache_that_was_never_built(tmp_path, cache):
    _, tokenizer_model = prepare("builtin", cache, instruct=True, seed=1, **SMALL, **quiet)
    empty = tmp_path / "empty"
    with validation_shards("builtin", empty, Tokenizer(tokenizer_model), instruct=True, seed=1,
                           builtin_stories=120) as shards:
        assert shards and all(p.stat().st_size > 256 for p in shards)
    assert not empty.exists()
    with pytest.raises(DataError, match="TinyStories is not prepared"):
        with validation_shards("tinystories", empty, Tokenizer(tokenizer_model), instruct=True, seed=1):
            pass
    assert not empty.exists() and not os.path.exists(empty / "tinystories")


def test_heldout_words_never_reach_the_training_shards(cache):
    """What the model trains on, decoded back to text, holds none of the storyteller's held-out words."""
    import re
    from data import storyteller as st
    from data.shards import open_shard
    shard_dir, tokenizer_model = prepare("builtin", cache, instruct=True, seed=1, **SMALL, **quiet)
    tokenizer = Tokenizer(tokenizer_model)
    text = " ".join(tokenizer.decode(open_shard(p)) for p in sorted(shard_dir.glob("*.bin")))
    seen = set(re.findall(r"[a-z]+", text.lower()))
    heldout = {f for slot in st.SLOTS for w in st.slot_values(slot, True) for f in st.forms(w)}
    assert len(seen) > 300 and not seen & heldout, sorted(seen & heldout)


def test_the_vocabulary_sample_is_read_by_offset_yet_the_same(tmp_path, capsys):
    """vocab_texts reads only the sampled stories of a RecordFile; they must be exactly the texts
    train_tokenizer would have sampled from all the stories (its filter of overlong ones included)."""
    from data.prepare import vocab_texts
    from data.records import open_records, read_records
    from tokenizer import MAX_TEXT_BYTES, sample_texts
    stories = [f"Story {i}: " + ("a fox ran. " * (i % 7 + 1)) for i in range(500)]
    stories[3] = stories[250] = "x" * (MAX_TEXT_BYTES + 1)  # too long: dropped before sampling
    stories[9] = "\u00e9" * (MAX_TEXT_BYTES // 2 + 1)  # a JSON escape 6 bytes, the story 2 a character: too long
    stories[20] = "A short story." + " " * MAX_TEXT_BYTES  # a long record whose story, stripped, is short: kept
    for layout in (".txt", ".jsonl"):
        path = tmp_path / f"s{layout}"
        if layout == ".txt":
            path.write_text("<|endoftext|>".join(stories))
        else:
            write_jsonl([{"story": s} for s in stories], path)
            assert "\\u00e9" not in path.read_text()  # written raw; the escaped case below
            path.write_text(path.read_text().replace("\u00e9", "\\u00e9"))
        expected = sample_texts((r["story"] for r in read_records(path)
                                 if len(r["story"].encode()) <= MAX_TEXT_BYTES), 50)
        assert vocab_texts(open_records(path), k=50) == expected and len(expected) == 50
        assert "skipped 3 texts longer than" in capsys.readouterr().err


def test_a_records_file_prepares_as_if_it_were_read_whole(tmp_path):
    """prepare() reads a .txt through offsets; vocabulary and shards must be what reading it whole gives."""
    from data.prepare import VAL_FRACTION
    from data.records import read_records
    from data.shards import encode_dataset
    from tokenizer import train_tokenizer
    path = tmp_path / "stories.txt"
    path.write_text("\n<|endoftext|>\n".join(f"Once there was a fox number {i}.\nIt ran {i % 9} times."
                                             for i in range(400)))
    shard_dir, tokenizer_model = prepare(str(path), tmp_path / "cache", instruct=False, seed=3, vocab_size=300, **quiet)
    records = read_records(path)
    reference = train_tokenizer((r["story"] for r in records), 300, tmp_path / "ref.model")
    assert Tokenizer(tokenizer_model).identity == reference.identity
    encode_dataset(records, reference, tmp_path / "ref", instruct=False, seed=3, val_fraction=VAL_FRACTION)
    assert {p.name: p.read_bytes() for p in sorted((tmp_path / "ref").iterdir())} == \
        {p.name: p.read_bytes() for p in sorted(shard_dir.iterdir())}
