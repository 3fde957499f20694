"""Tests for run.c and export.py: llama2.c's golden story, C/Python parity token for token, every model
format (the quantized ones too: their kernels against PyTorch's logits, on every instruction set this CPU
has), the C tokenizer against SentencePiece, and bad input under AddressSanitizer.

The binaries are built here with `make run run_asan` (skipped without a C compiler); one tiny instruct model
is trained once with train.py (about 10 s on 2 cores)."""

import os
import random
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import export  # noqa: E402
from errors import CheckpointError  # noqa: E402
from formats import model_bin, quants  # noqa: E402
from formats.llama2c import write_v0 as write_llama2c_v0, write_v1 as write_llama2c_v1  # noqa: E402
from formats.loader import load_model  # noqa: E402
from lora import Linear4bit  # noqa: E402
from model import ModelArgs, Transformer  # noqa: E402
from formats.model_bin import HEADER_BYTES, MAGIC, write as write_model_bin  # noqa: E402
from sample import generate_text, prompt_ids  # noqa: E402
from tokenizer import Tokenizer  # noqa: E402

FIXTURES = Path(os.environ.get("STORIES_FIXTURES", ROOT.parent / "shared" / "fixtures"))
STORIES260K = FIXTURES / "llama2c-260K"
ENV = dict(os.environ, OMP_NUM_THREADS="1", ASAN_OPTIONS="detect_leaks=1")
# ~50k parameters with a 256-token context: room for 200+ generated tokens after a prompt
TRAIN = ["--instruct", "--dim", "32", "--n-layers", "2", "--n-heads", "4", "--n-kv-heads", "2", "--max-seq-len", "256",
         "--batch-size", "4", "--vocab-size", "320", "--builtin-stories", "400", "--max-iters", "200",
         "--eval-interval", "100", "--eval-iters", "2", "--no-sample", "--export-quant", "q8_0"]
INSTRUCTION = "Write a story about a brave fox who finds a key."
STORY_START = "Once upon a time, there was a little fox"


