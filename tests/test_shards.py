"""Tests of data/shards.py: the packed token layout, the shard file, encode_dataset and prompt masking."""

import json
import os
import struct
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from data.records import DataError, RecordFile, open_records, read_records
from data.shards import (CHUNKS_IN_FLIGHT, Batches, _in_order, encode_dataset, encode_records, open_shard,
                         read_header, read_meta, write_shard)
from tokenizer import Tokenizer, train_tokenizer

FIXTURES = Path(os.environ.get("STORIES_FIXTURES", Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"))


def fixture(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"fixture {path} not found (set STORIES_FIXTURES to the shared fixtures directory)")
    return path


@pytest.fixture(scope="module")
def tok512():
    """llama2.c's real 512-piece SentencePiece model: <unk> 0, BOS 1, EOS 2."""
    return Tokenizer(fixture(FIXTURES / "llama2c-260K" / "tok512.model"))


@pytest.fixture(scope="module")
def distillation_records():
    return read_records(fixture(FIXTURES / "distillation" / "story_distillation.csv"))


def fake_tokenizer(identity="ab" * 32, vocab_size=16):
    """Enough of a Tokenizer for writing and checking shards by hand."""
    return SimpleNamespace(vocab_size=vocab_size, bos_id=1, eos_id=2, identity=identity, model_path=Path("fake.model"))


# ----------------------------------------------------------------------------------------------
# token layout

# tok512's encodings, checked by hand with `python tokenizer.py encode tok512.model "..."`
WRITE_ABOUT_A_DOG = [410, 448, 420, 275, 411, 261, 430, 408, 261, 400, 428]
THE_DOG_RAN = [291, 400, 428, 352, 303, 426]
TOM = [274, 287]
HI = [320, 417]
A_CAT_SAT = [410, 447, 280, 294, 262, 294, 426]
RECORDS = [{"prompt": "Write about a dog", "story": "The dog ran."}, {"story": "Tom", "prompt": ""},
           {"prompt": "Hi", "story": "A cat sat.", "theme": "cats"}]


def test_instruction_layout(tok512):
    tokens = encode_records(RECORDS, tok512, instruct=True)
    assert tokens.dtype == np.uint16
    assert tokens.tolist() == [*WRITE_ABOUT_A_DOG, 1, *THE_DOG_RAN, 2,  # prompt BOS story EOS
                               1, *TOM, 2,  # an empty prompt is a completion example
                               *HI, 1, *A_CAT_SAT, 2]


def test_completion_layout_drops_prompts(tok512):
    tokens = encode_records(RECORDS, tok512, instruct=False)
    assert tokens.tolist() == [1, *THE_DOG_RAN, 2, 1, *TOM, 2, 1, *A_CAT_SAT, 2]


def test_vocab_too_big_for_uint16(tmp_path):
    with pytest.raises(DataError, match="does not fit uint16 shards"):
        write_shard(tmp_path / "s.bin", np.zeros(3, np.uint16), fake_tokenizer(vocab_size=70000), 1)
    with pytest.raises(DataError, match="does not fit uint16 shards"):
        encode_records(RECORDS, fake_tokenizer(vocab_size=65537), instruct=True)


# ----------------------------------------------------------------------------------------------
# the shard file


def test_header_bytes_at_their_offsets(tmp_path, tok512):
    path = tmp_path / "train_000.bin"
    write_shard(path, np.array([5, 6, 700], np.uint16), tok512, n_examples=2)
    raw = path.read_bytes()
    assert len(raw) == 256 + 3 * 2
    assert raw[0:4] == b"STLD" and struct.unpack_from("<I", raw, 0)[0] == 0x444C5453
    assert struct.unpack_from("<I", raw, 4)[0] == 1  # version
    assert struct.unpack_from("<Q", raw, 8)[0] == 3  # n_tokens
    assert struct.unpack_from("<IIII", raw, 16) == (512, 1, 2, 2)  # vocab_size, bos, eos, n_examples
    assert raw[32:64] == bytes.fromhex("dfff07d929db979913f166ec94a6f5ecad4c70cfed8eb5c9cbe7e464455e46f5")
    assert raw[64:256] == bytes(192)
    assert raw[256:] == b"\x05\x00\x06\x00\xbc\x02"  # little-endian uint16, 700 = 0x02bc
    assert list(tmp_path.iterdir()) == [path]  # the .tmp file was renamed away


def test_open_shard_maps_tokens_read_only(tmp_path, tok512):
    path = tmp_path / "s.bin"
    write_shard(path, np.arange(1000, dtype=np.uint16), tok512, n_examples=1)
    tokens = open_shard(path, tok512)
    assert isinstance(tokens, np.memmap) and tokens.dtype == np.uint16
    assert tokens.tolist() == list(range(1000))
    with pytest.raises(ValueError):
        tokens[0] = 3
    assert read_header(path).n_examples == 1 and read_header(path).tokenizer == tok512.identity


def corrupt(path: Path, offset: int, data: bytes):
    raw = bytearray(path.read_bytes())
    raw[offset:offset + len(data)] = data
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.write_bytes(p.read_bytes()[:-1]), r"shard is truncated: the header promises 10 tokens \(276 bytes\) but the file has 275"),
    (lambda p: p.write_bytes(p.read_bytes() + b"\0\0"), "shard is longer than its header says"),
    (lambda p: p.write_bytes(p.read_bytes()[:40]), "40 bytes is too short to be a token shard"),
    (lambda p: corrupt(p, 0, b"GGUF"), "not a token shard"),
    (lambda p: corrupt(p, 4, struct.pack("<I", 2)), "shard format version 2, this code reads version 1"),
    (lambda p: p.unlink(), "no such shard"),
])
def test_damaged_shards_are_refused(tmp_path, damage, message):
    path = tmp_path / "s.bin"
    write_shard(path, np.arange(10, dtype=np.uint16), fake_tokenizer(), n_examples=1)
    damage(path)
    with pytest.raises(DataError, match=message):
        open_shard(path)


