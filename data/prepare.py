"""The data pipeline: records -> SentencePiece vocabulary -> token shards, cached under one directory.

    shard_dir, tokenizer_model = prepare("builtin", "data/cache", instruct=True, seed=1337)

train.py calls prepare(), which builds whatever is missing; eval.py calls validation_shards(), which never
writes into the cache. Layout of the cache (data_dir):

    builtin/stories-v3-<code>-30000.jsonl  the built-in storyteller's records (data/storyteller.py, version 3;
                                           <code>: a digest of the generator's code and word lists)
    tinystories/...                        the download, and its instruction records (data/tinystories.py)
    <name>/                                a user's records file <name>.jsonl/.csv/.txt stays where it is
    <root>/tokenizer-1024-<records>.model  a vocabulary trained on those records
    <root>/instruct-<key>/                 shards: train_NNN.bin, val_NNN.bin and meta.json (written last)

<records> is the start of the sha256 of the records file's bytes. <key> is the start of a sha256 over
everything that changes the shards: the records' content, the tokenizer's identity, the layout (instruct
or completion), the shuffle seed and the validation fraction. An edited file, another seed or another
tokenizer gets shards of its own, never the split made for something else.

A .jsonl or .txt records file is never held in memory: it is opened as a RecordFile (byte offsets,
data/records.py), the vocabulary is trained on a sample read by offset (vocab_texts), and the encoding
processes read their own chunks (data/shards.encode_dataset). docs/data.md, "At full scale", has the numbers.
"""

import hashlib
import json
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from data import storyteller
from data.records import DataError, RecordFile, open_records, write_jsonl
from data.shards import encode_dataset, split_order
from tokenizer import MAX_TEXT_BYTES, Tokenizer, sample_texts, train_tokenizer

VAL_FRACTION = 0.05  # share of the records held out for validation
VOCAB_TEXTS = 100_000  # stories a vocabulary is trained on, sampled from all of them