def fixture(name: str) -> Path:
    path = STORIES260K / name
    if not path.is_file():
        pytest.skip(f"fixture {path} not found; set STORIES_FIXTURES to the folder holding llama2c-260K/")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """out/ of a tiny instruct model trained by train.py: model.bin (our format), ckpt.pt, tokenizer.*"""
    root = tmp_path_factory.mktemp("trained")
    result = subprocess.run([sys.executable, "train.py", *TRAIN, "--out-dir", str(root / "out"),
                             "--data-dir", str(root / "data")], cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return root / "out"


@pytest.fixture(scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run_c(binary: Path, *args, input: bytes | None = None, cwd=ROOT, check=True) -> subprocess.CompletedProcess:
    args = [a if isinstance(a, bytes) else str(a) for a in args]  # bytes pass through: invalid UTF-8 tests
    result = subprocess.run([str(binary), *args], cwd=cwd, env=ENV, input=input, capture_output=True)
    if check:
        assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result


# ----------------------------------------------------------------------------------------------------------
# outputs

def test_golden_story_of_llama2c_260K(binaries):
    result = run_c(binaries["run"], fixture("stories260K.bin"), "-z", fixture("tok512.bin"), "-t", "0", "-n", "200")
    assert result.stdout == fixture("expected_greedy_200.txt").read_bytes()
    assert b"tok/s" in result.stderr and b"tok/s" not in result.stdout  # text to stdout, speed to stderr


@pytest.mark.parametrize("mode, flags", [
    ("instruct", dict(t=0.0)),
    ("generate", dict(t=0.0)),
    ("instruct", dict(t=1.0, p=0.9)),
    ("generate", dict(t=1.0, p=0.9)),
    ("instruct", dict(t=0.8, k=20, p=0.9)),
    ("generate", dict(t=1.0, p=0.0)),  # plain multinomial: the coin walks the vocabulary in id order
])
def test_c_and_python_write_the_same_story(binaries, trained, one_thread, mode, flags):
    model, _ = load_model(trained / "model.bin")
    tokenizer = Tokenizer(trained / "tokenizer.model")
    prompt = INSTRUCTION if mode == "instruct" else STORY_START
    t, k, p = flags["t"], flags.get("k", 0), flags.get("p", 0.0)
    top_p = p if 0 < p < 1 else None

    # The comparison must cover at least 200 tokens, so take the first seed whose story is that long (a
    # model this small sometimes ends early) and compare the whole context's worth of output.
    ids, stop = prompt_ids(tokenizer, prompt, mode)
    for seed in (1, 42, 7, 3, 1234, 99, 5, 2024):
        tokens = list(model.generate(ids, model.args.max_seq_len - len(ids), temperature=t, top_k=k or None,
                                     top_p=top_p, stop_tokens=stop, seed=seed))
        if len(tokens) >= 200:
            break
    assert len(tokens) >= 200, "no seed gave a 200-token story; train the test model longer"
    generated = []
    python = "".join(generate_text(model, tokenizer, prompt, mode, temperature=t, top_k=k or None, top_p=top_p,
                                   steps=0, seed=seed, generated=generated)) + "\n"  # sample.py ends with a newline too
    assert generated == tokens  # what sample.py's tok/s line counts
    c = run_c(binaries["run"], trained / "model.bin", "-m", mode, "-i", prompt, "-n", 0, "-t", t, "-k", k, "-p", p,
              "-s", seed).stdout
    assert c.decode() == python


def test_model_file_sets_the_default_mode(binaries, trained):
    args = ["-i", INSTRUCTION, "-t", "0", "-n", "80"]
    default = run_c(binaries["run"], trained / "model.bin", *args).stdout
    assert default == run_c(binaries["run"], trained / "model.bin", "-m", "instruct", *args).stdout
    assert default != run_c(binaries["run"], trained / "model.bin", "-m", "generate", *args).stdout
    assert INSTRUCTION.encode() not in default  # instruct mode prints only the story


def test_stdin_input(binaries, trained):
    args = ["-t", "0.9", "-s", "5", "-n", "100"]
    from_arg = run_c(binaries["run"], trained / "model.bin", "-i", INSTRUCTION, *args).stdout
    from_stdin = run_c(binaries["run"], trained / "model.bin", "-i", "-", *args, input=INSTRUCTION.encode()).stdout
    assert from_stdin == from_arg and len(from_arg) > 20


def test_tokenizer_found_beside_the_model_then_in_the_working_directory(binaries, trained, tmp_path):
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    here.mkdir(), elsewhere.mkdir()
    shutil.copy(trained / "model.bin", here / "model.bin")
    args = [here / "model.bin", "-i", INSTRUCTION, "-t", "0", "-n", "60"]
    want = run_c(binaries["run"], trained / "model.bin", *args[1:]).stdout

    result = run_c(binaries["run"], *args, cwd=elsewhere, check=False)  # none anywhere
    assert result.returncode == 1 and b"no tokenizer.bin beside" in result.stderr
    shutil.copy(trained / "tokenizer.bin", elsewhere / "tokenizer.bin")
    assert run_c(binaries["run"], *args, cwd=elsewhere).stdout == want  # ./tokenizer.bin
    (elsewhere / "tokenizer.bin").write_bytes(b"\0\0\0\0")  # a wrong one in the working directory ...
    shutil.copy(trained / "tokenizer.bin", here / "tokenizer.bin")
    assert run_c(binaries["run"], *args, cwd=elsewhere).stdout == want  # ... loses to the one beside the model


# ----------------------------------------------------------------------------------------------------------
# model formats

def test_every_format_gives_the_same_story(binaries, trained, tmp_path):
    model, info = load_model(trained / "model.bin")
    assert info["format"] == "ours" and info["instruct"] is True
    assert info["tokenizer"] == Tokenizer(trained / "tokenizer.model").identity
    write_llama2c_v0(model, tmp_path / "v0.bin")
    write_llama2c_v1(model, tmp_path / "v1.bin")
    write_model_bin(model, tmp_path / "ours.bin", mode="instruct", tokenizer=Tokenizer(trained / "tokenizer.model"))
    assert (tmp_path / "ours.bin").read_bytes() == (trained / "model.bin").read_bytes()

    args = ["-z", trained / "tokenizer.bin", "-m", "instruct", "-i", INSTRUCTION, "-t", "1.0", "-s", "11"]
    outputs = {name: run_c(binaries["run"], tmp_path / f"{name}.bin", *args).stdout for name in ("v0", "v1", "ours")}
    assert outputs["v0"] == outputs["v1"] == outputs["ours"] and len(outputs["ours"]) > 100

    want = model.state_dict()
    for name, fmt in (("v0", "llama2c-v0"), ("v1", "llama2c-v1"), ("ours", "ours")):
        loaded, info = load_model(tmp_path / f"{name}.bin")
        assert info["format"] == fmt and loaded.args == model.args
        assert all(torch.equal(loaded.state_dict()[k], v) for k, v in want.items())


def test_untied_classifier_in_every_format(binaries, trained, tmp_path):
    model, _ = load_model(trained / "model.bin")
    model.args.tie_embeddings = False
    model.output.weight = torch.nn.Parameter(model.output.weight.detach().flip(0).clone())  # differs from the embedding
    write_llama2c_v0(model, tmp_path / "v0.bin")
    write_llama2c_v1(model, tmp_path / "v1.bin")
    write_model_bin(model, tmp_path / "ours.bin", mode="generate")
    args = ["-z", trained / "tokenizer.bin", "-m", "generate", "-i", STORY_START, "-t", "0", "-n", "100"]
    outputs = [run_c(binaries["run"], tmp_path / f"{name}.bin", *args).stdout for name in ("v0", "v1", "ours")]
    assert outputs[0] == outputs[1] == outputs[2]
    for name in ("v0", "v1", "ours"):
        loaded, _ = load_model(tmp_path / f"{name}.bin")
        assert not loaded.args.tie_embeddings and torch.equal(loaded.output.weight, model.output.weight)


def test_stories260K_round_trips_byte_for_byte_through_every_format(tmp_path):
    original = fixture("stories260K.bin")
    model, info = load_model(original)
    assert info["format"] == "llama2c-v0" and info["instruct"] is False
    write_llama2c_v0(model, tmp_path / "v0.bin")
    assert (tmp_path / "v0.bin").read_bytes() == original.read_bytes()
    write_model_bin(model, tmp_path / "ours.bin")  # ours -> v1 -> v0 loses nothing either
    write_llama2c_v1(load_model(tmp_path / "ours.bin")[0], tmp_path / "v1.bin")
    write_llama2c_v0(load_model(tmp_path / "v1.bin")[0], tmp_path / "again.bin")
    assert (tmp_path / "again.bin").read_bytes() == original.read_bytes()


def test_train_writes_our_format_and_load_model_reads_its_header(trained):
    assert (trained / "model.bin").read_bytes()[:4] == MAGIC
    model, info = load_model(trained / "model.bin")
    assert info["instruct"] is True and info["tokenizer"] == Tokenizer(trained / "tokenizer.model").identity
    assert model.args.norm_eps == 1e-5 and model.args.rope_theta == 10000.0  # float32 in the header, exact here


def test_python_reader_rejects_bad_files(trained, tmp_path):
    data = (trained / "model.bin").read_bytes()
    for cut in (3, 100, HEADER_BYTES + 5, len(data) - 1):
        (tmp_path / "cut.bin").write_bytes(data[:cut])
        with pytest.raises(CheckpointError):
            load_model(tmp_path / "cut.bin")
    (tmp_path / "v9.bin").write_bytes(MAGIC + struct.pack("<i", 9) + data[8:])
    with pytest.raises(CheckpointError, match="version 9"):
        load_model(tmp_path / "v9.bin")


# ----------------------------------------------------------------------------------------------------------
# the tokenizer

FIXED_TEXTS = [
    "", " ", "   ", "a", " a", "a ", "Once upon a time", "  two leading", "two trailing  ", "a  b   c    d",
    "\t\ttabs\n\nnewlines\r\n", "digits 1234567890 and 3.14159", "café naïve Ünïcödé — “quotes” …", "中文字符",
    "emoji 😀🐉 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "x▁y", "▁", "a ▁", " ▁ ", "<s> </s> <unk> <0x41>", "Ω≈ç√∫", "\u00a0nbsp\u3000space",
    "Lily's mom said, \"Lily, let's go to the park.\"\nThe end.", "\n", " \n ", "ǅ\u0301\u200d\ufeff",
]


def random_texts(n: int, seed: int = 0) -> list[str]:
    """Strings mixing letters, whitespace runs, digits and characters both in and out of the vocabularies."""
    rng = random.Random(seed)
    alphabet = list("abcdefghijklmnopqrstuvwxyz ABCXYZ .,!?'\"\n\t0123456789") + list("éüßæøåñ€£¥—“”…😀🐉中文▁")
    alphabet += ["  ", "   ", "\u00a0"]
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) for _ in range(n)]


@pytest.mark.parametrize("which", ["ours", "tok512"])
def test_c_encoding_matches_sentencepiece(binaries, trained, which):
    if which == "ours":
        model, tok_bin, tokenizer = trained / "model.bin", trained / "tokenizer.bin", Tokenizer(trained / "tokenizer.model")
    else:  # llama2.c's: removes extra whitespace, and its file does not say so (run.c infers it)
        model, tok_bin, tokenizer = fixture("stories260K.bin"), fixture("tok512.bin"), Tokenizer(fixture("tok512.model"))
    mismatches = []
    for text in FIXED_TEXTS + random_texts(60):
        result = run_c(binaries["run"], model, "-z", tok_bin, "-m", "encode", "-i", "-", input=text.encode())
        got = [int(i) for i in result.stdout.split()]
        if got != tokenizer.encode(text):
            mismatches.append((text, got, tokenizer.encode(text)))
    assert not mismatches


