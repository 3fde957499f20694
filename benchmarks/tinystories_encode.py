"""
TinyStories at full scale: records/s, MB/s and peak memory of turning the two TinyStories files into token
shards, the way train.py --dataset tinystories does, stage by stage.

    python benchmarks/tinystories_encode.py                          # 300 MB of generated data, all cores
    python benchmarks/tinystories_encode.py --mb 100 --workers 1 2   # smaller; one process, then two
    python benchmarks/tinystories_encode.py --file data/cache/tinystories/TinyStoriesV2-GPT4-train.txt
    python benchmarks/tinystories_encode.py --file data/cache/tinystories/TinyStories_all_data.tar.gz

Without --file it generates, in a temporary directory, --mb MB of each layout from a small seed text (the
100 real stories of the shared fixture tinystories/valid100.txt when present, else the built-in
storyteller's): a TinyStoriesV2-GPT4-train.txt (stories separated by <|endoftext|>) and a
TinyStories_all_data.tar.gz (data00.json ... data49.json, lists of {"story", "instruction": {"prompt:",
"words", "features"}, "summary", "source"}), --mb MB of JSON inside.

Each run is a fresh process doing what data/prepare.py does with a file it has not seen:
    convert   all_data only: the archive -> instruction records JSONL (data/tinystories.convert_all_data)
    index     one pass over the records file noting where each record is (data/records.RecordFile)
    vocab     training a 1024-piece SentencePiece vocabulary on 100,000 sampled stories
    encode    shuffle, split 95/5, encode every record into shards (data/shards.encode_dataset)
records/s and MB/s are over the whole run; MB is the text taken in: the .txt file, or the JSON inside the
archive (the archive's own size is in the line above the table). "peak PSS"
is the largest sum, over the run's processes, of their proportional set size (shared pages split among
the processes sharing them; the closest thing to the memory the run takes from the machine), sampled every
0.1 s from /proc; "main" and "worker" are the kernel's peak resident size of the main process and of
the largest worker process. The last column checks the shards are byte-identical whatever the number of
processes.
"""

import argparse
import hashlib
import io
import json
import os
import platform
import random
import re
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FIXTURE = Path(os.environ.get("STORIES_FIXTURES", ROOT.parent / "shared" / "fixtures")) / "tinystories" / "valid100.txt"
END_OF_TEXT = "<|endoftext|>"
MEMBERS = 50  # all_data has data00.json ... data49.json
# the dataset's generation prompt, which every all_data record carries and conversion drops
GPT4_PROMPT = ("Write a short story (3-5 paragraphs) which only uses very simple words that a 3 year old child "
               "would understand. The story should use the verb \"{}\", the noun \"{}\" and the adjective \"{}\". "
               "The story should have the following features: the story should contain at least one dialogue. "
               "Remember to only use simple words!")
FEATURES = ["Dialogue", "BadEnding", "MoralValue", "Twist", "Foreshadowing", "Conflict"]


# ----------------------------------------------------------------------------------------------
# generated data


def seed_stories() -> list[str]:
    if FIXTURE.is_file():
        from data.records import read_records
        return [r["story"] for r in read_records(FIXTURE)][1:]  # the first is cut mid-story in the fixture
    from data.storyteller import make_records
    return [r["story"] for r in make_records(100, seed=0, split="train")]