def file_digest(path) -> str:
    """sha256 of a file's bytes, read in 1 MiB pieces (a TinyStories file is 2 GB)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def shards_key(records_digest: str, tokenizer_identity: str, instruct: bool, seed: int, val_fraction: float) -> str:
    fields = dict(records=records_digest, tokenizer=tokenizer_identity, instruct=instruct, seed=seed,
                  val_fraction=val_fraction)
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def cache_root(dataset: str, data_dir) -> Path:
    """Where the prepared data of a dataset lives (not a shard directory: see prepare)."""
    if dataset in ("builtin", "tinystories"):
        return Path(data_dir) / dataset
    return Path(data_dir) / Path(dataset).stem


def records_file(dataset: str, root: Path, instruct: bool, builtin_stories: int, log, create: bool) -> Path | None:
    """The records file of a dataset, made first when create is set (generated, or downloaded and
    converted). Without create: None for built-in stories not yet written; DataError for TinyStories."""
    if dataset == "builtin":
        path = root / f"stories-v{storyteller.VERSION}-{storyteller.code_digest()}-{builtin_stories}.jsonl"
        if create and not path.exists():
            log(f"writing {builtin_stories:,} built-in stories to {path}")
            write_jsonl(storyteller.make_records(builtin_stories, seed=0, split="train"), path)
        return path if path.exists() else None
    if dataset == "tinystories":  # downloaded and converted once into root; TINYSTORIES_URL picks a mirror
        from data import tinystories
        if not create:
            path = root / (tinystories.INSTRUCT_RECORDS if instruct else tinystories.FILES["train"])
            if not path.exists():
                raise DataError(f"{path}: TinyStories is not prepared; train.py --dataset tinystories prepares it")
            return path
        return tinystories.prepare(root, instruct=instruct, log=log)
    path = Path(dataset)
    if not path.is_file():
        raise DataError(f"--dataset {dataset}: no such file or directory")
    return path


def vocab_texts(records, k: int = VOCAB_TEXTS):
    """The stories train_tokenizer(texts, ..., max_sentences=k) would train on, read without the rest.

    train_tokenizer drops stories longer than MAX_TEXT_BYTES and keeps a reservoir sample of k of the
    others (tokenizer.sample_texts); which positions the sample keeps depends only on how many stories
    there are, not on their text. So for a RecordFile we sample the numbers of the stories that are short
    enough and read only those k: the same texts in the same order, hence the same .model bytes, without
    decoding a 2 GB file. A record's bytes bound its story's UTF-8 length (no JSON escape decodes to more
    bytes than it is written with), so only records longer than the limit are read to check them.
    For a list of records: all the stories, which train_tokenizer samples itself."""
    if not isinstance(records, RecordFile):
        return (r["story"] for r in records)
    long = np.flatnonzero(records.ends - records.starts > MAX_TEXT_BYTES)
    too_long = [n for n, r in zip(long, records.subset(long)) if len(r["story"].encode("utf-8")) > MAX_TEXT_BYTES]
    if too_long:
        print(f"warning: skipped {len(too_long)} texts longer than {MAX_TEXT_BYTES} bytes", file=sys.stderr)
    short = np.delete(np.arange(len(records)), too_long)  # (n_short,) record numbers
    numbers = sample_texts(map(int, short), k)
    return [r["story"] for r in records.subset(numbers)]


def shard_directory(dataset: str, tokenizer_model, log=print) -> tuple[Path, Path] | None:
    """(dataset, its tokenizer) when dataset is a directory of shards encoded earlier, else None."""
    root = Path(dataset)
    if not root.is_dir():
        return None
    if not (root / "meta.json").exists():
        raise DataError(f"--dataset {dataset}: directory has no meta.json (not a finished shard directory)")
    tok = tokenizer_model or next((p for p in (root / "tokenizer.model", root.parent / "tokenizer.model")
                                   if p.exists()), None)
    if tok is None:
        raise DataError(f"{root}: a shard directory needs its tokenizer.model beside it")
    return root, Path(tok)


def prepare(dataset: str, data_dir, *, instruct: bool, seed: int, val_fraction: float = VAL_FRACTION,
            vocab_size: int = 1024, builtin_stories: int = 30000, tokenizer_model=None,
            log=print) -> tuple[Path, Path]:
    """Make sure records, vocabulary and shards exist; return (shard directory, tokenizer .model).

    dataset: "builtin", "tinystories", a .jsonl/.csv/.txt records file, or a directory of shards.
    tokenizer_model: the vocabulary to encode with (a fine-tuned model's own); None trains one of
    vocab_size pieces on the records, once."""
    given = shard_directory(dataset, tokenizer_model)
    if given:
        return given
    root = cache_root(dataset, data_dir)
    records_path = records_file(dataset, root, instruct, builtin_stories, log, create=True)
    digest = file_digest(records_path)
    records = None  # opened only when something has to be built from them
    if tokenizer_model is None:
        tokenizer_model = root / f"tokenizer-{vocab_size}-{digest[:12]}.model"
        if not tokenizer_model.exists():
            records = open_records(records_path)
            log(f"training a {vocab_size}-piece vocab on {len(records):,} stories")
            train_tokenizer(vocab_texts(records), vocab_size, tokenizer_model, max_sentences=VOCAB_TEXTS)
    tokenizer = Tokenizer(tokenizer_model)
    key = shards_key(digest, tokenizer.identity, instruct, seed, val_fraction)
    shard_dir = root / f"{'instruct' if instruct else 'completion'}-{key[:12]}"
    if not (shard_dir / "meta.json").exists():
        records = records if records is not None else open_records(records_path)
        log(f"encoding {len(records):,} records into {shard_dir}")
        encode_dataset(records, tokenizer, shard_dir, instruct=instruct, seed=seed, val_fraction=val_fraction)
    return shard_dir, Path(tokenizer_model)


def validation_records(dataset: str, data_dir, *, seed: int, val_fraction: float = VAL_FRACTION,
                       builtin_stories: int = 30000, instruct: bool = True) -> list[dict]:
    """The records of a dataset's validation split, as train.py split them (never seen in training); an empty
    list for a directory of shards, whose records are not kept. Reads only those records."""
    if Path(dataset).is_dir():
        return []
    root = cache_root(dataset, data_dir)
    path = records_file(dataset, root, instruct, builtin_stories, log=print, create=False)
    records = open_records(path) if path is not None else storyteller.make_records(builtin_stories, seed=0, split="train")
    val = split_order(len(records), seed, val_fraction)["val"]
    return list(records.subset(val)) if isinstance(records, RecordFile) else [records[i] for i in val]


@contextmanager
def validation_shards(dataset: str, data_dir, tokenizer: Tokenizer, *, instruct: bool, seed: int,
                      val_fraction: float = VAL_FRACTION, builtin_stories: int = 30000):
    """The validation shards of a dataset encoded with `tokenizer`: the cached ones when train.py made
    them, else encoded into a temporary directory that is gone after the with-block. Never writes into
    the cache, so evaluating cannot change what a later training run finds there.

        with validation_shards("builtin", "data/cache", tok, instruct=True, seed=1337) as shards:
            ...  # a list of val_*.bin paths"""
    given = shard_directory(dataset, tokenizer.model_path)
    if given:
        yield sorted(given[0].glob("val_*.bin"))
        return
    root = cache_root(dataset, data_dir)
    path = records_file(dataset, root, instruct, builtin_stories, log=print, create=False)
    if path is not None:
        key = shards_key(file_digest(path), tokenizer.identity, instruct, seed, val_fraction)
        cached = root / f"{'instruct' if instruct else 'completion'}-{key[:12]}"
        if (cached / "meta.json").exists():
            yield sorted(cached.glob("val_*.bin"))
            return
        records = open_records(path)
    else:  # built-in stories never written to this cache: the storyteller makes the same ones again
        records = storyteller.make_records(builtin_stories, seed=0, split="train")
    with tempfile.TemporaryDirectory(prefix="eval-shards-") as tmp:
        encode_dataset(records, tokenizer, tmp, instruct=instruct, seed=seed, val_fraction=val_fraction,
                       splits=("val",))
        yield sorted(Path(tmp).glob("val_*.bin"))