def test_shard_from_another_tokenizer_is_refused(tmp_path, tok512):
    path = tmp_path / "s.bin"
    write_shard(path, np.arange(10, dtype=np.uint16), fake_tokenizer(identity="c0ffee" + "0" * 58), n_examples=1)
    with pytest.raises(DataError) as e:
        open_shard(path, tok512)
    assert str(e.value) == (f"shard {path} was made with a different tokenizer (sha256 c0ffee000000…), this run uses "
                            f"dfff07d929db… ({tok512.model_path}); re-encode the data or pass the matching tokenizer")
    with pytest.raises(DataError, match="different tokenizer"):
        Batches([path], 4, 2, tok512)
    assert open_shard(path).tolist() == list(range(10))  # without a tokenizer to check against it opens


# ----------------------------------------------------------------------------------------------
# encode_dataset


def shard_files(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def test_encode_dataset_is_the_same_with_any_number_of_workers(tmp_path, tok512, distillation_records, monkeypatch):
    monkeypatch.setattr("data.shards.CHUNK_RECORDS", 100)  # smaller units of work, so shards cut more often
    one = encode_dataset(distillation_records, tok512, tmp_path / "w1", instruct=True, workers=1, shard_tokens=100_000)
    two = encode_dataset(distillation_records, tok512, tmp_path / "w2", instruct=True, workers=2, shard_tokens=100_000)
    assert one == two == read_meta(tmp_path / "w1")
    assert shard_files(tmp_path / "w1") == shard_files(tmp_path / "w2")
    assert len(one["train_shards"]) > 1

    # the split: round(5% of 1476) = 74 validation records, the rest train, every token accounted for
    assert (one["n_train_examples"], one["n_val_examples"]) == (1402, 74)
    assert one["n_train_prompted"] == 1402 and one["tokenizer"] == tok512.identity and one["instruct"] is True
    for split in ("train", "val"):
        headers = [read_header(tmp_path / "w1" / name) for name in one[f"{split}_shards"]]
        assert sum(h.n_examples for h in headers) == one[f"n_{split}_examples"]
        assert sum(h.n_tokens for h in headers) == one[f"n_{split}_tokens"]
        for name in one[f"{split}_shards"]:  # every shard starts with a whole example: a prompt, then BOS
            tokens = open_shard(tmp_path / "w1" / name, tok512)
            assert (tokens == 1).sum() == (tokens == 2).sum() == read_header(tmp_path / "w1" / name).n_examples
            prompt = tok512.decode(tokens[:np.flatnonzero(tokens == 1)[0]])
            assert prompt.startswith("Write a story about ")
            assert any(r["prompt"] == prompt for r in distillation_records)

    # a different seed shuffles differently
    other = encode_dataset(distillation_records, tok512, tmp_path / "s1", instruct=True, workers=1, seed=1,
                           shard_tokens=100_000)
    assert other["n_train_tokens"] + other["n_val_tokens"] == one["n_train_tokens"] + one["n_val_tokens"]
    assert shard_files(tmp_path / "s1") != shard_files(tmp_path / "w1")


def test_encode_dataset_with_a_trained_tokenizer_completion_only(tmp_path):
    records = read_records(fixture(FIXTURES / "tinystories" / "valid100.txt"))
    tok = train_tokenizer((r["story"] for r in records), 400, tmp_path / "tok400.model")
    meta = encode_dataset(records, tok, tmp_path / "shards", instruct=False, workers=2)
    assert (meta["n_train_examples"], meta["n_val_examples"]) == (95, 5)
    assert meta["train_shards"] == ["train_000.bin"] and meta["val_shards"] == ["val_000.bin"]
    val = open_shard(tmp_path / "shards" / "val_000.bin", tok)
    assert val[0] == tok.bos_id and val[-1] == tok.eos_id and (val == tok.bos_id).sum() == 5
    stories = tok.decode(val).strip()  # decode drops BOS/EOS, so the stories run together
    assert any(stories.startswith(r["story"]) for r in records)


def test_validation_split_is_never_empty_or_everything(tmp_path):
    tok = fake_tokenizer()
    tok.encode_batch = lambda texts: [[3] * len(t) for t in texts]
    two = encode_dataset([{"story": "ab"}, {"story": "cde"}], tok, tmp_path / "a", instruct=True, workers=1)
    assert (two["n_train_examples"], two["n_val_examples"]) == (1, 1)
    one = encode_dataset([{"story": "ab"}], tok, tmp_path / "b", instruct=True, workers=1)
    assert (one["n_train_examples"], one["n_val_examples"], one["val_shards"]) == (1, 0, [])
    assert open_shard(tmp_path / "b" / "train_000.bin").tolist() == [1, 3, 3, 2]


def test_encode_dataset_removes_an_earlier_encoding(tmp_path):
    tok = fake_tokenizer()
    tok.encode_batch = lambda texts: [[3] * len(t) for t in texts]
    records = [{"story": "abc" * 50}] * 600
    assert len(encode_dataset(records, tok, tmp_path, instruct=False, workers=1, shard_tokens=1)["train_shards"]) == 3
    meta = encode_dataset(records[:10], tok, tmp_path, instruct=False, workers=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["meta.json", "train_000.bin", "val_000.bin"]
    assert json.loads((tmp_path / "meta.json").read_text()) == meta


def write_stories(path: Path, n: int) -> Path:
    """n stories of 300 bytes, as TinyStories' .txt or as .jsonl with a prompt on every other one. Every
    story has as many tokens as any other, whatever n (so a chunk of them takes the same memory)."""
    stories = [f"Once upon a time, a little fox number {i:05d} lived by the river. " * 4 + f"The end of {i:05d}."
               for i in range(n)]
    if path.suffix == ".txt":
        path.write_text("".join(s + "\n<|endoftext|>\n" for s in stories))
    else:
        path.write_text("".join(json.dumps({"prompt": f"Write about fox {i}" if i % 2 else "", "story": s}) + "\n"
                                for i, s in enumerate(stories)))
    return path


@pytest.fixture(scope="module")
def fox_vocab(tmp_path_factory):
    return train_tokenizer([f"Once upon a time, a little fox number {i} lived by the river. The end." for i in
                            range(200)], 300, tmp_path_factory.mktemp("vocab") / "fox.model")


@pytest.mark.parametrize("layout", [".txt", ".jsonl"])
def test_a_records_file_encodes_to_the_shards_of_its_records_in_memory(tmp_path, fox_vocab, monkeypatch, layout):
    """open_records gives a RecordFile, read by the encoding processes a chunk at a time; the shards must be
    byte for byte those of the same records held in a list, with one process or two."""
    monkeypatch.setattr("data.shards.CHUNK_RECORDS", 16)
    path = write_stories(tmp_path / f"stories{layout}", 300)
    in_memory = encode_dataset(read_records(path), fox_vocab, tmp_path / "memory", instruct=True, workers=1,
                               shard_tokens=20_000)
    assert len(in_memory["train_shards"]) > 1 and in_memory["n_val_examples"] == 15
    for workers in (1, 2):
        records = open_records(path)
        assert isinstance(records, RecordFile)
        meta = encode_dataset(records, fox_vocab, tmp_path / f"file{workers}", instruct=True, workers=workers,
                              shard_tokens=20_000)
        assert meta == in_memory
        assert shard_files(tmp_path / f"file{workers}") == shard_files(tmp_path / "memory")


def test_a_bad_record_found_by_an_encoding_process_is_one_line(tmp_path, fox_vocab):
    path = write_stories(tmp_path / "stories.jsonl", 100)
    with open(path, "a") as f:
        f.write('{"story": "The end."}\n{"story": "cut off\n')
    for workers in (1, 2):
        with pytest.raises(DataError, match=r"stories\.jsonl:102: invalid JSON \(Unterminated string"):
            encode_dataset(open_records(path), fox_vocab, tmp_path / "out", instruct=True, workers=workers)
        assert not (tmp_path / "out" / "meta.json").exists()


def test_encoding_a_file_takes_memory_that_does_not_grow_with_it(tmp_path, fox_vocab, monkeypatch):
    """Python's peak allocation (tracemalloc: numpy's arrays included) while encoding a file of 200 stories
    and one of 1,400 (0.36 MB more): a RecordFile adds 24 bytes a record (its offsets, the shuffle), while
    the same records read into a list add more than the text itself. Chunks of 16 records, so that both
    files fill many of them and the largest chunk is the same."""
    import tracemalloc
    monkeypatch.setattr("data.shards.CHUNK_RECORDS", 16)

    def peak(records_of, path) -> int:
        tracemalloc.start()
        try:
            encode_dataset(records_of(path), fox_vocab, tmp_path / f"out-{path.stem}", instruct=True, workers=1,
                           shard_tokens=20_000)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, big = write_stories(tmp_path / "small.jsonl", 200), write_stories(tmp_path / "big.jsonl", 1400)
    added = big.stat().st_size - small.stat().st_size
    streamed = peak(open_records, big) - peak(open_records, small)
    in_memory = peak(read_records, big) - peak(read_records, small)
    assert streamed < 1200 * 24 + 32 * 1024 < added < in_memory, (streamed, added, in_memory)


def test_results_are_taken_in_order_with_a_bounded_number_in_flight():
    submitted = []

    class Pool:  # apply_async that finishes at once; what matters is how far ahead work is handed out
        def apply_async(self, fn, args):
            submitted.append(args[0])
            return SimpleNamespace(get=lambda: args[0])

    results = _in_order(Pool(), iter(range(100)), workers=3)
    assert next(results) == 0 and len(submitted) == CHUNKS_IN_FLIGHT * 3
    assert list(results) == list(range(1, 100)) and submitted == list(range(100))


# ----------------------------------------------------------------------------------------------
# Batches

# a hand-made shard:  7 8 | BOS 5 6 EOS | 9 9 | BOS 4 EOS
# positions            0 1    2 3 4  5    6 7    8  9  10
# prompt tokens: 7 8 (after the shard start) and 9 9 (after an EOS); BOS and EOS never are
HAND = [7, 8, 1, 5, 6, 2, 9, 9, 1, 4, 2]
# seq_len 3: for each window start, the expected x and y with prompt targets as -1
HAND_WINDOWS = {
    0: ([7, 8, 1], [-1, 1, 5]),  # at the shard start, in a prompt
    1: ([8, 1, 5], [1, 5, 6]),  # mid-prompt
    2: ([1, 5, 6], [5, 6, 2]),  # at a BOS
    3: ([5, 6, 2], [6, 2, -1]),  # mid-story: no BOS/EOS before the first target, the backward scan finds BOS
    4: ([6, 2, 9], [2, -1, -1]),
    5: ([2, 9, 9], [-1, -1, 1]),  # at an EOS
    6: ([9, 9, 1], [-1, 1, 4]),  # mid-prompt: the backward scan finds the EOS at 5
    7: ([9, 1, 4], [1, 4, 2]),
}


@pytest.fixture
def hand_shard(tmp_path):
    path = tmp_path / "train_000.bin"
    write_shard(path, np.array(HAND, np.uint16), fake_tokenizer(), n_examples=2)
    return path


def windows_by_start(x: torch.Tensor, y: torch.Tensor) -> dict[int, tuple[list, list]]:
    starts = {tuple(HAND[o:o + 3]): o for o in HAND_WINDOWS}  # every 3-token x is unique in HAND
    return {starts[tuple(row)]: (row, target) for row, target in zip(x.tolist(), y.tolist())}


def test_prompt_targets_are_masked_at_every_window_start(hand_shard):
    batches = Batches([hand_shard], seq_len=3, batch_size=256, mask_prompt=True, seed=0)
    shard = np.array(HAND, np.int64)
    for start, (x, y) in HAND_WINDOWS.items():
        window = shard[start:start + 4]
        masked = batches.prompt_mask(shard, start, window)[1:]
        assert list(np.where(masked, -1, window[1:])) == y and list(window[:-1]) == x, start


def test_instruction_windows_start_at_an_example(hand_shard):
    """With prompts masked, a window starts only at the EOS before an example (here at 5, the one EOS
    with room after it), so every story in it has its prompt in sight."""
    x, y = Batches([hand_shard], seq_len=3, batch_size=256, mask_prompt=True, seed=0).get(0, 0)
    assert x.shape == y.shape == (256, 3) and x.dtype == y.dtype == torch.int64
    assert windows_by_start(x, y) == {5: HAND_WINDOWS[5]}


def test_instruction_windows_skip_prompts_longer_than_the_window(tmp_path, capsys):
    """An example whose prompt alone fills the window gives no window (it would have no target, and a loss
    of 0 / 0); it is counted in a note, and the examples that fit are still used."""
    path = tmp_path / "train_000.bin"
    tokens = [1, 5, 2] + [9] * 6 + [1, 4, 2] + [9] + [1, 6, 6, 2] + [7, 7]  # EOS at 2 (prompt of 6), at 11 (prompt of 1)
    write_shard(path, np.array(tokens, np.uint16), fake_tokenizer(), n_examples=3)
    batches = Batches([path], seq_len=4, batch_size=64, mask_prompt=True, seed=0)
    assert [list(st) for st in batches.starts] == [[11]]
    assert "1 examples are not trained on" in capsys.readouterr().err
    x, y = batches.get(0)
    assert (x[:, 0] == 2).all() and ((y != -1).sum(1) > 0).all()


def test_mask_prompt_false_leaves_targets_alone(hand_shard):
    x, y = Batches([hand_shard], seq_len=3, batch_size=256, mask_prompt=False, seed=0).get(0, 0)
    seen = windows_by_start(x, y)
    assert sorted(seen) == list(range(8))
    assert all(target == HAND[o + 1:o + 4] for o, (_, target) in seen.items())


def test_backward_scan_crosses_chunks(tmp_path):
    tok = fake_tokenizer()
    prompt_first = np.array([9] * 10_000 + [1, 5, 2], np.uint16)  # a long prompt from the shard start
    story_first = np.array([1] + [5] * 10_000 + [2, 9, 9], np.uint16)  # a long story from the shard start
    after_eos = np.array([1, 5, 2] + [9] * 10_000 + [1, 5, 2], np.uint16)  # a long prompt after an EOS
    paths = []
    short = np.array([9, 1, 5, 2], np.uint16)  # and a short example each, which a window of 4 can start at
    for i, tokens in enumerate([prompt_first, story_first, after_eos]):
        paths.append(tmp_path / f"train_{i:03d}.bin")
        write_shard(paths[-1], np.concatenate([tokens, short]), tok, n_examples=2)
    batches = Batches(paths, seq_len=4, batch_size=1, mask_prompt=True)
    for shard, expected in zip(batches.shards, [True, False, True]):
        for start in (5, 4095, 4096, 4097, 9000):
            window = np.asarray(shard[start:start + 5])
            assert batches.prompt_mask(shard, start, window).tolist() == [expected] * 5


def test_get_is_a_function_of_seed_step_and_micro(tmp_path):
    path = tmp_path / "train_000.bin"
    write_shard(path, np.arange(5000, dtype=np.uint16) % 16, fake_tokenizer(), n_examples=1)
    a = Batches([path], seq_len=32, batch_size=8, seed=3)
    b = Batches([path], seq_len=32, batch_size=8, seed=3)
    x, y = a.get(10, 1)
    a.get(11, 0)  # other calls in between change nothing
    assert torch.equal(x, b.get(10, 1)[0]) and torch.equal(y, b.get(10, 1)[1])
    assert torch.equal(y[:, :-1], x[:, 1:])
    assert not torch.equal(x, a.get(10, 0)[0])
    assert not torch.equal(x, a.get(11, 1)[0])
    assert not torch.equal(x, Batches([path], seq_len=32, batch_size=8, seed=4).get(10, 1)[0])


def test_shards_are_drawn_in_proportion_to_their_windows(tmp_path):
    paths = [tmp_path / "train_000.bin", tmp_path / "train_001.bin"]
    write_shard(paths[0], np.full(1010, 3, np.uint16), fake_tokenizer(), n_examples=1)  # 1000 window starts
    write_shard(paths[1], np.full(110, 4, np.uint16), fake_tokenizer(), n_examples=1)  # 100 window starts
    x, _ = Batches(paths, seq_len=10, batch_size=20_000, seed=0).get(0, 0)
    assert set(x.flatten().tolist()) == {3, 4}
    share = (x[:, 0] == 3).float().mean().item()
    assert abs(share - 1000 / 1100) < 0.01


def test_short_shards_are_skipped_or_refused(tmp_path, capsys):
    short, long = tmp_path / "val_000.bin", tmp_path / "val_001.bin"
    write_shard(short, np.full(8, 3, np.uint16), fake_tokenizer(), n_examples=1)
    write_shard(long, np.full(100, 4, np.uint16), fake_tokenizer(), n_examples=1)
    batches = Batches([short, long], seq_len=8, batch_size=4)
    assert batches.paths == [long] and set(batches.get(0)[0].flatten().tolist()) == {4}
    assert "skipping shard" in capsys.readouterr().err
    with pytest.raises(DataError, match=r"every shard is shorter than seq_len \+ 1 = 9 tokens .* has 8"):
        Batches([short], seq_len=8, batch_size=4)
    with pytest.raises(DataError, match="no token shards"):
        Batches([], seq_len=8, batch_size=4)


def test_shards_from_different_tokenizers_do_not_mix(tmp_path):
    a, b = tmp_path / "train_000.bin", tmp_path / "train_001.bin"
    write_shard(a, np.full(100, 3, np.uint16), fake_tokenizer(), n_examples=1)
    write_shard(b, np.full(100, 3, np.uint16), fake_tokenizer(identity="cd" * 32), n_examples=1)
    with pytest.raises(DataError, match="different tokenizers"):
        Batches([a, b], seq_len=8, batch_size=4)


def test_masking_on_encoded_instruction_data(tmp_path, tok512):
    """End to end: every target that is not -1 belongs to a story (or is its BOS/EOS), never to a prompt."""
    records = [{"prompt": "Write about a dog", "story": "The dog ran."}, {"prompt": "Hi", "story": "A cat sat."}] * 20
    meta = encode_dataset(records, tok512, tmp_path, instruct=True, workers=1)
    tokens = open_shard(tmp_path / meta["train_shards"][0], tok512).tolist()
    batches = Batches([tmp_path / n for n in meta["train_shards"]], seq_len=16, batch_size=64, tokenizer=tok512,
                      mask_prompt=True, seed=0)
    x, y = batches.get(0, 0)
    prompt_ids = set(WRITE_ABOUT_A_DOG + HI) - set(THE_DOG_RAN + A_CAT_SAT)
    kept = y[y >= 0].tolist()
    assert kept and not prompt_ids & set(kept)
    assert (y == -1).any()
    assert meta["n_train_tokens"] + meta["n_val_tokens"] == \
        20 * (len(WRITE_ABOUT_A_DOG) + len(THE_DOG_RAN) + len(HI) + len(A_CAT_SAT) + 4)
    assert len(tokens) == meta["n_train_tokens"]


def test_command_line_encodes_a_file_and_reports_errors(tmp_path):
    import subprocess
    import sys
    valid100, tok512 = FIXTURES / "tinystories" / "valid100.txt", FIXTURES / "llama2c-260K" / "tok512.model"
    if not (valid100.exists() and tok512.exists()):
        pytest.skip("fixtures valid100.txt / tok512.model not found (set STORIES_FIXTURES)")
    root = Path(__file__).resolve().parents[1]
    ok = subprocess.run([sys.executable, "-m", "data.shards", str(valid100), "--tokenizer", str(tok512),
                         "--out", str(tmp_path / "shards")], cwd=root, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    meta = read_meta(tmp_path / "shards")
    assert meta["n_train_examples"] + meta["n_val_examples"] == 100 and not meta["instruct"]
    bad = subprocess.run([sys.executable, "-m", "data.shards", str(tmp_path / "none.jsonl"), "--tokenizer",
                          str(tok512), "--out", str(tmp_path / "x")], cwd=root, capture_output=True, text=True)
    assert bad.returncode == 1 and "no such file" in bad.stderr and "Traceback" not in bad.stderr
