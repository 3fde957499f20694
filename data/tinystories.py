"""TinyStories (Eldan & Li, 2023, https://arxiv.org/abs/2305.07759): download from Hugging Face and convert to records.

Files of the dataset `roneneldan/TinyStories` that we use:
    TinyStoriesV2-GPT4-train.txt / -valid.txt   plain stories separated by <|endoftext|> (GPT-4 written, ~2.1 GB / 22 MB)
    TinyStories_all_data.tar.gz                  data00.json ... data49.json, each a JSON list of
        {"story": ..., "summary": ..., "instruction": {"prompt:": ..., "words": [...], "features": [...]}, "source": ...}
        (note the key "prompt:" with its colon: that is how the dataset spells it)

Conversion:
    plain stories -> completion-only records {"story"}                        (read straight from the .txt)
    all_data      -> instruction records {"prompt", "story", "source"} in all_data-instruct.jsonl, the prompt built
                     from the summary ("Write a story about a girl who ...") or from the required words and
                     features ("Write a story that uses the words "ball", "jump" and "happy" and contains dialogue."),
                     half of each, picked by a hash of the story so the choice is stable. The archive is read
                     once as a stream and each file parsed item by item in worker processes (convert_all_data),
                     so memory stays bounded; the records come in file-name order whatever the archive's order.

Downloads stream into NAME.part with a progress bar; an interrupted download (a dropped connection here, or a
killed process earlier) resumes from the bytes already there with an HTTP Range request, and the finished file
must have exactly the size the server announced before it is renamed into place.

    python -m data.tinystories --out-dir data/cache/tinystories --files valid all_data
    TINYSTORIES_URL=http://mirror/... python -m data.tinystories   # another server with the same layout
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tarfile
import tempfile
import time
import zlib
from collections import deque
from multiprocessing import Pool
from pathlib import Path
from typing import Iterator

import requests
from tqdm import tqdm

from data.records import DataError, open_records
from errors import USER_ERRORS, exit_with
from formats.atomic import atomic_write

ORIGIN = "https://huggingface.co/datasets/roneneldan/TinyStories/resolve/main"
FILES = {"train": "TinyStoriesV2-GPT4-train.txt", "valid": "TinyStoriesV2-GPT4-valid.txt",
         "all_data": "TinyStories_all_data.tar.gz"}
INSTRUCT_RECORDS = "all_data-instruct.jsonl"
CHUNK_BYTES = 1 << 16  # a dropped connection loses at most the chunk being read
BLOCK = 1 << 20  # conversion reads and copies 1 MiB (or 1 Mi characters) at a time

# the dataset's feature names -> words for a prompt
FEATURES = {"Dialogue": "contains dialogue", "BadEnding": "has a bad ending", "MoralValue": "teaches a lesson",
            "Twist": "has a plot twist", "Foreshadowing": "uses foreshadowing", "Conflict": "has a conflict"}
# a summary that opens with one of these reads on after "Write a story about " once lower-cased
_ARTICLES = {"A", "An", "The", "Two", "Three", "Four", "Once", "Some", "One"}


def base_url() -> str:
    """Where the files come from: the public origin, or TINYSTORIES_URL (a mirror, or a test's local server)."""
    return os.environ.get("TINYSTORIES_URL", ORIGIN).rstrip("/")


# ----------------------------------------------------------------------------------------------
# download


def _total_size(r: requests.Response) -> int | None:
    """The whole file's size from a 206's Content-Range ("bytes 100-999/1000") or a 200's Content-Length."""
    if r.status_code == 206:
        m = re.match(r"bytes \d+-\d+/(\d+)", r.headers.get("Content-Range", ""))
        return int(m.group(1)) if m else None
    length = r.headers.get("Content-Length")
    return int(length) if length is not None and "Content-Encoding" not in r.headers else None


def download(url: str, dest, attempts: int = 5, timeout: float = 60.0, backoff: float = 1.0,
             chunk_bytes: int = CHUNK_BYTES) -> Path:
    """Stream url to dest (via dest.part), resuming with Range after a dropped connection; verify the size."""
    dest = Path(dest)
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    for attempt in range(attempts):
        have = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            with requests.get(url, headers=headers, stream=True, timeout=timeout) as r:
                if r.status_code == 416 and have:  # asked past the end: the .part may already be whole
                    size = _size_from_416(r)
                    if size == have:
                        break
                    part.unlink()  # a .part bigger than the file: start over
                    continue
                if r.status_code not in (200, 206):
                    raise DataError(f"{url}: HTTP {r.status_code} {r.reason}")
                if r.status_code == 200:
                    have = 0  # the server ignored the Range: start over
                total = _total_size(r)
                with open(part, "ab" if have else "wb") as f, \
                        tqdm(total=total, initial=have, unit="B", unit_scale=True, desc=dest.name, file=sys.stderr,
                             dynamic_ncols=True) as bar:
                    for chunk in r.iter_content(chunk_bytes):
                        f.write(chunk)
                        bar.update(len(chunk))
            size = part.stat().st_size
            if total is not None and size != total:
                raise requests.ConnectionError(f"got {size:,} of {total:,} bytes")
            break
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as e:
            if attempt == attempts - 1:
                got = part.stat().st_size if part.exists() else 0
                raise DataError(f"{url}: download failed after {attempts} tries ({e}); {got:,} bytes kept in {part}, "
                                f"rerun to resume") from None
            time.sleep(backoff * 2**attempt)
    os.replace(part, dest)
    return dest


def _size_from_416(r: requests.Response) -> int | None:
    m = re.match(r"bytes \*/(\d+)", r.headers.get("Content-Range", ""))
    return int(m.group(1)) if m else None


# ----------------------------------------------------------------------------------------------
# conversion


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text[-1:] in ".!?" else text + "."


def _quoted_list(words: list[str]) -> str:
    words = [f'"{w}"' for w in words]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def instruction_prompt(record: dict) -> str | None:
    """The prompt for one all_data record, from its summary or its words and features; None if it has neither."""
    summary = (record.get("summary") or "").strip()
    instruction = record.get("instruction") or {}
    words = [w for w in instruction.get("words") or [] if isinstance(w, str) and w.strip()]
    features = [FEATURES.get(f, f) for f in instruction.get("features") or [] if isinstance(f, str)]
    by_words = bool(words) and (not summary or zlib.crc32(record["story"].encode()) % 2 == 1)
    if by_words:
        asks = [f"uses the {'word' if len(words) == 1 else 'words'} {_quoted_list(words)}"] + features
        return "Write a story that " + (asks[0] if len(asks) == 1 else ", ".join(asks[:-1]) + " and " + asks[-1]) + "."
    if summary:
        first = summary.split(maxsplit=1)[0]
        if first in _ARTICLES:
            summary = summary[0].lower() + summary[1:]
        return "Write a story about " + _sentence(summary)
    return None


def instruction_record(obj) -> dict | None:
    """One all_data record as an instruction record {"prompt", "story", "source"}, plus "words" when the
    prompt asks for words (so eval.py can score whether a story uses them); None without a story or
    anything to build a prompt from."""
    story = (obj.get("story") or "").strip() if isinstance(obj, dict) else ""
    if not story:
        return None
    prompt = instruction_prompt(dict(obj, story=story))
    if not prompt:
        return None
    record = {"prompt": prompt, "story": story, "source": obj.get("source", "")}
    words = [w.strip() for w in (obj.get("instruction") or {}).get("words") or [] if isinstance(w, str) and w.strip()]
    if prompt.startswith("Write a story that uses the word") and words:
        record["words"] = list(dict.fromkeys(words))
    return record


_JSON_SPACE = re.compile(r"[ \t\n\r]*")  # the whitespace JSON allows between values


def iter_json_list(f, where: str) -> Iterator:
    """The items of a JSON list, read from the text stream f a block at a time, so that memory holds one
    item and one block rather than the whole list (each all_data file is about 90 MB of JSON, several
    hundred MB once json.load has made it Python objects). Items are parsed by json's own decoder."""
    decoder = json.JSONDecoder()
    buf, pos, eof = "", 0, False

    def more() -> bool:  # append the next block; False at the end of the stream
        nonlocal buf, pos, eof
        block = "" if eof else f.read(BLOCK)
        eof = not block
        buf, pos = buf[pos:] + block, 0
        return not eof

    def peek() -> str:  # the next character that is not whitespace, "" at the end
        nonlocal pos
        while True:
            pos = _JSON_SPACE.match(buf, pos).end()
            if pos < len(buf) or not more():
                return buf[pos:pos + 1]

    if peek() != "[":
        raise DataError(f"{where}: not a JSON list")
    pos += 1
    after = peek()
    if after != "]":
        while True:
            while True:  # an item cut by the end of the block: read on and parse it again
                try:
                    item, end = decoder.raw_decode(buf, pos)
                    if end < len(buf) or eof:
                        break
                except json.JSONDecodeError as e:
                    if eof:
                        raise DataError(f"{where}: not JSON ({e.msg})") from None
                more()
            pos = end
            yield item
            after = peek()
            if after != ",":
                break
            pos += 1
            peek()  # to the next item's first character
    if after != "]":
        raise DataError(f"{where}: not JSON (expected ',' or ']' after an item, got {after or 'the end'!r})")
    pos += 1
    if peek():
        raise DataError(f"{where}: not JSON (more after the list's closing ']')")


def convert_member(json_path, out_path, where: str) -> int:
    """One all_data file (a JSON list) -> its instruction records as JSONL; returns the count. The JSON
    file is deleted once converted: it is a temporary copy taken out of the archive."""
    count = 0
    try:
        with open(json_path, encoding="utf-8-sig") as f, atomic_write(out_path, "w") as out:
            for obj in iter_json_list(f, where):
                if record := instruction_record(obj):
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
                    count += 1
    except UnicodeDecodeError as e:
        raise DataError(f"{where}: not JSON (not UTF-8 at byte {e.start})") from None
    Path(json_path).unlink()
    return count


def convert_all_data(tar_path, out_path, workers: int | None = None) -> int:
    """TinyStories_all_data.tar.gz -> instruction records JSONL (written atomically); returns the count.

    The records come in the order of the archive's .json files sorted by name, each file's in its own
    order. One pass over the archive: this process decompresses each file into a temporary directory beside
    out_path, and `workers` processes (default: all cores) convert the files into JSONL parts, streaming,
    at most 2 * workers files waiting at a time; the parts are then joined in name order. Memory stays
    bounded whatever the archive's size; disk needs about the records' size again for the parts.
    """
    workers = workers or os.cpu_count() or 1
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    pool = Pool(workers) if workers > 1 else None
    try:
        with tempfile.TemporaryDirectory(prefix=f".{out_path.name}-", dir=out_path.parent) as tmp:
            parts, waiting = {}, deque()  # member name -> (JSONL part, its count or the worker's promise of it)
            try:
                with tarfile.open(tar_path, "r|gz") as tar:  # a stream: one pass, no seeking back
                    for member in tqdm(tar, desc="converting", unit="file", file=sys.stderr, dynamic_ncols=True):
                        if not (member.isfile() and member.name.endswith(".json")):
                            continue
                        json_path, part = Path(tmp, f"{len(parts):05d}.json"), Path(tmp, f"{len(parts):05d}.jsonl")
                        with atomic_write(json_path) as f:
                            shutil.copyfileobj(tar.extractfile(member), f, BLOCK)
                        job = (json_path, part, f"{tar_path}:{member.name}")
                        if pool is None:
                            parts[member.name] = part, convert_member(*job)
                            continue
                        parts[member.name] = part, pool.apply_async(convert_member, job)
                        waiting.append(parts[member.name][1])
                        if len(waiting) >= 2 * workers:  # bound the decompressed files on disk; fail early
                            waiting.popleft().get()
            except (tarfile.TarError, EOFError, zlib.error) as e:
                raise DataError(f"{tar_path}: not a readable .tar.gz ({e}); delete it and download it again") from None
            if not parts:
                raise DataError(f"{tar_path}: no .json files inside")
            count = 0
            with atomic_write(out_path) as out:
                for name in sorted(parts):
                    part, done = parts[name]
                    count += done if pool is None else done.get()
                    with open(part, "rb") as f:
                        shutil.copyfileobj(f, out, BLOCK)
                    part.unlink()  # so the disk holds the records about once, not twice
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    return count


def prepare(root, instruct: bool, log=print) -> Path:
    """Download and convert what a training run needs, once; return the records file to read.

    instruct runs: all_data's instruction records; completion runs: the plain V2 (GPT-4) train stories.
    """
    root = Path(root)
    if instruct:
        out = root / INSTRUCT_RECORDS
        if not out.exists():
            tar = download(f"{base_url()}/{FILES['all_data']}", root / FILES["all_data"])
            log(f"converting {tar} to instruction records")
            n = convert_all_data(tar, out)
            log(f"wrote {n:,} instruction records to {out}")
        return out
    return download(f"{base_url()}/{FILES['train']}", root / FILES["train"])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m data.tinystories", description=__doc__.split("\n\n")[0])
    p.add_argument("--out-dir", default="data/cache/tinystories")
    p.add_argument("--files", nargs="+", choices=list(FILES), default=["valid", "all_data"],
                   help="which files to fetch (train is 2.1 GB, all_data 1.5 GB, valid 22 MB)")
    args = p.parse_args(argv)
    out = Path(args.out_dir)
    try:
        for name in args.files:
            path = download(f"{base_url()}/{FILES[name]}", out / FILES[name])
            if name == "all_data":
                records = out / INSTRUCT_RECORDS
                if not records.exists():
                    print(f"wrote {convert_all_data(path, records):,} instruction records to {records}")
            else:
                print(f"{path}: {len(open_records(path)):,} stories")
    except USER_ERRORS as e:
        exit_with(e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