# ----------------------------------------------------------------------------------------------------------
# bad input, under AddressSanitizer and UndefinedBehaviorSanitizer

def assert_clean_failure(result: subprocess.CompletedProcess, message: str, status: int = 1):
    """One line on stderr naming the problem, and the exit status: 2 for a bad command line, 1 otherwise."""
    stderr = result.stderr.decode(errors="replace")
    assert "Sanitizer" not in stderr and "runtime error" not in stderr, stderr
    assert result.returncode == status, stderr
    assert stderr.startswith("error: ") and stderr.count("\n") == 1, stderr  # exactly one line
    assert message in stderr, stderr


USAGE, FAILURE = 2, 1  # exit statuses: a bad command line (as argparse), and everything else


@pytest.mark.parametrize("args, status, message", [
    (["-q", "1"], USAGE, "unknown option '-q'"),
    (["-t"], USAGE, "-t needs a value"),
    (["-i", "hi", "-n"], USAGE, "-n needs a value"),
    (["-t", "warm"], USAGE, "-t expects a number"),
    (["-t", "-1"], USAGE, "-t must not be negative"),
    (["-p", "1.5"], USAGE, "-p must be in [0, 1]"),
    (["-p", "2"], USAGE, "-p must be in [0, 1]"),
    (["-n", "-5"], USAGE, "-n expects a whole number"),
    (["-k", "3x"], USAGE, "-k expects a whole number"),
    (["-s", "-3"], USAGE, "-s expects a whole number"),
    (["-m", "chat"], USAGE, "-m expects instruct, generate or encode"),
    (["-m", "bogus"], USAGE, "-m expects instruct, generate or encode"),
    (["-i", ""], FAILURE, "instruct mode needs an instruction"),
    (["-i", " \n\t "], FAILURE, "instruct mode needs an instruction"),
    (["-i", "word " * 300], FAILURE, "the prompt is"),  # over-long prompts are refused, not truncated
    (["-m", "generate", "-i", "é" * 300], FAILURE, "the model's context is 256"),
    ([b"-i", b"bad \xff\xfe utf-8"], FAILURE, "not valid UTF-8"),
    ([b"-i", b"overlong \xc0\xaf"], FAILURE, "not valid UTF-8"),
    ([b"-i", b"surrogate \xed\xa0\x80"], FAILURE, "not valid UTF-8"),
    ([b"-i", b"cut \xe2\x82"], FAILURE, "not valid UTF-8"),
    (["-z", "/no/such/tokenizer.bin"], FAILURE, "cannot open tokenizer /no/such/tokenizer.bin"),
])
def test_bad_flags_and_prompts(binaries, trained, args, status, message):
    assert_clean_failure(run_c(binaries["asan"], trained / "model.bin", *args, check=False), message, status)


def test_usage_and_help(binaries):
    result = run_c(binaries["asan"], check=False)  # no model file: the usage, on stderr
    assert result.returncode == USAGE and result.stderr.startswith(b"Usage: ") and not result.stdout
    for args in (["-h"], ["--help"], ["model.bin", "-t", "0", "-h"]):  # help exits before any file is opened
        result = run_c(binaries["asan"], *args, check=False)
        assert result.returncode == 0 and result.stdout.startswith(b"Usage: ") and not result.stderr, args


def test_bad_input_on_stdin(binaries, trained):
    result = run_c(binaries["asan"], trained / "model.bin", "-i", "-", input=b"\x80 not utf-8", check=False)
    assert_clean_failure(result, "not valid UTF-8")


def test_missing_or_odd_model_paths(binaries, tmp_path):
    assert_clean_failure(run_c(binaries["asan"], tmp_path / "missing.bin", check=False), "missing.bin")
    assert_clean_failure(run_c(binaries["asan"], tmp_path, check=False), "not a regular file")
    (tmp_path / "empty.bin").write_bytes(b"")
    assert_clean_failure(run_c(binaries["asan"], tmp_path / "empty.bin", check=False), "too short")
    assert_clean_failure(run_c(binaries["asan"], "-i", check=False), "the first argument must be the model file", USAGE)


