"""
The tokenizer: a SentencePiece BPE model, trained the way llama2.c trains its small custom vocabularies,
plus an exporter to llama2.c's tokenizer.bin so the C inference code can decode what our models say.

    python tokenizer.py train --vocab-size 4096 --input TinyStoriesV2-GPT4-train.txt --out tok4096.model
    python tokenizer.py export tok4096.model tok4096.bin
    python tokenizer.py encode tok4096.model "Once upon a time"

The .model file is the source of truth. Its sha256 (`Tokenizer.identity`) is written into data shards,
checkpoints, our model.bin and tokenizer.bin, and every entry point checks it where a model meets a
tokenizer (open_tokenizer here; run.c against its header). Files that record no identity (llama2.c's) can
only be checked by vocabulary size, so with those a wrong tokenizer of the right size goes unnoticed.
"""

import argparse
import hashlib
import io
import os
import random
import re
import struct
import sys
import time
from pathlib import Path
from typing import Iterable, Sequence

import sentencepiece as spm

from data.records import END_OF_TEXT, iter_text_stories
from errors import USER_ERRORS, TokenizerError, exit_with
from formats.atomic import write_bytes

# SentencePiece's default special ids, which llama2.c keeps: <unk> 0, <s> 1, </s> 2, no padding piece.
UNK_ID, BOS_ID, EOS_ID = 0, 1, 2
# byte_fallback adds one piece per byte value, <0x00>..<0xFF>, right after the specials. Any vocabulary
# needs room for these 259 pieces before BPE can learn a single merge.
N_REQUIRED_PIECES = 3 + 256

# SentencePiece drops (with only a log line) every training sentence longer than max_sentence_length
# bytes; its default of 4192 would lose the occasional long story, since we train on whole stories.
MAX_TEXT_BYTES = 1 << 16

# Training samples its input down to max_sentences texts with this seed, so the same texts always give
# the same .model bytes and therefore the same identity. (SentencePiece's own input_sentence_size
# sampling draws a fresh seed in every process, whatever set_random_generator_seed says.)
SAMPLING_SEED = 1337


def _sentencepiece_reason(err: Exception) -> str:
    # SentencePiece errors read "INTERNAL: src/trainer_interface.cc(744) [failed check] Human text.",
    # where the human text may be missing. Keep only the human text.
    message = re.sub(r"^[A-Z_]+: ", "", str(err).strip())
    return re.sub(r"^src/\S+\(\d+\) \[[^\]]*\]\s*", "", message)


class Tokenizer:
    """A trained SentencePiece model: text <-> token ids, and export to llama2.c's tokenizer.bin."""

    def __init__(self, model_path: str | Path):
        self.model_path = Path(model_path)
        try:
            model_bytes = self.model_path.read_bytes()
        except FileNotFoundError:
            raise TokenizerError(f"tokenizer model not found: {self.model_path}") from None
        except OSError as e:
            raise TokenizerError(f"cannot read tokenizer model {self.model_path}: {e.strerror}") from None
        if not model_bytes:
            raise TokenizerError(f"{self.model_path} is empty, expected a SentencePiece .model file")

        # Load from the bytes we hash, so identity always describes exactly the model in use.
        self.sp = spm.SentencePieceProcessor()
        try:
            self.sp.LoadFromSerializedProto(model_bytes)
        except RuntimeError as e:
            raise TokenizerError(f"{self.model_path} is not a valid SentencePiece .model file "
                                 f"({_sentencepiece_reason(e) or 'could not parse it'})") from None
        if self.sp.vocab_size() == 0:
            raise TokenizerError(f"{self.model_path} is not a valid SentencePiece .model file (no pieces)")
        if self.sp.bos_id() < 0 or self.sp.eos_id() < 0:
            raise TokenizerError(f"{self.model_path} has no BOS/EOS pieces; our models need both")

        self.vocab_size = self.sp.vocab_size()
        self.bos_id = self.sp.bos_id()
        self.eos_id = self.sp.eos_id()
        self.identity = hashlib.sha256(model_bytes).hexdigest()
        # bos/eos, and <unk> and <pad> where a model has them: pieces that mark text rather than spell it
        self._special_ids = {i for i in range(self.vocab_size) if self.sp.is_control(i) or self.sp.is_unknown(i)}

    def encode(self, text: str, bos: bool = False, eos: bool = False) -> list[int]:
        return self.sp.encode(text, add_bos=bos, add_eos=eos)

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        # sentencepiece encodes a list on all cores in C++, far faster than a Python loop over encode
        return self.sp.encode(list(texts))

    def decode(self, ids: Sequence[int]) -> str:
        # int() so that numpy arrays and torch tensors work too. The specials are dropped rather than
        # rendered: a model's output often contains BOS/EOS, and <unk> would print as " ⁇ ".
        ids = [int(i) for i in ids]
        return self.sp.decode([i for i in ids if i not in self._special_ids])

    def export(self, path: str | Path, record_identity: bool = True):
        """Write llama2.c's tokenizer.bin, which run.c reads to turn ids back into text.

        Layout (little-endian): int32 max_token_length, then for each id in order: float32 score,
        int32 byte length, the piece's UTF-8 bytes without a terminator. Pieces are written as they
        print: '▁' (SentencePiece's visible space) becomes ' ', and BOS/EOS become "\\n<s>\\n" and
        "\\n</s>\\n". Byte-fallback pieces stay as the text "<0x0A>"; run.c parses that form itself.

        With record_identity (the default), a 36-byte trailer follows the last piece: the 4 bytes "tsid",
        then the raw 32-byte sha256 of the .model (`identity`), so run.c can refuse a tokenizer.bin that is
        not the one our model.bin's header names. llama2.c's own run reads exactly vocab_size pieces and
        ignores what follows, so the file still works there; record_identity=False writes llama2.c's
        bytes exactly.
        """
        pieces, scores = [], []
        for i in range(self.vocab_size):
            if i == self.bos_id:
                piece = "\n<s>\n"
            elif i == self.eos_id:
                piece = "\n</s>\n"
            else:
                piece = self.sp.id_to_piece(i).replace("\u2581", " ")
            pieces.append(piece.encode("utf-8"))
            scores.append(self.sp.get_score(i))

        out = io.BytesIO()
        out.write(struct.pack("<i", max(len(p) for p in pieces)))  # run.c sizes its decode buffer by this
        for piece, score in zip(pieces, scores):
            out.write(struct.pack("<fi", score, len(piece)))
            out.write(piece)
        if record_identity:
            # The trailer's first 4 bytes sit where a piece's float32 score would: as a float "tsid" is
            # +1.7e22, and a SentencePiece score (a log probability, or minus a merge's rank) is never
            # positive, so a reader cannot mistake the trailer for a piece.
            out.write(b"tsid" + bytes.fromhex(self.identity))
        write_bytes(path, out.getvalue())