def generated_stories(seeds: list[str], n_bytes: float = float("inf"), seed: int = 0):
    """Stories until about n_bytes of text: the first half of one seed story joined to the second half of
    another, so that lengths and vocabulary are TinyStories' and few stories repeat."""
    rng = random.Random(seed)
    halves = [re.split(r"(?<=[.!?])\s+", s) for s in seeds]
    total = 0
    while total < n_bytes:
        a, b = rng.choice(halves), rng.choice(halves)
        story = " ".join(a[: len(a) // 2] + b[len(b) // 2:])
        total += len(story.encode()) + len(END_OF_TEXT) + 2
        yield story


def write_plain(path: Path, n_bytes: int, seeds: list[str]) -> Path:
    """A TinyStoriesV2-GPT4-train.txt of about n_bytes."""
    with open(path, "w", encoding="utf-8") as f:
        for story in generated_stories(seeds, n_bytes):
            f.write(story + "\n" + END_OF_TEXT + "\n")
    return path


def all_data_record(story: str, rng: random.Random) -> dict:
    words = sorted(set(re.findall(r"[a-z]{4,}", story.lower()))) or ["ball"]
    picked = [rng.choice(words) for _ in range(3)]
    summary = re.split(r"(?<=[.!?])\s+", story)[0]
    return {"story": story, "instruction": {"prompt:": GPT4_PROMPT.format(*picked), "words": picked,
                                            "features": rng.sample(FEATURES, rng.randrange(3))},
            "summary": summary, "source": "GPT-4"}


def write_all_data(path: Path, n_bytes: int, seeds: list[str]) -> Path:
    """A TinyStories_all_data.tar.gz holding about n_bytes of JSON in MEMBERS files."""
    rng = random.Random(1)
    stories = generated_stories(seeds)
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        for i in range(MEMBERS):
            records, size = [], 0
            for story in stories:
                records.append(all_data_record(story, rng))
                size += len(json.dumps(records[-1], indent=0)) + 2
                if size >= n_bytes // MEMBERS:
                    break
            data = json.dumps(records, indent=0).encode()
            info = tarfile.TarInfo(f"data{i:02d}.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


# ----------------------------------------------------------------------------------------------
# one run, in its own process (--child)


def child(path: Path, out: Path, workers: int) -> dict:
    import resource

    from data.prepare import VOCAB_TEXTS, vocab_texts
    from data.records import open_records
    from data.shards import encode_dataset
    from data.tinystories import convert_all_data
    from tokenizer import Tokenizer, train_tokenizer

    times = {}
    t = time.perf_counter()
    records_path, instruct = path, False
    if path.name.endswith(".tar.gz"):
        records_path, instruct = out / "all_data-instruct.jsonl", True
        convert_all_data(path, records_path, workers=workers)
        times["convert"] = time.perf_counter() - t
    t = time.perf_counter()
    records = open_records(records_path)
    times["index"] = time.perf_counter() - t
    t = time.perf_counter()
    train_tokenizer(vocab_texts(records), 1024, out / "tokenizer.model", max_sentences=VOCAB_TEXTS)
    times["vocab"] = time.perf_counter() - t
    t = time.perf_counter()
    meta = encode_dataset(records, Tokenizer(out / "tokenizer.model"), out / "shards", instruct=instruct,
                          workers=workers)
    times["encode"] = time.perf_counter() - t
    digest = hashlib.sha256()
    for name in meta["train_shards"] + meta["val_shards"]:
        digest.update((out / "shards" / name).read_bytes())
    return {"times": times, "records": len(records), "tokens": meta["n_train_tokens"] + meta["n_val_tokens"],
            "main_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "worker_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "shards_sha256": digest.hexdigest()}


# ----------------------------------------------------------------------------------------------
# measuring a run from outside


def process_tree(root: int) -> list[int]:
    """root and all its descendants, from the parent ids in /proc/*/stat."""
    parent = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        parent[int(stat.parent.name)] = int(fields[1])
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, ppid in parent.items() if ppid in tree} - tree
        tree |= more
        grew = bool(more)
    return sorted(tree)


def pss_mb(pid: int) -> float:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0.0
    m = re.search(r"^Pss:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) / 1024 if m else 0.0


def measured_run(path: Path, workers: int, workdir: Path) -> dict:
    """Run child() in a fresh process, sampling the PSS of its process tree; return its report + peak PSS."""
    out = Path(tempfile.mkdtemp(prefix="run-", dir=workdir))
    report = out / "report.json"
    proc = subprocess.Popen([sys.executable, __file__, "--child", str(path), str(out), str(workers), str(report)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak, done = [0.0], threading.Event()

    def sample():
        while not done.wait(0.1):
            peak[0] = max(peak[0], sum(pss_mb(pid) for pid in process_tree(proc.pid)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = proc.communicate()
    done.set()
    sampler.join()
    if proc.returncode != 0:
        sys.exit(f"error: the run on {path} with {workers} processes failed:\n{stderr[-3000:]}")
    result = json.loads(report.read_text())
    result["peak_pss_mb"] = peak[0]
    return result


def text_mb(path: Path) -> float:
    """MB of text in an input: the file itself, or the .json files inside an archive."""
    if not path.name.endswith(".tar.gz"):
        return path.stat().st_size / 1e6
    with tarfile.open(path, "r|gz") as tar:
        return sum(m.size for m in tar if m.isfile() and m.name.endswith(".json")) / 1e6


def cpu_model() -> str:
    if Path("/proc/cpuinfo").exists():
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def main():
    p = argparse.ArgumentParser(description=__doc__.strip().split("\n\n")[0])
    p.add_argument("--file", action="append", type=Path,
                   help="a TinyStoriesV2-style .txt or an all_data-style .tar.gz to measure (repeatable); "
                        "default: generate one of each")
    p.add_argument("--mb", type=float, default=300, help="size of each generated input in MB (default 300)")
    p.add_argument("--workers", type=int, nargs="+", default=[os.cpu_count() or 1],
                   help="numbers of encoding processes to measure (default: all cores)")
    p.add_argument("--workdir", type=Path, default=None, help="where to put generated data and shards "
                   "(default: a temporary directory, deleted at the end)")
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _, _, path, out, workers, report = sys.argv
        result = child(Path(path), Path(out), int(workers))
        Path(report).write_text(json.dumps(result))
        return
    args = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="tinystories-encode-", dir=args.workdir) as tmp:
        workdir = Path(tmp)
        inputs = args.file
        if not inputs:
            seeds = seed_stories()
            n_bytes = int(args.mb * 1e6)
            t = time.perf_counter()
            inputs = [write_plain(workdir / "TinyStoriesV2-GPT4-train.txt", n_bytes, seeds),
                      write_all_data(workdir / "TinyStories_all_data.tar.gz", n_bytes, seeds)]
            print(f"generated {n_bytes / 1e6:.0f} MB of each layout from {len(seeds)} seed stories "
                  f"({'the fixture valid100.txt' if FIXTURE.is_file() else 'the built-in storyteller'}) "
                  f"in {time.perf_counter() - t:.0f} s")
        print(f"machine: {cpu_model()}, {os.cpu_count()} cores; load average before: "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"command: python {' '.join(sys.argv)}")
        sizes = {path: text_mb(path) for path in inputs}
        for path in inputs:
            if path.name.endswith(".tar.gz"):
                print(f"{path.name}: {path.stat().st_size / 1e6:.0f} MB compressed, {sizes[path]:.0f} MB of JSON inside")
        print()
        header = (f"{'input':<32} {'MB':>7} {'procs':>5} {'records':>10} {'convert':>8} {'index':>6} {'vocab':>6} "
                  f"{'encode':>7} {'records/s':>10} {'MB/s':>6} {'peak PSS':>9} {'main':>6} {'worker':>7}  shards")
        print(header)
        print("-" * len(header))
        for path in inputs:
            mb = sizes[path]
            digests = []
            for workers in args.workers:
                r = measured_run(path, workers, workdir)
                total = sum(r["times"].values())
                digests.append(r["shards_sha256"])
                same = "identical" if len(set(digests)) == 1 else "DIFFER"
                t = r["times"]
                print(f"{path.name:<32} {mb:>7.0f} {workers:>5} {r['records']:>10,} "
                      f"{t.get('convert', 0):>7.1f}s {t['index']:>5.1f}s {t['vocab']:>5.1f}s {t['encode']:>6.1f}s "
                      f"{r['records'] / total:>10,.0f} {mb / total:>6.2f} {r['peak_pss_mb']:>7.0f}MB "
                      f"{r['main_peak_mb']:>4.0f}MB {r['worker_peak_mb']:>5.0f}MB  "
                      f"{same if len(digests) > 1 else r['shards_sha256'][:12]}", flush=True)
        print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