def test_truncated_files_at_many_cut_points(binaries, trained, tmp_path):
    model, _ = load_model(trained / "model.bin")
    write_llama2c_v0(model, tmp_path / "v0.bin")
    write_llama2c_v1(model, tmp_path / "v1.bin")
    for source in (trained / "model.bin", tmp_path / "v0.bin", tmp_path / "v1.bin"):
        data = source.read_bytes()
        for cut in (1, 4, 7, 8, 27, 28, 36, 100, 255, 256, 257, len(data) // 2, len(data) - 4, len(data) - 1):
            (tmp_path / "cut.bin").write_bytes(data[:cut])
            result = run_c(binaries["asan"], tmp_path / "cut.bin", "-z", trained / "tokenizer.bin", "-i", "hi", check=False)
            assert_clean_failure(result, "cut.bin")
    tokenizer = (trained / "tokenizer.bin").read_bytes()  # ends with the 36-byte identity trailer
    for cut in (0, 2, 4, 9, 11, len(tokenizer) // 2, len(tokenizer) - 37, len(tokenizer) - 32, len(tokenizer) - 1):
        (tmp_path / "tok.bin").write_bytes(tokenizer[:cut])
        result = run_c(binaries["asan"], trained / "model.bin", "-z", tmp_path / "tok.bin", "-i", "hi", check=False)
        assert_clean_failure(result, "tok.bin")


def patched(source: Path, target: Path, offset: int, fmt: str, *values) -> Path:
    data = bytearray(source.read_bytes())
    struct.pack_into(fmt, data, offset, *values)
    target.write_bytes(bytes(data))
    return target


# (byte offset in our header, struct format, value, message); the 7 config ints start at byte 8
OUR_HEADER_CASES = [
    (0, "<4s", b"tslx", "outside"),  # wrong magic: read as a legacy header whose numbers make no sense
    (4, "<i", 3, "model format version 3"),
    (4, "<i", -1, "model format version -1"),
    (8, "<i", 0, "dim=0"),
    (8, "<i", -32, "dim=-32"),
    (8, "<i", 1 << 30, "dim=1073741824"),
    (8, "<i", 34, "n_heads=4, which does not divide dim=34"),
    (8, "<i", 36, "head_dim=9 is odd"),
    (12, "<i", 0, "hidden_dim=0"),
    (16, "<i", 1 << 20, "n_layers=1048576"),
    (20, "<i", 3, "does not divide"),
    (24, "<i", 3, "n_kv_heads=3"),
    (28, "<i", 1 << 30, "vocab_size=1073741824"),
    (28, "<i", 321, "the header implies"),
    (32, "<i", 0, "seq_len=0"),
    (32, "<i", 2**31 - 1, "seq_len=2147483647"),
    (36, "<B", 7, "flag bytes"),
    (40, "<i", 320, "bos_id=320"),
    (48, "<f", -1.0, "rope_theta"),
    (52, "<f", float("nan"), "norm_eps"),
]


@pytest.mark.parametrize("offset, fmt, value, message", OUR_HEADER_CASES)
def test_absurd_headers(binaries, trained, tmp_path, offset, fmt, value, message):
    path = patched(trained / "model.bin", tmp_path / "bad.bin", offset, fmt, value)
    assert_clean_failure(run_c(binaries["asan"], path, "-i", "hi", check=False), message)


def test_absurd_llama2c_headers(binaries, trained, tmp_path):
    model, _ = load_model(trained / "model.bin")
    write_llama2c_v0(model, tmp_path / "v0.bin")
    write_llama2c_v1(model, tmp_path / "v1.bin")
    tok = ["-z", trained / "tokenizer.bin", "-i", "hi"]
    cases = [(tmp_path / "v1.bin", 4, "<i", 7, "llama2.c format version 7"),
             (tmp_path / "v1.bin", 4, "<i", 2, "version 2 (int8)"),
             (tmp_path / "v1.bin", 28, "<i", -320, "vocab_size=-320"),
             (tmp_path / "v0.bin", 20, "<i", -(2**31), "vocab_size=-2147483648"),
             (tmp_path / "v0.bin", 24, "<i", 1 << 24, "the header implies"),  # v0 stores RoPE tables of seq_len rows
             (tmp_path / "v0.bin", 0, "<i", -288, "dim=-288")]
    for source, offset, fmt, value, message in cases:
        path = patched(source, tmp_path / "bad.bin", offset, fmt, value)
        assert_clean_failure(run_c(binaries["asan"], path, *tok, check=False), message)


def test_huge_context_allocates_only_the_positions_it_runs(binaries, trained, tmp_path):
    # seq_len 2^24 is within limits and our format stores nothing per position, so this file is valid; the
    # KV cache is sized by -n, not by the context (the whole of it would be 4 GiB here)
    path = patched(trained / "model.bin", tmp_path / "long.bin", 32, "<i", 1 << 24)
    shutil.copy(trained / "tokenizer.bin", tmp_path / "tokenizer.bin")
    assert run_c(binaries["asan"], path, "-i", "hi", "-n", "40").stdout


def test_tokenizer_that_does_not_match_the_model(binaries, trained):
    result = run_c(binaries["asan"], fixture("stories260K.bin"), "-z", trained / "tokenizer.bin", check=False)
    assert_clean_failure(result, "has 320 pieces but the model's vocabulary has 512")
    result = run_c(binaries["asan"], trained / "model.bin", "-z", trained / "model.bin", "-i", "hi", check=False)
    assert_clean_failure(result, "model.bin")  # not a tokenizer at all


TRAILER_MAGIC = b"tsid"  # Tokenizer.export's identity trailer: these 4 bytes, then the .model's raw sha256


def test_tokenizer_with_the_right_size_but_another_identity(binaries, trained, tmp_path):
    identity = Tokenizer(trained / "tokenizer.model").identity
    ours = (trained / "tokenizer.bin").read_bytes()
    assert ours[-36:] == TRAILER_MAGIC + bytes.fromhex(identity)  # train.py's export records the identity
    other = "ab" * 32  # the same 320 pieces, said to come from another .model
    (tmp_path / "other.bin").write_bytes(ours[:-32] + bytes.fromhex(other))
    for binary in (binaries["run"], binaries["asan"]):
        result = run_c(binary, trained / "model.bin", "-z", tmp_path / "other.bin", "-i", "hi", check=False)
        assert_clean_failure(result, f"{tmp_path / 'other.bin'} is tokenizer {other[:12]} but "
                                     f"{trained / 'model.bin'} was trained with tokenizer {identity[:12]}")
        assert b"pass the tokenizer the model was trained with (-z)" in result.stderr

    (tmp_path / "junk.bin").write_bytes(ours + b"x")  # bytes after the trailer: corrupt, not a piece
    result = run_c(binaries["asan"], trained / "model.bin", "-z", tmp_path / "junk.bin", "-i", "hi", check=False)
    assert_clean_failure(result, "junk.bin: the identity trailer after 320 pieces has 37 bytes, expected 36")


def test_identity_is_checked_only_when_both_files_record_one(binaries, trained, tmp_path):
    args = ["-i", INSTRUCTION, "-t", "1.0", "-k", "30", "-s", "9", "-n", "0"]
    want = run_c(binaries["asan"], trained / "model.bin", "-z", trained / "tokenizer.bin", *args).stdout
    assert len(want) > 100
    # a tokenizer.bin without the trailer (llama2.c's bytes): only the piece count is checked
    Tokenizer(trained / "tokenizer.model").export(tmp_path / "plain.bin", record_identity=False)
    assert (tmp_path / "plain.bin").read_bytes() == (trained / "tokenizer.bin").read_bytes()[:-36]
    assert run_c(binaries["asan"], trained / "model.bin", "-z", tmp_path / "plain.bin", *args).stdout == want
    # a model header that records no identity (zeros at bytes 56..87), with a tokenizer that does
    unrecorded = patched(trained / "model.bin", tmp_path / "unrecorded.bin", 56, "<32s", bytes(32))
    assert run_c(binaries["asan"], unrecorded, "-z", trained / "tokenizer.bin", *args).stdout == want


def test_asan_build_runs_a_whole_story_cleanly(binaries, trained):
    result = run_c(binaries["asan"], trained / "model.bin", "-i", INSTRUCTION, "-t", "1.0", "-k", "30", "-s", "9", "-n", 0)
    assert len(result.stdout) > 100 and b"Sanitizer" not in result.stderr


# ----------------------------------------------------------------------------------------------------------
# quantized model.bin (our version 2): Q8_0, Q4_0, NF4

QUANTS = ["q8_0", "q4_0", "nf4"]
# A program built from run.c itself (its main renamed) that multiplies one matrix of a model file by a vector
# read from stdin: run.c's own loader and kernels, checked number for number against PyTorch.
MATVEC_C = r"""
#define main run_main
#include "run.c"
#undef main
int main(int argc, char **argv) {  /* W x for matrix argv[2] of the model argv[1]; x float32 on stdin */
    choose_kernel();
    init_nf4_tables();
    Model m;
    build_model(&m, argv[1]);
    const Weights *w = &m.weights;
    const char *names[] = {"wqkv", "wo", "w13", "w2", "classifier"};
    const Matrix *matrices[] = {&w->layers[0].wqkv, &w->layers[0].wo, &w->layers[0].w13, &w->layers[0].w2,
                                &w->classifier};
    const Matrix *mat = NULL;
    for (int i = 0; i < 5; i++) if (strcmp(argv[2], names[i]) == 0) mat = matrices[i];
    float *x = checked_calloc(mat->cols, sizeof(float), "x"), *out = checked_calloc(mat->rows, sizeof(float), "out");
    if (fread(x, sizeof(float), mat->cols, stdin) != (size_t)mat->cols) die("short input");
    QuantizedVector v = {checked_calloc(mat->cols, 1, "q"), checked_calloc(mat->cols / QK, sizeof(float), "d"),
                         checked_calloc(mat->cols / QK, sizeof(int32_t), "sums")};
    matmul(out, x, mat, &v);
    for (int r = 0; r < mat->rows; r++) printf("%.9g\n", out[r]);
    return 0;
}
"""
KERNELS = ["plain", "avx2", "avx512"]
ATTEND_C = r"""
#define main run_main
#include "run.c"
#undef main
int main(void) {  /* stdin: int32 head_dim, n; float32 q (head_dim), keys, values (n, head_dim) */
    choose_kernel();
    int32_t dims[2];
    if (fread(dims, sizeof(int32_t), 2, stdin) != 2) die("short input");
    int hd = dims[0], n = dims[1];
    float *q = checked_calloc(hd, 4, "q"), *kv = checked_calloc(2 * (size_t)n * hd, 4, "kv");
    if (fread(q, 4, hd, stdin) != (size_t)hd || fread(kv, 4, 2 * (size_t)n * hd, stdin) != 2 * (size_t)n * hd)
        die("short input");
    uint16_t *cache = checked_calloc(2 * (size_t)n * hd, 2, "cache");  /* as forward stores them: one row at a time */
    for (int t = 0; t < 2 * n; t++) store_f16(cache + (size_t)t * hd, kv + (size_t)t * hd, hd);
    float *out = checked_calloc(hd, 4, "out"), *att = checked_calloc(n, 4, "att");
    attend_f16(out, att, q, cache, cache + (size_t)n * hd, n, hd, 1.0f / sqrtf((float)hd));
    for (int i = 0; i < 2 * n * hd; i++) printf("%u\n", cache[i]);
    for (int i = 0; i < hd; i++) printf("%.9g\n", out[i]);
    return 0;
}
"""

EXP_C = r"""
#define main run_main
#include "run.c"
#undef main
TARGET_AVX2 static void exps(const float *x, float *out, int n) {
    for (int i = 0; i < n; i += 8) _mm256_storeu_ps(out + i, exp_avx2(_mm256_loadu_ps(x + i)));
}
int main(void) {  /* stdin: int32 n (a multiple of 8); float32 x (n), up (n). stdout: exp_avx2(x), then
                     silu(x) * up as run's SwiGLU computes it for a quantized model */
    choose_kernel();
    if (kernel == KERNEL_PLAIN) die("this CPU (or build) offers at most plain");
    int32_t n;
    if (fread(&n, 4, 1, stdin) != 1) die("short input");
    float *x = checked_calloc(n, 4, "x"), *up = checked_calloc(n, 4, "up"), *e = checked_calloc(n, 4, "e");
    if (fread(x, 4, n, stdin) != (size_t)n || fread(up, 4, n, stdin) != (size_t)n) die("short input");
    exps(x, e, n);
    swiglu(x, up, n - 3, 1);  /* n - 3: a tail after the vector lanes too */
    for (int i = 0; i < n; i++) printf("%.9g\n", e[i]);
    for (int i = 0; i < n - 3; i++) printf("%.9g\n", x[i]);
    return 0;
}
"""


def test_vector_exp_and_swiglu_are_as_accurate_as_expf(tmp_path):
    """The AVX2/AVX-512 kernels' e^x (attention's softmax and the SwiGLU of a quantized model) is within
    3e-7 of the true value from e^-87 to e^88, clamps beyond (no overflow into garbage, no infinities),
    keeps NaN, and the SwiGLU built on it is PyTorch's silu(x) * up, tail included."""
    program = build_harness(EXP_C, tmp_path / "exp")
    torch.manual_seed(0)
    inside = torch.cat([torch.linspace(-87, 88, 20000), torch.randn(1000) * 5, torch.tensor([0.0, -0.0, 1e-30])])
    outside = torch.tensor([88.5, 100.0, 1e30, float("inf"), -87.5, -1000.0, float("-inf")])
    x = torch.cat([inside, outside, torch.tensor([float("nan")])])
    x = torch.cat([x, torch.zeros(-len(x) % 8)])
    up = torch.randn(len(x))
    data = struct.pack("<i", len(x)) + x.numpy().astype("<f4").tobytes() + up.numpy().astype("<f4").tobytes()
    result = subprocess.run([str(program)], input=data, capture_output=True, env=dict(ENV, RUN_KERNEL="avx2"))
    if result.returncode and b"offers at most plain" in result.stderr:
        pytest.skip("this CPU has no AVX2")
    assert result.returncode == 0, result.stderr
    values = torch.tensor([float(v) for v in result.stdout.split()], dtype=torch.float64)
    e, swiglu = values[:len(x)], values[len(x):]
    n = len(inside)
    assert ((e[:n] - inside.double().exp()) / inside.double().exp()).abs().max() < 3e-7
    high, low = e[n:n + 4], e[n + 4:n + 7]
    assert torch.all(torch.isfinite(high)) and torch.all(high > 1.6e38) and torch.all(high < 1.7e38)
    assert torch.all(low >= 0) and torch.all(low < 1.7e-38)
    assert torch.isnan(e[n + 7])
    finite = torch.isfinite(x[:len(x) - 3]) & (x[:len(x) - 3].abs() < 80)
    want = (torch.nn.functional.silu(x.double()) * up.double())[:len(x) - 3]
    assert torch.allclose(swiglu[finite], want[finite], rtol=1e-6, atol=1e-30)


@pytest.fixture(scope="module")
def quantized(trained, tmp_path_factory) -> dict[str, Path]:
    """The trained model exported with each --quant, beside its tokenizer.bin; wq/wk/wv in that type too,
    though a model this narrow keeps them in Q8_0 by default, so that run's 4-bit paths all get used."""
    root = tmp_path_factory.mktemp("quantized")
    shutil.copy(trained / "tokenizer.bin", root / "tokenizer.bin")
    for quant in QUANTS:
        export.export(trained / "model.bin", root / f"{quant}.bin", quant=quant, types={"wqkv": quant})
    return {quant: root / f"{quant}.bin" for quant in QUANTS}


def build_harness(source: str, program: Path) -> Path:
    """A test program built from C source that #includes run.c (its main renamed): program.c, then program."""
    program.with_suffix(".c").write_text(source)
    result = subprocess.run([os.environ.get("CC", "cc"), "-O2", "-fopenmp", "-w", "-I", str(ROOT), "-o",
                             str(program), str(program.with_suffix(".c")), "-lm"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return program


@pytest.fixture(scope="module")
def matvec_program(binaries, tmp_path_factory) -> Path:
    return build_harness(MATVEC_C, tmp_path_factory.mktemp("matvec") / "matvec")


def c_matvec(program: Path, model: Path, matrix: str, x: torch.Tensor, kernel: str) -> torch.Tensor | None:
    """run.c's W x for `matrix` of the model file, computed with `kernel`; None when this CPU lacks it."""
    result = subprocess.run([str(program), str(model), matrix], input=x.numpy().astype("<f4").tobytes(),
                            capture_output=True, env=dict(ENV, RUN_KERNEL=kernel))
    if result.returncode and b"this CPU (or build) offers at most" in result.stderr:
        return None
    assert result.returncode == 0, result.stderr
    return torch.tensor([float(v) for v in result.stdout.split()])


def grouped_model(seed: int = 0, **overrides) -> Transformer:
    """Random weights in a shape whose rows have whole and partial groups of 8 blocks: dim 288 = 9 blocks
    (8 + 1), hidden 480 = 15 blocks (8 + 7), wq/wk/wv stacked to 576 rows."""
    torch.manual_seed(seed)
    fields = dict(dim=288, hidden_dim=480, n_layers=2, n_heads=6, n_kv_heads=3, vocab_size=320, max_seq_len=64)
    model = Transformer(ModelArgs(**{**fields, **overrides}))
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.normal_(1.0 if "norm" in name else 0.0, 0.1 if "norm" in name else 0.05)
    return model.eval()


@pytest.mark.parametrize("quant", QUANTS)
@pytest.mark.parametrize("tied", [True, False])
def test_quantized_kernels_match_pytorch_on_every_instruction_set(matvec_program, tmp_path, quant, tied):
    """Every kernel this CPU can run multiplies each kind of matrix exactly as PyTorch does with run.c's
    rounding of the same file (model_bin.as_run_computes: int8 inputs per block, NF4's int8 table), up to
    float32 summation order: so the group layout, the offsets, the masked partial groups and the scales are
    all right, for rows of 8 + 1 and 8 + 7 blocks. Against the file's weights times the unrounded input the
    results differ by what rounding the input costs, which is not zero. And every kernel gives the plain C
    kernel's bits exactly."""
    model = grouped_model(tie_embeddings=tied)
    types = None if tied else {"classifier": "q4_0" if quant == "q8_0" else "q8_0", "embedding": quant}
    if not tied and quant == "nf4":
        types["embedding"] = "q4_0"  # an NF4 embedding is decoded through another table; see as_run_computes
    path = tmp_path / "model.bin"
    model_bin.write(model, path, quant=quant, types=types)
    exact, info = load_model(path)
    rounded = model_bin.as_run_computes(load_model(path)[0], info)
    torch.manual_seed(1)
    matrices = {"wqkv": ("attention.wq", "attention.wk", "attention.wv"), "wo": ("attention.wo",),
                "w13": ("feed_forward.w1", "feed_forward.w3"), "w2": ("feed_forward.w2",)}
    for name, parts in [*matrices.items(), ("classifier", ())]:
        modules = [f"layers.0.{part}" for part in parts] or ["output"]
        x = torch.randn(exact.get_submodule(modules[0]).in_features) * torch.rand(1) * 10
        x[5] = 40.0  # one block with a large value: the others in it round coarsely
        with torch.no_grad():
            want = torch.cat([rounded.get_submodule(m)(x) for m in modules])
            unrounded = torch.cat([exact.get_submodule(m)(x) for m in modules])
        scale = want.abs().max()
        assert (want - unrounded).abs().max() > 1e-3 * scale, name  # the rounding is real
        got = {kernel: c_matvec(matvec_program, path, name, x, kernel) for kernel in KERNELS}
        assert (got["plain"] - want).abs().max() < 2e-6 * scale * x.numel() ** 0.5, name
        for kernel, result in got.items():  # the same float operations in the same order: the same bits
            assert result is None or torch.equal(result, got["plain"]), (name, kernel)


@pytest.fixture(scope="module")
def attend_program(binaries, tmp_path_factory) -> Path:
    return build_harness(ATTEND_C, tmp_path_factory.mktemp("attend") / "attend")


def c_attend(program: Path, kernel: str, q, keys, values):
    """(the fp16 cache run stores for keys and values, as int16 bits; attention's output) or None when this
    CPU lacks the kernel."""
    head_dim, n = q.numel(), keys.shape[0]
    data = struct.pack("<2i", head_dim, n) + b"".join(t.numpy().astype("<f4").tobytes() for t in (q, keys, values))
    result = subprocess.run([str(program)], input=data, capture_output=True, env=dict(ENV, RUN_KERNEL=kernel))
    if result.returncode and b"this CPU (or build) offers at most" in result.stderr:
        return None
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split()
    cache = torch.tensor([int(x) for x in lines[:2 * n * head_dim]], dtype=torch.int32).to(torch.int16)
    return cache, torch.tensor([float(x) for x in lines[2 * n * head_dim:]])


@pytest.mark.parametrize("kernel", KERNELS)
def test_fp16_kv_cache_rounds_as_pytorch_and_attends_as_sdpa(attend_program, kernel):
    """A quantized model's KV cache is fp16: run rounds keys and values exactly as PyTorch's .half() does
    (ties to even, past 65504 to infinity, subnormals, NaN), and its attention over them is PyTorch's on
    the rounded values, for head sizes with and without a tail after the vector lanes (8, 12, 64, 20)."""
    torch.manual_seed(0)
    specials = torch.tensor([1 + 2**-11, 1 + 3 * 2**-11, 65519.0, 65520.0, -70000.0, 1e-6, -3e-8, float("nan")])
    keys = torch.randn(2, 8)
    keys[1] = specials
    got = c_attend(attend_program, kernel, torch.randn(8), keys, torch.randn(2, 8))
    if got is None:
        pytest.skip(f"this CPU has no {kernel}")
    want_bits = torch.cat([keys, torch.zeros(2, 8)]).half().view(torch.int16).flatten()
    assert torch.equal(got[0][8:16], want_bits[8:16])  # 1, 1+2^-9, 65504, inf, -inf, 1e-6 and -3e-8 subnormal, NaN
    for head_dim, n in [(8, 1), (12, 7), (64, 33), (20, 5)]:
        q, keys, values = torch.randn(head_dim), torch.randn(n, head_dim) * 3, torch.randn(n, head_dim)
        cache, out = c_attend(attend_program, kernel, q, keys, values)
        assert torch.equal(cache, torch.cat([keys, values]).half().view(torch.int16).flatten()), (head_dim, n)
        k16, v16 = keys.half().float(), values.half().float()
        want = torch.softmax(q @ k16.T / head_dim**0.5, dim=0) @ v16
        assert torch.allclose(out, want, rtol=1e-5, atol=1e-6), (head_dim, n, (out - want).abs().max())
        assert not torch.allclose(out, torch.softmax(q @ keys.T / head_dim**0.5, dim=0) @ values, rtol=1e-5, atol=1e-6)


def test_kernel_choice_is_checked(binaries, quantized):
    result = subprocess.run([str(binaries["asan"]), str(quantized["q4_0"]), "-i", "hi"],
                            env=dict(ENV, RUN_KERNEL="sse9"), capture_output=True)
    assert_clean_failure(result, "RUN_KERNEL=sse9 is not a kernel; one of plain, avx2, avx512")


@pytest.mark.parametrize("quant", QUANTS)
@pytest.mark.parametrize("mode", ["instruct", "generate"])
def test_quantized_c_and_python_write_the_same_greedy_story(binaries, trained, quantized, one_thread, quant, mode):
    """run and sample.py write the same greedy story from a quantized file of our format, its mode and
    tokenizer recorded. This tiny model's choices are often near ties ("s s s"), closer than what rounding
    the activations to int8 moves, so Python computes as run.c does here (as_run_computes); the trained
    260K model below is compared against the plain dequantized weights."""
    model, info = load_model(quantized[quant])
    assert info["quant"]["wqkv"] == quant and info["tokenizer"] == Tokenizer(trained / "tokenizer.model").identity
    model_bin.as_run_computes(model, info)
    tokenizer = Tokenizer(trained / "tokenizer.model")
    prompt = INSTRUCTION if mode == "instruct" else STORY_START
    python = "".join(generate_text(model, tokenizer, prompt, mode, temperature=0.0, steps=0)) + "\n"
    c = run_c(binaries["run"], quantized[quant], "-m", mode, "-i", prompt, "-n", 0, "-t", 0).stdout
    assert c.decode() == python and len(python) > 200


def common_prefix(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


@pytest.mark.parametrize("quant", QUANTS)
def test_stories260K_quantized_c_and_python_agree(binaries, tmp_path, one_thread, quant):
    """llama2.c's model exported quantized (w2's rows are 172 long, so it stays float32): C and Python
    computing as run.c does write the same greedy story for a long stretch. Not necessarily all 200 steps:
    rounding to int8 is a step function, so a 1e-7 difference between C's and PyTorch's float32 sums (in
    the norms, attention, anywhere) can move one input across a rounding boundary, and this small model's
    choices are sometimes that close. docs/run.md reports how far each type agrees."""
    export.export(fixture("stories260K.bin"), tmp_path / "q.bin", quant=quant, tokenizer_path=fixture("tok512.model"))
    model, info = load_model(tmp_path / "q.bin")
    assert info["quant"]["w2"] == "f32" and info["quant"]["wo"] == quant
    model_bin.as_run_computes(model, info)
    python = "".join(generate_text(model, Tokenizer(fixture("tok512.model")), "", "generate", temperature=0.0,
                                   steps=200)) + "\n"
    c = run_c(binaries["run"], tmp_path / "q.bin", "-z", fixture("tok512.bin"), "-t", 0, "-n", 200).stdout.decode()
    assert common_prefix(c, python) >= 200 and len(c) > 400  # about 50 tokens


def test_train_writes_a_quantized_model_too(binaries, trained):
    model, info = load_model(trained / "model-q8_0.bin")
    assert info["quant"] == dict.fromkeys(model_bin.KINDS, "q8_0") and info["instruct"] is True
    assert len(run_c(binaries["run"], trained / "model-q8_0.bin", "-i", INSTRUCTION, "-t", 0).stdout) > 100


def test_train_refuses_an_unknown_export_quant_before_training(tmp_path):
    """A type no model.bin holds is a usage error (one line, exit 2) at startup, not after hours of training."""
    result = subprocess.run([sys.executable, "train.py", *TRAIN[:-1], "q5_1", "--out-dir", str(tmp_path / "out"),
                             "--data-dir", str(tmp_path / "data")], cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert result.returncode == 2 and "--export-quant must be one of q8_0, q4_0, nf4" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


def test_nf4_export_carries_a_qlora_base_unchanged(tmp_path):
    """--quant nf4 stores exactly the codes and absmax QLoRA's Linear4bit holds for the same base weights, so
    the weights run.c reads are the ones the adapters were trained against, not a second rounding of them."""
    model = grouped_model()
    model_bin.write(model, tmp_path / "nf4.bin", quant="nf4")
    loaded, _ = load_model(tmp_path / "nf4.bin")
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and name.rsplit(".", 1)[-1] in ("wq", "wk", "wv", "wo", "w1", "w2", "w3"):
            want = Linear4bit(module).dequantized_weight()
            assert torch.equal(loaded.get_submodule(name).weight, want), name


def test_quantized_writer_refuses_what_no_block_can_hold(trained, tmp_path):
    model = grouped_model()
    with torch.no_grad():
        model.layers[1].feed_forward.w2.weight[3, 5] = float("nan")
    with pytest.raises(ValueError, match="layers.1.feed_forward.w2.weight: cannot quantize a tensor holding NaN"):
        model_bin.write(model, tmp_path / "nan.bin", quant="q4_0")
    assert not (tmp_path / "nan.bin").exists()
    result = subprocess.run([sys.executable, "export.py", str(trained / "model.bin"), str(tmp_path / "x.bin"),
                             "--version", "0", "--quant", "q8_0"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2 and "--quant are recorded only by our format" in result.stderr
    result = subprocess.run([sys.executable, "export.py", str(trained / "model.bin"), str(tmp_path / "x.bin"),
                             "--quant", "q4_0", "--quant-types", "wqkv=q8_0,w4=q4_0"], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 2 and "'w4=q4_0' is not KIND=TYPE" in result.stderr and not (tmp_path / "x.bin").exists()
    # --quant's types depend on the output: NF4 has no GGUF type, f16 no model.bin one
    for out, flags, message, status in [
            ("x.gguf", ["--quant", "nf4"], "a .gguf output takes --quant f32, f16, q8_0, q4_0", 2),
            ("x.bin", ["--quant", "f16"], "a model.bin takes --quant q8_0, q4_0, nf4", 2),
            ("x.gguf", ["--quant", "f16", "--quant-types", "wqkv=q4_0"], "--quant-types needs --quant q8_0 or q4_0", 2),
            ("x.gguf", ["--quant", "q4_0", "--quant-types", "wqkv=nf4"], "error: wqkv=nf4: KIND one of", 1),
            ("x.bin", ["--quant", "q4_0", "--quant-types", "wqkv=f16"], "error: unknown storage type 'f16'", 1)]:
        result = subprocess.run([sys.executable, "export.py", str(trained / "model.bin"), str(tmp_path / out), *flags],
                                cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == status and message in result.stderr, result.stderr
        assert (status == 2 or len(result.stderr.strip().splitlines()) == 1) and not (tmp_path / out).exists()


def first_tensor_offset(args: ModelArgs, types: dict, kind: str) -> tuple[int, int]:
    """(byte offset, element count) of the first tensor of `kind` in a version 2 file."""
    offset = HEADER_BYTES
    for name, shape in model_bin.layout_ours(args):
        qtype = types[model_bin.kind_of(name)] if len(shape) == 2 else "f32"
        if len(shape) == 2 and model_bin.kind_of(name) == kind:
            return offset, shape[0] * shape[1]
        offset += 4 * shape[0] * (shape[1] if len(shape) == 2 else 1) if qtype == "f32" else quants.nbytes(shape, qtype)
    raise AssertionError(kind)


def corrupt_quantized_files(trained: Path, tmp_path: Path) -> list[tuple[Path, str, bool]]:
    """(file, the message run gives, whether Python refuses it too) for every way a version 2 file can be
    malformed: its header fields, its size, and the scales inside its blocks."""
    model, _ = load_model(trained / "model.bin")
    files = {}
    # wq/wk/wv in the file's own type, though this model is narrow enough to keep them in Q8_0 by default
    overrides = {quant: {"wqkv": quant} for quant in QUANTS}
    for quant in QUANTS:
        files[quant] = tmp_path / f"{quant}.bin"
        model_bin.write(model, files[quant], quant=quant, types=overrides[quant])
    odd = tmp_path / "odd.bin"  # hidden_dim 48: w2's rows are not whole blocks, so w2 stays f32
    model_bin.write(grouped_model(dim=32, hidden_dim=48, n_heads=4, n_kv_heads=2), odd, quant="q8_0")
    args = model.args
    cases = []

    def case(source, offset, fmt, value, message, python=True):
        name = tmp_path / f"bad{len(cases)}.bin"
        cases.append((patched(source, name, offset, fmt, value), message, python))

    case(files["q8_0"], 88, "<B", 4, "gives embedding the storage type 4")
    case(files["q4_0"], 91, "<B", 200, "gives w1/w3 the storage type 200")
    case(odd, 92, "<B", 1, "stores w2 as q8_0, but its rows are 48 long")
    case(files["q8_0"], 93, "<B", 2, "shares the embedding but the header gives them the types q4_0 and q8_0")
    case(files["nf4"], 96, "<I", 0, "NF4 block size is 0")
    case(files["nf4"], 96, "<I", 48, "NF4 block size is 48")
    case(files["nf4"], 96, "<I", 1 << 21, "NF4 block size is 2097152")
    case(files["nf4"], 96, "<I", 2**32 - 64, "NF4 block size is 4294967232")
    case(files["nf4"], 96, "<I", 128, "the header implies")  # a valid size, but not this file's
    case(files["q4_0"], 96, "<I", 64, "NF4 block size of 64 but no matrix is NF4")
    case(files["q8_0"], 94, "<B", 1, "reserved header byte 94")
    case(files["q4_0"], 255, "<B", 9, "reserved header byte 255")
    case(files["q4_0"], 89, "<B", 1, "the header implies")  # wq/wk/wv as q8_0: another size
    case(files["q8_0"], 89, "<B", 0, "the header implies")  # float32, likewise
    types = {quant: model_bin.quant_types(args, quant, **overrides[quant]) for quant in QUANTS}
    emb, _ = first_tensor_offset(args, types["q8_0"], "embedding")
    case(files["q8_0"], emb, "<H", 0x7C00, "tok_embeddings (q8_0) row 0 block 0 has an infinite scale")
    case(files["q8_0"], emb + 34 * 7, "<H", 0xFE01, "row 7 block 0 has a NaN scale")
    wq, _ = first_tensor_offset(args, types["q4_0"], "wqkv")
    case(files["q4_0"], wq + 18, "<H", 0x7E00, "layer 0's wq (q4_0) row 1 block 0 has a NaN scale")
    wq, n = first_tensor_offset(args, types["nf4"], "wqkv")
    absmax = wq + (n + 1) // 2
    case(files["nf4"], absmax, "<f", float("nan"), "layer 0's wq (nf4) has absmax nan in block 0")
    case(files["nf4"], absmax + 4, "<f", float("-inf"), "has absmax -inf in block 1")
    case(files["nf4"], absmax, "<f", -0.5, "has absmax -0.5 in block 0")
    case(files["nf4"], absmax, "<f", 1e6, "has absmax 1e+06 in block 0", python=False)  # beyond fp16
    return cases


def test_malformed_quantized_files(binaries, trained, tmp_path):
    """Each gets one error line from run, under ASan and UBSan, and a CheckpointError from Python."""
    for path, message, python in corrupt_quantized_files(trained, tmp_path):
        result = run_c(binaries["asan"], path, "-z", trained / "tokenizer.bin", "-i", "hi", check=False)
        assert_clean_failure(result, message)
        if python:
            with pytest.raises(CheckpointError):
                load_model(path)


@pytest.mark.parametrize("quant", QUANTS)
def test_truncated_quantized_files(binaries, trained, quantized, tmp_path, quant):
    data = quantized[quant].read_bytes()
    for cut in (8, 100, 255, 256, 257, 300, len(data) // 2, len(data) - 4, len(data) - 1):
        (tmp_path / "cut.bin").write_bytes(data[:cut])
        result = run_c(binaries["asan"], tmp_path / "cut.bin", "-z", trained / "tokenizer.bin", "-i", "hi", check=False)
        assert_clean_failure(result, "cut.bin")
        with pytest.raises(CheckpointError):
            load_model(tmp_path / "cut.bin")
    (tmp_path / "long.bin").write_bytes(data + bytes(18))  # a block too many
    assert_clean_failure(run_c(binaries["asan"], tmp_path / "long.bin", "-i", "hi", check=False), "the header implies")


@pytest.mark.parametrize("kernel", KERNELS)
def test_asan_runs_quantized_stories_on_every_kernel(binaries, trained, quantized, kernel):
    for quant in QUANTS:
        result = subprocess.run([str(binaries["asan"]), str(quantized[quant]), "-i", INSTRUCTION, "-t", "0.8",
                                 "-s", "5", "-n", "0"], env=dict(ENV, RUN_KERNEL=kernel), capture_output=True)
        if b"this CPU (or build) offers at most" in result.stderr:
            pytest.skip(f"this CPU has no {kernel}")
        assert result.returncode == 0 and b"Sanitizer" not in result.stderr and len(result.stdout) > 100, result.stderr
