"""Token shards: encode story records once, then draw training windows from memory-mapped files.

Layout of the token stream. Each record becomes one example, and examples are packed back to back
with no padding:
    instruction example   prompt BOS story EOS
    completion example           BOS story EOS
So a prompt always sits between the previous example's EOS (or the start of the shard) and its own
BOS, and "prompt token" needs no side table: it is any token after an EOS and before the next BOS.
At sampling time the model is given `EOS prompt BOS`, exactly how a prompt sits after the previous
example, and writes the story up to EOS.

Shard file (`train_000.bin`, `val_000.bin`, ...): a 256-byte little-endian header, then n_tokens
uint16 token ids.
    offset  type       field
    0       uint32     magic 0x444C5453 (the bytes b"STLD")
    4       uint32     version = 1
    8       uint64     n_tokens
    16      uint32     vocab_size (at most 65536, so that ids fit uint16)
    20      uint32     bos_id
    24      uint32     eos_id
    28      uint32     n_examples
    32      32 bytes   tokenizer identity: the raw sha256 of the SentencePiece .model file
    64..255            zeros
A directory of shards is finished when its meta.json exists; encode_dataset writes it last.

Training windows (Batches.get) are a pure function of (seed, step, micro): nothing to save when a run
is checkpointed, and a resumed run sees exactly the data it would have seen.
"""

import json
import os
import struct
import sys
from collections import deque
from dataclasses import dataclass
from itertools import chain
from multiprocessing import Pool
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from data.records import DataError, RecordFile
from formats.atomic import atomic_write, write_text

if TYPE_CHECKING:  # imported where Batches makes tensors: see Batches.get
    import torch

MAGIC = 0x444C5453  # b"STLD" read as a little-endian uint32
VERSION = 1
HEADER_BYTES = 256
HEADER = struct.Struct("<IIQIIII32s")  # the fields above, 64 bytes; the rest of the header is zeros
MAX_VOCAB = 2**16  # token ids are stored as uint16
SHARD_TOKENS = 2**26  # ~64M tokens (128 MiB) per shard file
CHUNK_RECORDS = 256  # records per unit of work sent to an encoding process
CHUNKS_IN_FLIGHT = 4  # per process: enough queued work to keep each busy, little enough to bound memory


@dataclass
class ShardHeader:
    n_tokens: int
    vocab_size: int
    bos_id: int
    eos_id: int
    n_examples: int
    tokenizer: str  # hex sha256 of the tokenizer .model


def _check_vocab(vocab_size: int):
    if vocab_size > MAX_VOCAB:
        raise DataError(f"a vocab of {vocab_size} pieces does not fit uint16 shards (at most {MAX_VOCAB}); "
                        "use a smaller vocab")


# ----------------------------------------------------------------------------------------------
# encoding records


def encode_records(records, tokenizer, instruct: bool) -> np.ndarray:
    """Pack records into one uint16 token stream (layout in the module docstring).

    instruct=False drops every prompt (all examples completion-only); instruct=True uses the
    instruction layout for each record that has a non-empty prompt.
    """
    _check_vocab(tokenizer.vocab_size)
    records = list(records)
    prompted = [i for i, r in enumerate(records) if _prompted(r, instruct)]
    stories = tokenizer.encode_batch([r["story"] for r in records])
    prompts = dict(zip(prompted, tokenizer.encode_batch([records[i]["prompt"] for i in prompted])))
    bos, eos = [tokenizer.bos_id], [tokenizer.eos_id]
    pieces = []
    for i, story in enumerate(stories):
        pieces += [prompts.get(i, []), bos, story, eos]
    return np.fromiter(chain.from_iterable(pieces), dtype=np.uint16, count=sum(map(len, pieces)))


def _prompted(record: dict, instruct: bool) -> bool:
    """Whether a record is encoded as an instruction example (prompt BOS story EOS)."""
    return instruct and bool((record.get("prompt") or "").strip())


def write_shard(path, tokens, tokenizer, n_examples: int):
    """Write a shard, atomically. tokens: one array, or a list of arrays written one after another (so a
    shard gathered from many chunks is never copied into one array first)."""
    _check_vocab(tokenizer.vocab_size)
    path = Path(path)
    pieces = tokens if isinstance(tokens, list) else [tokens]
    header = HEADER.pack(MAGIC, VERSION, sum(map(len, pieces)), tokenizer.vocab_size, tokenizer.bos_id,
                         tokenizer.eos_id, n_examples, bytes.fromhex(tokenizer.identity))
    with atomic_write(path) as f:
        f.write(header.ljust(HEADER_BYTES, b"\0"))
        for piece in pieces:
            f.write(np.ascontiguousarray(piece, dtype="<u2").tobytes())


