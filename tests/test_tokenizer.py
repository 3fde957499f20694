"""
Tests for tokenizer.py against llama2.c's real tok512 files and small vocabularies trained on real
TinyStories text. Fast and offline: the fixtures live outside the repo (see ../shared/fixtures/SOURCES.md).
"""

import hashlib
import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from data.records import iter_text_stories as read_stories  # noqa: E402
from tokenizer import Tokenizer, TokenizerError, sample_texts, train_tokenizer  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(os.environ.get("STORIES_FIXTURES",
                              Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"))
TOK512_MODEL = FIXTURES / "llama2c-260K" / "tok512.model"
TOK512_BIN = FIXTURES / "llama2c-260K" / "tok512.bin"
VALID100 = FIXTURES / "tinystories" / "valid100.txt"

VOCAB_SIZE = 512  # tok512's size: trains in milliseconds, leaves ~180 merges after the 259 specials


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"fixture {path} not found (set STORIES_FIXTURES to the fixtures directory)")
    return path


@pytest.fixture(scope="module")
def tok512() -> Tokenizer:
    return Tokenizer(need(TOK512_MODEL))


@pytest.fixture(scope="module")
def stories() -> list[str]:
    # valid100 has no digits at all; these repeat a few numbers often enough that BPE would learn
    # pieces like "202" and "100" if split_digits were off
    counting = [f"She was {k % 12 + 1} years old in {2020 + k % 5}. She had {k % 7 * 10 + 5} apples "
                f"and {k % 3 + 100} pears." for k in range(300)]
    return list(read_stories(need(VALID100))) + counting


@pytest.fixture(scope="module")
def trained(stories, tmp_path_factory) -> Tokenizer:
    return train_tokenizer(stories, VOCAB_SIZE, tmp_path_factory.mktemp("tok") / "tok512.model")


# Text a children's-story model will meet, and text it will not: accents, CJK and emoji (never in
# training, so they must come out as byte pieces and back), digits, runs of spaces, tabs, newlines.
ROUND_TRIP_TEXTS = [
    "Once upon a time, there was a little girl named Lily.",
    "Café crème, naïve façade, Zoë's piñata!",
    "小猫在花园里玩。",
    "🐶🎉👍🏽",
    "She had 3 cats and 1024 marbles in 2024.",
    "two  spaces,   three, \t a tab",
    "  leading and trailing spaces  ",
    "line one\nline two\n\nafter a blank line\n",
    "<s> and </s> are only text here",
    "",
]


# -----------------------------------------------------------------------------
# llama2.c's tokenizer.bin

# Tokenizer.export's identity trailer: these 4 bytes (a float32 of +1.7e22, never a SentencePiece score),
# then the raw sha256 of the .model
TRAILER_MAGIC = b"tsid"


def read_tokenizer_bin(path: Path) -> tuple[int, list[bytes], list[float], str | None]:
    """Parse llama2.c's tokenizer.bin the way run.c's build_tokenizer does, with our identity trailer if it
    has one: max_token_length, pieces, scores, and the identity (hex sha256; None without a trailer)."""
    data = path.read_bytes()
    (max_token_length,), offset = struct.unpack_from("<i", data, 0), 4
    pieces, scores, identity, end = [], [], None, len(data)
    while offset < end:
        if data[offset:offset + 4] == TRAILER_MAGIC:
            assert len(data) - offset == 4 + 32, "the identity trailer is not the file's last 36 bytes"
            identity, end = data[offset + 4:].hex(), offset
            break
        score, length = struct.unpack_from("<fi", data, offset)
        offset += 8
        pieces.append(data[offset:offset + length])
        scores.append(score)
        offset += length
    assert offset == end, "tokenizer.bin ends in the middle of a piece"
    return max_token_length, pieces, scores, identity


def decode_like_run_c(pieces: list[bytes], ids: list[int], bos_id: int) -> bytes:
    """run.c's decode: a space is dropped after BOS, and <0xHH> pieces are raw bytes."""
    out, prev = b"", None
    for i in ids:
        piece = pieces[i]
        if prev == bos_id and piece.startswith(b" "):
            piece = piece[1:]
        if (m := re.fullmatch(rb"<0x([0-9A-F]{2})>", piece)):
            piece = bytes([int(m.group(1), 16)])
        if i != bos_id:
            out += piece
        prev = i
    return out


def test_export_is_byte_identical_to_llama2c_tok512_bin(tok512, tmp_path):
    out = tmp_path / "tok512.bin"
    tok512.export(out, record_identity=False)
    assert out.read_bytes() == need(TOK512_BIN).read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["tok512.bin"], "atomic write left a temp file behind"


def test_default_export_is_llama2c_bytes_plus_the_identity_trailer(tok512, tmp_path):
    out = tmp_path / "tok512.bin"
    tok512.export(out)
    sha256 = hashlib.sha256(need(TOK512_MODEL).read_bytes()).digest()
    assert out.read_bytes() == need(TOK512_BIN).read_bytes() + TRAILER_MAGIC + sha256
    # where a reader expects a piece's score, the magic reads as a positive float, which no score is
    assert struct.unpack("<f", TRAILER_MAGIC)[0] > 1e20 and max(read_tokenizer_bin(out)[2]) <= 0
    _, pieces, _, identity = read_tokenizer_bin(out)
    assert len(pieces) == tok512.vocab_size and identity == tok512.identity


def test_read_tokenizer_bin_refuses_a_file_cut_inside_a_piece_or_the_trailer(tok512, tmp_path):
    tok512.export(tmp_path / "tok.bin")
    data = (tmp_path / "tok.bin").read_bytes()
    for cut in (len(data) - 36 - 1, len(data) - 1):  # inside the last piece, inside the trailer
        (tmp_path / "cut.bin").write_bytes(data[:cut])
        with pytest.raises(AssertionError):
            read_tokenizer_bin(tmp_path / "cut.bin")


def test_exported_bin_holds_every_piece_and_score(trained, tmp_path):
    out = tmp_path / "tok.bin"
    trained.export(out)
    max_token_length, pieces, scores, identity = read_tokenizer_bin(out)

    assert len(pieces) == trained.vocab_size and identity == trained.identity
    assert max_token_length == max(len(p) for p in pieces)
    assert pieces[trained.bos_id] == b"\n<s>\n" and pieces[trained.eos_id] == b"\n</s>\n"
    for i in range(trained.vocab_size):
        assert scores[i] == trained.sp.get_score(i), i
        if i not in (trained.bos_id, trained.eos_id):
            assert pieces[i] == trained.sp.id_to_piece(i).replace("\u2581", " ").encode(), i
    assert pieces[3] == b"<0x00>" and pieces[258] == b"<0xFF>"

    # what matters in the end: C code holding only the .bin spells out exactly what we encoded
    for text in ROUND_TRIP_TEXTS[:-1]:
        if text != text.strip():
            continue  # run.c, like SentencePiece, takes the first space to be the dummy prefix
        ids = trained.encode(text, bos=True)
        assert decode_like_run_c(pieces, ids, trained.bos_id) == text.encode(), text


# -----------------------------------------------------------------------------
# encode / decode

@pytest.mark.parametrize("text", ROUND_TRIP_TEXTS)
def test_round_trip_is_exact(trained, text):
    ids = trained.encode(text)
    assert trained.decode(ids) == text
    assert 0 not in ids, "byte fallback should leave nothing unknown"


def test_unseen_characters_fall_back_to_one_piece_per_utf8_byte(trained):
    for text in ["🐶", "猫", "ß"]:
        ids = [i for i in trained.encode(text) if trained.sp.id_to_piece(i) != "\u2581"]
        assert all(trained.sp.is_byte(i) for i in ids), text
        assert len(ids) == len(text.encode())


def test_digits_are_split_one_per_piece(trained):
    ids = trained.encode("She had 1024 marbles and 365 days.")
    digit_pieces = [trained.sp.id_to_piece(i) for i in ids if any(c.isdigit() for c in trained.sp.id_to_piece(i))]
    assert "".join(digit_pieces).replace("\u2581", "") == "1024365"
    assert all(len(p.replace("\u2581", "")) == 1 for p in digit_pieces), digit_pieces
    # and training, though it saw thousands of numbers, learned no multi-digit piece
    learned = [trained.sp.id_to_piece(i) for i in range(trained.vocab_size) if not trained.sp.is_byte(i)]
    assert not [p for p in learned if sum(c.isdigit() for c in p) > 1]


def test_bos_and_eos_flags_put_ids_1_and_2_at_the_ends(trained, tok512):
    for tok in (trained, tok512):
        assert (tok.bos_id, tok.eos_id) == (1, 2)
        ids = tok.encode("The cat sat.")
        assert tok.encode("The cat sat.", bos=True) == [1] + ids
        assert tok.encode("The cat sat.", eos=True) == ids + [2]
        assert tok.encode("The cat sat.", bos=True, eos=True) == [1] + ids + [2]
        assert tok.encode("", bos=True, eos=True) == [1, 2]
        assert 1 not in ids and 2 not in ids


def test_decode_drops_special_tokens(trained):
    ids = trained.encode("The cat sat.")
    assert trained.decode([1] + ids + [2]) == "The cat sat."
    assert trained.decode([0] + ids + [0, 2, 1]) == "The cat sat."  # <unk> too, not " ⁇ "


def test_decode_takes_numpy_and_torch_ids(trained):
    np = pytest.importorskip("numpy")
    torch = pytest.importorskip("torch")
    ids = trained.encode("The cat sat.", bos=True)
    assert trained.decode(np.array(ids, dtype=np.uint16)) == "The cat sat."
    assert trained.decode(torch.tensor(ids)) == "The cat sat."


def test_encode_batch_matches_encode(trained, stories):
    texts = stories[:20] + ROUND_TRIP_TEXTS
    assert trained.encode_batch(texts) == [trained.encode(t) for t in texts]


def test_tok512_round_trips_text_without_whitespace_runs(tok512):
    # llama2.c trained tok512 with SentencePiece's default whitespace cleanup, so only text already
    # free of doubled/edge spaces survives; unseen characters still come back through byte fallback
    text = "Lily saw a big dog. Café, 猫 and 🐶!\nThey had 42 toys."
    assert tok512.decode(tok512.encode(text, bos=True, eos=True)) == text


# -----------------------------------------------------------------------------
# training

def test_trained_vocabulary_has_the_layout_llama2c_expects(trained):
    sp = trained.sp
    assert trained.vocab_size == VOCAB_SIZE
    assert [sp.id_to_piece(i) for i in range(3)] == ["<unk>", "<s>", "</s>"]
    assert [sp.id_to_piece(i) for i in range(3, 259)] == [f"<0x{b:02X}>" for b in range(256)]
    assert all(sp.is_byte(i) for i in range(3, 259))
    assert sp.pad_id() == -1
    # merges were learned: common TinyStories words are single pieces
    vocab = {sp.id_to_piece(i) for i in range(trained.vocab_size)}
    assert {"▁the", "▁little", "▁was", "▁very", "▁happy"} <= vocab


def test_identity_is_sha256_of_the_model_and_tracks_the_model(trained, stories, tmp_path):
    assert trained.identity == hashlib.sha256(trained.model_path.read_bytes()).hexdigest()
    same = train_tokenizer(stories, VOCAB_SIZE, tmp_path / "same.model")
    assert same.identity == trained.identity, "training is not deterministic"
    bigger = train_tokenizer(stories, VOCAB_SIZE + 50, tmp_path / "bigger.model")
    assert bigger.identity != trained.identity
    other_text = train_tokenizer(stories[:50], VOCAB_SIZE, tmp_path / "other.model")
    assert other_text.identity != trained.identity


def test_sampling_to_max_sentences_is_seeded(stories, tmp_path):
    a = train_tokenizer(stories, VOCAB_SIZE, tmp_path / "a.model", max_sentences=150)
    b = train_tokenizer(stories, VOCAB_SIZE, tmp_path / "b.model", max_sentences=150)
    everything = train_tokenizer(stories, VOCAB_SIZE, tmp_path / "all.model")
    assert a.identity == b.identity
    assert a.identity != everything.identity, "max_sentences did not cap the training input"


def test_sample_texts_is_uniform_and_seeded():
    texts = [str(i) for i in range(1000)]
    assert sample_texts(texts[:5], 10) == texts[:5]  # fewer than k: all of them, in order
    sample = sample_texts(texts, 100)
    assert len(set(sample)) == 100 and set(sample) <= set(texts)
    assert sample_texts(iter(texts), 100) == sample
    assert sample_texts(texts, 100, seed=1) != sample
    # uniform: over many seeds, the last 500 texts should win about half of the slots
    late = sum(int(t) >= 500 for seed in range(200) for t in sample_texts(texts, 10, seed=seed))
    assert 0.45 < late / 2000 < 0.55


def test_sampled_training_is_reproducible_across_processes(stories, tmp_path):
    # SentencePiece's own sampler draws a new seed in each process, so only a second process can tell
    # whether the same texts always give the same model
    here = train_tokenizer(stories, VOCAB_SIZE, tmp_path / "here.model", max_sentences=150).identity
    texts_json = tmp_path / "texts.json"
    texts_json.write_text(json.dumps(stories))
    script = ("import json, sys; sys.path.insert(0, sys.argv[1]); from tokenizer import train_tokenizer; "
              "texts = json.load(open(sys.argv[2])); "
              "print(train_tokenizer(texts, int(sys.argv[3]), sys.argv[4], max_sentences=150).identity)")
    there = subprocess.run([sys.executable, "-c", script, REPO, texts_json, str(VOCAB_SIZE),
                            tmp_path / "there.model"], capture_output=True, text=True, timeout=60)
    assert there.returncode == 0, there.stderr
    assert there.stdout.strip() == here


def test_training_replaces_the_model_atomically(stories, tmp_path):
    path = tmp_path / "tok.model"
    path.write_bytes(b"an older model")
    tok = train_tokenizer(iter(stories), VOCAB_SIZE, path)  # a one-pass iterator is enough
    assert tok.model_path == path and tok.vocab_size == VOCAB_SIZE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tok.model"]


def test_whole_stories_keep_their_newlines(trained):
    # trained on whole multi-paragraph stories, so a newline is an ordinary learned piece, not a byte
    (newline,) = [i for i in trained.encode("a\nb") if "\n" in trained.sp.id_to_piece(i)]
    assert not trained.sp.is_byte(newline)


def test_overlong_texts_are_skipped_with_a_warning(stories, tmp_path, capsys):
    tok = train_tokenizer(stories + ["a" * 70_000], VOCAB_SIZE, tmp_path / "tok.model")
    assert tok.vocab_size == VOCAB_SIZE
    assert "skipped 1 texts longer than" in capsys.readouterr().err


def test_read_stories_splits_on_endoftext(tmp_path):
    path = tmp_path / "stories.txt"
    path.write_text("First story.\nSecond line.\n<|endoftext|>\nSecond story.<|endoftext|>Third\n<|endoftext|>\n\n")
    assert list(read_stories(path)) == ["First story.\nSecond line.", "Second story.", "Third"]
    assert len(list(read_stories(need(VALID100)))) == 100


# -----------------------------------------------------------------------------
# errors a user can cause

def assert_one_line(err: pytest.ExceptionInfo, *words: str):
    message = str(err.value)
    assert "\n" not in message and ".cc(" not in message, message
    for word in words:
        assert word in message, message


def test_missing_model_file(tmp_path):
    with pytest.raises(TokenizerError) as err:
        Tokenizer(tmp_path / "nope.model")
    assert_one_line(err, "not found", "nope.model")


@pytest.mark.parametrize("content", [b"", b"this is not a sentencepiece model", b"\x00" * 100])
def test_garbage_model_file(tmp_path, content):
    path = tmp_path / "garbage.model"
    path.write_bytes(content)
    with pytest.raises(TokenizerError) as err:
        Tokenizer(path)
    assert_one_line(err, "garbage.model", "SentencePiece")


def test_tokenizer_bin_is_not_a_model():
    with pytest.raises(TokenizerError) as err:
        Tokenizer(need(TOK512_BIN))
    assert_one_line(err, "tok512.bin", "not a valid SentencePiece")


def test_directory_is_not_a_model(tmp_path):
    with pytest.raises(TokenizerError) as err:
        Tokenizer(tmp_path)
    assert_one_line(err, str(tmp_path))


@pytest.mark.parametrize("vocab_size, words", [
    (259, ["too small", "259"]),  # no room for a single merge after the specials and bytes
    (262, ["262", "required_chars"]),  # fewer pieces than the characters valid100 uses
    (100_000, ["100000", "too high"]),  # more pieces than valid100 can fill
])
def test_bad_vocab_size(stories, tmp_path, vocab_size, words):
    with pytest.raises(TokenizerError) as err:
        train_tokenizer(stories, vocab_size, tmp_path / "tok.model")
    assert_one_line(err, *words)
    assert not list(tmp_path.iterdir()), "a failed training run left files behind"


def test_no_texts(tmp_path):
    with pytest.raises(TokenizerError) as err:
        train_tokenizer([], 512, tmp_path / "tok.model")
    assert_one_line(err, "no texts given")
    with pytest.raises(TokenizerError) as err:
        train_tokenizer(["a" * 70_000], 512, tmp_path / "tok.model")
    assert_one_line(err, "all 1 texts are longer than")


# -----------------------------------------------------------------------------
# command line

def run_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "tokenizer.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("args", [
    ["export", "missing.model", "out.bin"],
    ["encode", "missing.model", "hello"],
    ["train", "--vocab-size", "512", "--input", "missing.txt", "--out", "out.model"],
])
def test_cli_missing_file_is_one_line_error(tmp_path, args):
    result = run_cli(*[tmp_path / a if a.startswith(("missing", "out")) else a for a in args])
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "missing" in result.stderr
    assert not list(tmp_path.iterdir())


def test_cli_train_export_encode(tmp_path):
    model, out_bin = tmp_path / "tok.model", tmp_path / "tok.bin"
    result = run_cli("train", "--vocab-size", VOCAB_SIZE, "--input", need(VALID100), "--out", model)
    assert result.returncode == 0, result.stderr
    assert run_cli("export", model, out_bin).returncode == 0
    _, pieces, _, identity = read_tokenizer_bin(out_bin)
    assert pieces[1] == b"\n<s>\n" and identity == Tokenizer(model).identity
    result = run_cli("encode", model, "Once upon a time", "--bos")
    assert result.returncode == 0, result.stderr
    assert [int(i) for i in result.stdout.split()] == Tokenizer(model).encode("Once upon a time", bos=True)