def open_tokenizer(model_path, given=None, identity: str | None = None, vocab_size: int | None = None) -> Tokenizer:
    """The tokenizer that goes with a model file: `given` (a .model, or llama2.c's tokenizer.bin with its
    .model twin beside it), else tokenizer.model beside the model. TokenizerError when it is missing or
    is not the one the model was trained with: a different identity than the model records (identity),
    or, when the model records none, a different vocabulary size."""
    if given:
        path = Path(given)
        if path.suffix == ".bin":  # llama2.c's tokenizer.bin: its .model twin holds the merge rules we need
            twin = path.with_suffix(".model")
            if not twin.exists():
                raise TokenizerError(f"{given}: Python reads SentencePiece .model files; no {twin.name} beside it")
            path = twin
    else:
        path = Path(model_path).parent / "tokenizer.model"
        if not path.exists():
            raise TokenizerError(f"no tokenizer.model beside {model_path}; name the one it was trained with "
                                 f"(-z for sample.py and eval.py, --tokenizer for train.py and export.py)")
    tokenizer = Tokenizer(path)
    if identity and tokenizer.identity != identity:
        raise TokenizerError(f"{path} is not the tokenizer {model_path} was trained with (sha256 "
                             f"{tokenizer.identity[:12]}, the model records {identity[:12]}); pass the right one")
    if vocab_size is not None and tokenizer.vocab_size != vocab_size:
        raise TokenizerError(f"{path} has {tokenizer.vocab_size} pieces but {model_path} expects {vocab_size}: "
                             f"pass the tokenizer it was trained with")
    return tokenizer


def sample_texts(texts: Iterable[str], k: int, seed: int = SAMPLING_SEED) -> list[str]:
    """Pick k texts uniformly at random in one pass, holding only k in memory (all of them if fewer).

    Reservoir sampling (Vitter's Algorithm R): the i-th text replaces a random slot with probability k/i.
    """
    rng = random.Random(seed)
    sample = []
    for seen, text in enumerate(texts, start=1):
        if len(sample) < k:
            sample.append(text)
        elif (slot := rng.randrange(seen)) < k:
            sample[slot] = text
    return sample