def read_header(path) -> ShardHeader:
    """Read and check a shard's header: magic, version, and that the file holds all n_tokens."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such shard")
    size = path.stat().st_size
    with open(path, "rb") as f:
        raw = f.read(HEADER.size)
    if len(raw) < HEADER.size:
        raise DataError(f"{path}: {size} bytes is too short to be a token shard; re-encode the data")
    magic, version, n_tokens, vocab_size, bos_id, eos_id, n_examples, identity = HEADER.unpack(raw)
    if magic != MAGIC:
        raise DataError(f"{path}: not a token shard (magic {magic:#010x}, expected {MAGIC:#010x})")
    if version != VERSION:
        raise DataError(f"{path}: shard format version {version}, this code reads version {VERSION}; "
                        "re-encode the data")
    expected = HEADER_BYTES + 2 * n_tokens
    if size != expected:
        what = "truncated" if size < expected else "longer than its header says"
        raise DataError(f"{path}: shard is {what}: the header promises {n_tokens:,} tokens ({expected:,} bytes) "
                        f"but the file has {size:,} bytes; re-encode the data")
    return ShardHeader(n_tokens, vocab_size, bos_id, eos_id, n_examples, identity.hex())


def open_shard(path, tokenizer=None) -> np.ndarray:
    """Memory-map a shard's tokens (read-only) after checking its header; when a tokenizer is given,
    the shard must have been encoded with it."""
    header = read_header(path)
    if tokenizer is not None and header.tokenizer != tokenizer.identity:
        raise DataError(f"shard {path} was made with a different tokenizer (sha256 {header.tokenizer[:12]}…), "
                        f"this run uses {tokenizer.identity[:12]}… ({tokenizer.model_path}); "
                        "re-encode the data or pass the matching tokenizer")
    if header.n_tokens == 0:
        return np.zeros(0, dtype=np.uint16)  # mmap cannot map an empty range
    return np.memmap(path, dtype="<u2", mode="r", offset=HEADER_BYTES, shape=(header.n_tokens,))


# Encoding runs in a pool of processes. Each loads the tokenizer once (in the initializer) and then encodes
# chunks of CHUNK_RECORDS records. A chunk of a RecordFile travels as byte offsets into the file and the
# process reads those records itself, so the records never pass through (or pile up in) this process. Results
# are taken in the order the chunks were handed out, with at most CHUNKS_IN_FLIGHT chunks per process handed
# out ahead, so the shards are byte-identical whatever the number of processes and memory does not grow
# with the size of the data.
_worker = {}


def _init_worker(tokenizer_class, model_path, instruct):
    _worker["tokenizer"] = tokenizer_class(model_path)
    _worker["instruct"] = instruct


def _encode_piece(chunk, tokenizer, instruct: bool) -> tuple[np.ndarray, int, int]:
    """(tokens, records, prompted records) of a chunk: a list of records or a RecordFile subset."""
    records = list(chunk)
    return encode_records(records, tokenizer, instruct), len(records), sum(_prompted(r, instruct) for r in records)


def _encode_chunk(chunk):
    return _encode_piece(chunk, _worker["tokenizer"], _worker["instruct"])


def _in_order(pool, chunks, workers: int):
    """pool.imap(_encode_chunk, chunks) that hands out at most CHUNKS_IN_FLIGHT * workers chunks ahead of
    the one being waited for (imap would queue them all and keep every result that arrives early)."""
    waiting = deque()
    for chunk in chunks:
        waiting.append(pool.apply_async(_encode_chunk, (chunk,)))
        if len(waiting) >= CHUNKS_IN_FLIGHT * workers:
            yield waiting.popleft().get()
    while waiting:
        yield waiting.popleft().get()


def _write_split(encoded, split, tokenizer, out_dir, shard_tokens, progress) -> dict:
    """Gather encoded chunks into shards of about shard_tokens tokens; return the split's part of meta.json.
    Shards are cut only between chunks, so each shard starts at the start of an example."""
    names, pending, n_pending, n_examples = [], [], 0, 0
    totals = dict(tokens=0, examples=0, prompted=0)

    def flush():
        nonlocal pending, n_pending, n_examples
        name = f"{split}_{len(names):03d}.bin"
        write_shard(out_dir / name, pending, tokenizer, n_examples)
        names.append(name)
        pending, n_pending, n_examples = [], 0, 0

    for tokens, n, n_prompted in encoded:
        pending.append(tokens)
        n_pending += len(tokens)
        n_examples += n
        totals["tokens"] += len(tokens)
        totals["examples"] += n
        totals["prompted"] += n_prompted
        progress.update(n)
        progress.set_postfix(tokens=f"{totals['tokens']:,}")
        if n_pending >= shard_tokens:
            flush()
    if pending:
        flush()
    return {f"n_{split}_tokens": totals["tokens"], f"n_{split}_examples": totals["examples"],
            f"n_{split}_prompted": totals["prompted"], f"{split}_shards": names}


def split_order(n: int, seed: int, val_fraction: float) -> dict[str, np.ndarray]:
    """{"train": record numbers, "val": record numbers} in the order they are encoded (see encode_dataset)."""
    order = np.random.default_rng(seed).permutation(n)  # (n,) record numbers, 8 bytes each
    n_val = 0 if val_fraction <= 0 or n < 2 else min(max(round(val_fraction * n), 1), n - 1)
    return {"train": order[n_val:], "val": order[:n_val]}


def encode_dataset(records, tokenizer, out_dir, instruct: bool, val_fraction: float = 0.05, seed: int = 0,
                   workers: int | None = None, shard_tokens: int = SHARD_TOKENS,
                   splits: tuple[str, ...] = ("train", "val")) -> dict:
    """Shuffle records (deterministically by seed), split them into train and validation, encode both
    into out_dir/train_NNN.bin and out_dir/val_NNN.bin, and write out_dir/meta.json last.

    records: a list of record dicts, or a RecordFile (data/records.py), which is read a chunk at a time
    by the encoding processes: then memory stays bounded whatever the file's size, and the shards are
    byte-identical to those of the same records given as a list.
    The shuffle is numpy's permutation of the record numbers, np.random.default_rng(seed).permutation(n);
    the validation split is its first round(val_fraction * n) records, at least 1 when there are 2 or
    more records and val_fraction > 0, and never all of them; each split is encoded in permuted order.
    Any earlier shards and meta.json in out_dir are removed first, so a half-finished directory is never
    mistaken for a finished one.
    workers: encoding processes (default: all cores); 1 encodes in this process. splits: which of
    "train" and "val" to encode (eval.py needs only "val"; the split itself does not change).
    Returns the meta dict.
    """
    if not isinstance(records, RecordFile):
        records = list(records)
    if not len(records):
        raise DataError("no records to encode")
    _check_vocab(tokenizer.vocab_size)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in [out_dir / "meta.json", *out_dir.glob("train_*.bin"), *out_dir.glob("val_*.bin")]:
        stale.unlink(missing_ok=True)

    n = len(records)
    parts = split_order(n, seed, val_fraction)

    def chunks(numbers):
        for i in range(0, len(numbers), CHUNK_RECORDS):
            picked = numbers[i:i + CHUNK_RECORDS]
            yield records.subset(picked) if isinstance(records, RecordFile) else [records[j] for j in picked]

    workers = workers or os.cpu_count() or 1
    meta = {"tokenizer": tokenizer.identity, "vocab_size": tokenizer.vocab_size, "bos_id": tokenizer.bos_id,
            "eos_id": tokenizer.eos_id, "instruct": instruct, "seed": seed, "val_fraction": val_fraction,
            "n_records": n}
    pool = None
    if workers > 1:
        pool = Pool(workers, initializer=_init_worker,
                    initargs=(type(tokenizer), str(tokenizer.model_path), instruct))
    try:
        with tqdm(total=sum(len(parts[split]) for split in splits), unit="story", desc=f"encoding {out_dir.name}",
                  dynamic_ncols=True) as progress:
            for split in splits:
                if pool is not None:
                    encoded = _in_order(pool, chunks(parts[split]), workers)
                else:
                    encoded = (_encode_piece(chunk, tokenizer, instruct) for chunk in chunks(parts[split]))
                meta.update(_write_split(encoded, split, tokenizer, out_dir, shard_tokens, progress))
    finally:
        if pool is not None:
            pool.terminate()  # workers are idle by now, or we are unwinding from an error / Ctrl-C
            pool.join()

    write_text(out_dir / "meta.json", json.dumps(meta, indent=2) + "\n")
    return meta


def read_meta(out_dir) -> dict:
    """The meta.json of a finished shard directory."""
    path = Path(out_dir) / "meta.json"
    if not path.is_file():
        raise DataError(f"{out_dir}: no meta.json, so the data was never encoded or encoding did not finish; "
                        "encode it (again)")
    return json.loads(path.read_text())


# ----------------------------------------------------------------------------------------------
# training windows


class Batches:
    """Random training windows from memory-mapped shards, reproducible from (seed, step, micro).

    get(step, micro) -> x, y of shape (batch_size, seq_len), int64; y is x shifted by one token. Each
    window starts at a uniformly random start over all shards (a shard is picked with probability
    proportional to its number of window starts). With mask_prompt, targets that are prompt tokens are
    -1 (cross_entropy's ignore_index), so an instruction-tuned model learns to write stories, not prompts,
    and windows start only at the EOS that ends an example: each window then begins EOS prompt BOS, as
    generation does, and no story in it is cut from its prompt. (Windows at any token put about a third
    of the story tokens after a cut, where the words the prompt asked for are not in sight: there a model
    can only learn to guess a word, the opposite of copying it.)
    Shards shorter than seq_len + 1 tokens are skipped (with a note on stderr) if any other is long enough.
    tokenizer: when given, every shard must have been encoded with it.
    """

    def __init__(self, shard_paths, seq_len: int, batch_size: int, tokenizer=None, *, mask_prompt: bool = False,
                 seed: int = 0):
        shard_paths = [Path(p) for p in shard_paths]
        if not shard_paths:
            raise DataError("no token shards given (an empty or unfinished data directory?)")
        self.seq_len, self.batch_size, self.mask_prompt, self.seed = seq_len, batch_size, mask_prompt, seed
        headers = [read_header(p) for p in shard_paths]
        first = headers[0]
        for path, header in zip(shard_paths, headers):
            if (header.tokenizer, header.bos_id, header.eos_id) != (first.tokenizer, first.bos_id, first.eos_id):
                raise DataError(f"shards {shard_paths[0]} and {path} were made with different tokenizers; "
                                "use shards from one encoding run")
        self.vocab_size, self.bos_id, self.eos_id = first.vocab_size, first.bos_id, first.eos_id

        self.shards, self.paths = [], []
        for path, header in zip(shard_paths, headers):
            if header.n_tokens < seq_len + 1:
                continue
            self.shards.append(open_shard(path, tokenizer))
            self.paths.append(path)
        if not self.shards:
            longest = max(h.n_tokens for h in headers)
            raise DataError(f"every shard is shorter than seq_len + 1 = {seq_len + 1} tokens (the longest, of "
                            f"{len(headers)}, has {longest:,}); use a shorter sequence length or more data")
        for path, header in zip(shard_paths, headers):
            if header.n_tokens < seq_len + 1:
                print(f"note: skipping shard {path}: {header.n_tokens:,} tokens is less than seq_len + 1",
                      file=sys.stderr)
        if mask_prompt:  # the EOS before each example whose prompt leaves room in the window for its story
            found = [self._example_starts(s, seq_len) for s in self.shards]  # (starts, EOS seen) per shard
            self.starts = [starts for starts, _ in found]
            unfit = sum(n_eos - len(starts) for starts, n_eos in found)
            if unfit:
                print(f"note: {unfit:,} examples are not trained on: their prompt leaves no room for a story token "
                      f"in a window of {seq_len} tokens", file=sys.stderr)
        else:  # any token
            self.starts = [None] * len(self.shards)
        self.n_starts = np.array([len(s) - seq_len if st is None else len(st) for s, st in zip(self.shards, self.starts)],
                                 dtype=np.int64)  # window starts per shard
        if not self.n_starts.sum():
            raise DataError(f"no example starts a window of {seq_len + 1} tokens: the shards hold no EOS far enough "
                            f"from their end; use a shorter sequence length or more data")
        self.n_tokens = sum(len(s) for s in self.shards)

    def _example_starts(self, shard: np.ndarray, seq_len: int) -> tuple[np.ndarray, int]:
        """(starts, n): the offsets of the EOS before each example whose BOS is still a target of a window of
        seq_len tokens that starts there (EOS prompt BOS story, the BOS at most seq_len tokens on), and how
        many EOS could start a window at all. A window holding only prompt tokens would have no target, and
        a loss of 0 / 0."""
        eos = np.flatnonzero(np.asarray(shard[:len(shard) - seq_len]) == self.eos_id)
        bos = np.flatnonzero(np.asarray(shard) == self.bos_id)
        after = np.searchsorted(bos, eos)  # index of the first BOS after each EOS
        fits = after < len(bos)
        fits[fits] = bos[after[fits]] - eos[fits] <= seq_len
        return eos[fits], len(eos)

    def get(self, step: int, micro: int = 0) -> "tuple[torch.Tensor, torch.Tensor]":
        """The batch for optimizer step `step`, micro-batch `micro` (data-parallel ranks use distinct micros)."""
        # torch is imported here, not at the top: encoding processes import this module, and where they
        # start by spawning (macOS, Windows) each would otherwise load torch (~200 MB) to run SentencePiece
        import torch
        rng = np.random.default_rng([self.seed, step, micro])
        which = rng.choice(len(self.shards), size=self.batch_size, p=self.n_starts / self.n_starts.sum())
        starts = rng.integers(0, self.n_starts[which])
        starts = np.array([o if self.starts[s] is None else self.starts[s][o] for s, o in zip(which, starts)])
        T = self.seq_len
        windows = np.stack([self.shards[s][o:o + T + 1] for s, o in zip(which, starts)]).astype(np.int64)
        x, y = windows[:, :-1], windows[:, 1:].copy()
        if self.mask_prompt:
            for row, (s, o) in enumerate(zip(which, starts)):
                y[row][self.prompt_mask(self.shards[s], o, windows[row])[1:]] = -1
        return torch.from_numpy(x.copy()), torch.from_numpy(y)

    def prompt_mask(self, shard: np.ndarray, start: int, window: np.ndarray) -> np.ndarray:
        """Which tokens of window (= shard[start:start + len(window)]) are prompt tokens: after an EOS,
        or the shard start, and before the next BOS. BOS and EOS themselves are never prompt tokens."""
        special = (window == self.bos_id) | (window == self.eos_id)
        # position of the last BOS/EOS at or before each token, -1 where none is inside the window
        last = np.maximum.accumulate(np.where(special, np.arange(len(window)), -1))
        in_prompt = window[np.maximum(last, 0)] == self.eos_id
        before = self._prompt_at(shard, start)  # state carried in from before the window
        return ~special & np.where(last >= 0, in_prompt, before)

    def _prompt_at(self, shard: np.ndarray, start: int, chunk: int = 4096) -> bool:
        """Whether shard[start] would be a prompt token were it not special: scan backwards, a chunk at
        a time, for the nearest BOS/EOS before it; the shard start counts as an EOS."""
        hi = start
        while hi > 0:
            lo = max(0, hi - chunk)
            seg = shard[lo:hi]
            hits = np.flatnonzero((seg == self.bos_id) | (seg == self.eos_id))
            if len(hits):
                return bool(seg[hits[-1]] == self.eos_id)
            hi = lo
        return True


def main(argv=None):
    """python -m data.shards RECORDS --tokenizer T.model --out DIR [--instruct]: encode a data file."""
    import argparse

    from data.records import open_records
    from errors import USER_ERRORS, exit_with
    from tokenizer import Tokenizer

    parser = argparse.ArgumentParser(description="Encode a .jsonl/.csv/.txt file of stories into token shards "
                                                 "(train.py does this by itself; this is for doing it ahead of time).")
    parser.add_argument("records", help="a .jsonl, .csv or .txt file of stories")
    parser.add_argument("--tokenizer", required=True, help="SentencePiece .model to encode with")
    parser.add_argument("--out", required=True, help="output directory for train_*.bin, val_*.bin, meta.json")
    parser.add_argument("--instruct", action="store_true", help="instruction layout: prompt BOS story EOS")
    parser.add_argument("--val-fraction", type=float, default=0.05, help="share of records for validation (default 0.05)")
    parser.add_argument("--seed", type=int, default=0, help="shuffle seed for the split (default 0)")
    args = parser.parse_args(argv)
    if not 0.0 <= args.val_fraction < 1.0:
        parser.error("--val-fraction must be in [0, 1)")
    try:
        tokenizer = Tokenizer(args.tokenizer)
        meta = encode_dataset(open_records(args.records), tokenizer, args.out, instruct=args.instruct,
                              val_fraction=args.val_fraction, seed=args.seed)
    except USER_ERRORS as e:
        exit_with(e)
    print(f"wrote {meta['n_train_tokens']:,} train and {meta['n_val_tokens']:,} val tokens to {args.out}")


if __name__ == "__main__":
    main()