def train_tokenizer(texts: Iterable[str], vocab_size: int, model_path: str | Path,
                    max_sentences: int = 100_000) -> Tokenizer:
    """Train a BPE vocabulary of vocab_size pieces on texts and save it to model_path.

    Each text should be one whole story, newlines and all, because that is how stories get encoded
    later: SentencePiece then learns pieces such as "\n" and ".\n". (llama2.c's training file has a
    line per paragraph, so tok512 never saw a newline and spells each one as the byte piece <0x0A>.)
    When there are more than max_sentences texts, training uses a seeded random sample of that many,
    which keeps it to seconds; all of TinyStories is two million stories.
    """
    model_path = Path(model_path)
    if vocab_size <= N_REQUIRED_PIECES:
        raise TokenizerError(f"vocab size {vocab_size} is too small: it must exceed {N_REQUIRED_PIECES} "
                             f"(3 special pieces + 256 byte pieces), e.g. 512")
    if max_sentences < 1:
        raise TokenizerError(f"max_sentences must be at least 1, got {max_sentences}")

    # SentencePiece would skip overlong texts with only a log line; we count them to say so
    too_long = 0

    def short_enough(text: str) -> bool:
        nonlocal too_long
        ok = len(text.encode("utf-8")) <= MAX_TEXT_BYTES
        too_long += not ok
        return ok

    sample = sample_texts(filter(short_enough, texts), max_sentences)
    if too_long:
        print(f"warning: skipped {too_long} texts longer than {MAX_TEXT_BYTES} bytes", file=sys.stderr)
    if not sample:
        why = f"all {too_long} texts are longer than {MAX_TEXT_BYTES} bytes" if too_long else "no texts given"
        raise TokenizerError(f"nothing to train the tokenizer {model_path} on: {why}")

    model = io.BytesIO()  # SentencePiece hands back the model's bytes here instead of writing files
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sample),
            model_writer=model,
            vocab_size=vocab_size,
            # llama2.c's settings for its custom TinyStories vocabularies:
            model_type="bpe",
            character_coverage=1.0,  # every character seen in training becomes a piece
            byte_fallback=True,  # anything never seen is spelled in bytes, so nothing becomes <unk>
            split_digits=True,  # numbers tokenize digit by digit, never as memorized chunks
            allow_whitespace_only_pieces=True,  # runs of spaces can be single pieces
            normalization_rule_name="identity",  # no NFKC: decode(encode(s)) gives back s
            # " ⁇ ", the octal escapes of llama2.c's r" \342\201\207 " written out: Python passes
            # that raw string through unescaped, so tok512's <unk> decodes as 14 literal characters
            unk_surface=" \u2047 ",
            num_threads=os.cpu_count(),
            unk_id=UNK_ID, bos_id=BOS_ID, eos_id=EOS_ID, pad_id=-1,
            # (llama2.c also sets self_test_sample_size=0, which SentencePiece 0.2 ignores with a warning)
            # Our additions. llama2.c keeps SentencePiece's default of collapsing runs of spaces and
            # trimming ends, so that decode(encode("a  b")) == "a b"; we want exact round trips.
            remove_extra_whitespaces=False,
            max_sentence_length=MAX_TEXT_BYTES,
            minloglevel=2,  # its training log is hundreds of lines; failures still raise
        )
    except RuntimeError as e:
        reason = _sentencepiece_reason(e) or "SentencePiece training failed"
        raise TokenizerError(f"cannot train a {vocab_size}-piece tokenizer for {model_path}: {reason}") from None

    write_bytes(model_path, model.getvalue())
    return Tokenizer(model_path)


# -----------------------------------------------------------------------------
# command line

def main(argv: Sequence[str] | None = None):
    parser = argparse.ArgumentParser(description="Train, export and try SentencePiece tokenizers.")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a BPE tokenizer on a text file of stories")
    train.add_argument("--vocab-size", type=int, required=True, help="pieces in the vocabulary, e.g. 4096")
    train.add_argument("--input", required=True,
                       help=f"UTF-8 text file of stories separated by {END_OF_TEXT} "
                            "(the layout of TinyStoriesV2-GPT4-train.txt); newlines inside a story are kept")
    train.add_argument("--out", required=True, help="where to write the .model file")
    train.add_argument("--max-sentences", type=int, default=100_000,
                       help="train on a random sample of at most this many stories (default 100000)")

    export = commands.add_parser("export", help="write llama2.c's tokenizer.bin for a .model")
    export.add_argument("model", help="SentencePiece .model file")
    export.add_argument("out", help="tokenizer.bin to write")

    encode = commands.add_parser("encode", help="print the token ids of a text")
    encode.add_argument("model", help="SentencePiece .model file")
    encode.add_argument("text")
    encode.add_argument("--bos", action="store_true", help="start with the BOS id")
    encode.add_argument("--eos", action="store_true", help="end with the EOS id")

    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            if not Path(args.input).is_file():
                raise TokenizerError(f"input text file not found: {args.input}")
            t0 = time.perf_counter()
            tok = train_tokenizer(iter_text_stories(args.input), args.vocab_size, args.out, args.max_sentences)
            print(f"trained {tok.vocab_size} pieces in {time.perf_counter() - t0:.1f} s -> {tok.model_path} "
                  f"(identity {tok.identity[:12]})")
        elif args.command == "export":
            Tokenizer(args.model).export(args.out)
            print(f"wrote {args.out}")
        elif args.command == "encode":
            print(" ".join(map(str, Tokenizer(args.model).encode(args.text, bos=args.bos, eos=args.eos))))
    except USER_ERRORS as e:
        exit_with(e)
    except UnicodeDecodeError as e:
        exit_with(TokenizerError(f"{args.input} is not UTF-8 text ({e.reason})"))


if __name__ == "__main__":
    main()
