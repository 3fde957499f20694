"""data/tinystories.py against a local HTTP server with small files in the real TinyStories layouts."""

import io
import json
import os
import random
import re
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from data import tinystories
from data.records import DataError, read_records

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(os.environ.get("STORIES_FIXTURES", ROOT.parent / "shared" / "fixtures"))


def plain_stories(n: int) -> list[str]:
    """Real TinyStories text when the shared fixture is there, else synthetic stories of the same shape."""
    path = FIXTURES / "tinystories" / "valid100.txt"
    if path.exists():
        stories = [r["story"] for r in read_records(path)][1:]  # the first is cut mid-story in the fixture
    else:
        from data.storyteller import make_records
        stories = [r["story"] for r in make_records(n, seed=0, split="train")]
    return stories[:n]


def all_data_tar(stories: list[str]) -> bytes:
    """A TinyStories_all_data.tar.gz in miniature: two JSON shards with the dataset's own keys."""
    records = []
    for i, story in enumerate(stories):
        words = re.findall(r"[a-z]{4,}", story.lower())[:3]
        records.append({"story": story, "summary": f"A little friend number {i} has a day out.",
                        "instruction": {"prompt:": "Write a short story (3-5 paragraphs) which only uses very simple "
                                        "words that a 3 year old child would understand. ...",
                                        "words": words, "features": ["Dialogue", "BadEnding"][: i % 3]},
                        "source": "GPT-4"})
    records.append({"story": "  ", "summary": "empty", "instruction": {"prompt:": "", "words": [], "features": []}})
    half = len(records) // 2
    return tar_gz([("data00.json", json.dumps(records[:half])), ("data01.json", json.dumps(records[half:]))])


def tar_gz(members: list[tuple[str, str]]) -> bytes:
    """A .tar.gz of (name, text) files, in the order given."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in members:
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class FileServer(BaseHTTPRequestHandler):
    """GET /<name> with Range support; server.drop_after[name] = n cuts the first answer after n bytes."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        name = self.path.lstrip("/")
        data = self.server.files.get(name)
        if data is None:
            self.send_error(404)
            return
        rng = self.headers.get("Range")
        self.server.ranges.append((name, rng))
        start = int(re.match(r"bytes=(\d+)-", rng).group(1)) if rng else 0
        if start >= len(data):
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(data)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(206 if rng else 200)
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        cut = self.server.drop_after.pop(name, None)
        if cut is not None:  # announce the whole length, send part of it, hang up
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def server(monkeypatch):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), FileServer)
    srv.daemon_threads = True
    stories = plain_stories(40)
    srv.stories = stories
    srv.files = {tinystories.FILES["train"]: ("\n<|endoftext|>\n".join(stories) + "\n").encode(),
                 tinystories.FILES["all_data"]: all_data_tar(stories)}
    srv.ranges, srv.drop_after = [], {}
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}"
    monkeypatch.setenv("TINYSTORIES_URL", url)
    yield srv
    srv.shutdown()
    srv.server_close()


def test_interrupted_download_resumes_with_range(server, tmp_path):
    name = tinystories.FILES["all_data"]
    server.drop_after[name] = 1000
    dest = tinystories.download(f"{tinystories.base_url()}/{name}", tmp_path / name, backoff=0, chunk_bytes=256)
    assert dest.read_bytes() == server.files[name]
    # the second request asks only for what the first did not deliver (less the chunk being read when it dropped)
    assert len(server.ranges) == 2 and server.ranges[0] == (name, None)
    assert server.ranges[1] in [(name, f"bytes={n}-") for n in range(1000 - 256, 1001)]
    assert not (tmp_path / (name + ".part")).exists()

    # a .part left by a killed process is resumed too; a finished file is not fetched again
    name = tinystories.FILES["train"]
    (tmp_path / (name + ".part")).write_bytes(server.files[name][:777])
    tinystories.download(f"{tinystories.base_url()}/{name}", tmp_path / name, backoff=0)
    assert (tmp_path / name).read_bytes() == server.files[name]
    assert server.ranges[-1] == (name, "bytes=777-")
    n = len(server.ranges)
    tinystories.download(f"{tinystories.base_url()}/{name}", tmp_path / name, backoff=0)
    assert len(server.ranges) == n


def test_short_download_fails_and_keeps_what_it_got(server, tmp_path):
    name = tinystories.FILES["train"]
    server.drop_after[name] = 500
    with pytest.raises(DataError, match="rerun to resume"):
        tinystories.download(f"{tinystories.base_url()}/{name}", tmp_path / name, attempts=1, backoff=0,
                              chunk_bytes=100)
    assert not (tmp_path / name).exists()  # a short file never takes the final name
    assert (tmp_path / (name + ".part")).stat().st_size == 500
    with pytest.raises(DataError, match="HTTP 404"):
        tinystories.download(f"{tinystories.base_url()}/missing.txt", tmp_path / "missing.txt", backoff=0)


def test_conversion_to_records(server, tmp_path):
    path = tinystories.prepare(tmp_path, instruct=False, log=lambda *a: None)
    assert [r["story"] for r in read_records(path)] == server.stories
    assert all("prompt" not in r for r in read_records(path))

    records = read_records(tinystories.prepare(tmp_path, instruct=True, log=lambda *a: None))
    assert [r["story"] for r in records] == server.stories  # the blank story is dropped, order kept
    by_summary = [r for r in records if r["prompt"].startswith("Write a story about a little friend number")]
    by_words = [r for r in records if r["prompt"].startswith("Write a story that uses the word")]
    assert by_summary and by_words and len(by_summary) + len(by_words) == len(records)
    assert all(r["prompt"].endswith("has a day out.") for r in by_summary)
    for r in by_words:
        assert all(f'"{w}"' in r["prompt"] for w in re.findall(r'"(\w+)"', r["prompt"]))
    assert any(r["prompt"].endswith(", contains dialogue and has a bad ending.") for r in by_words)


def test_instruction_prompt_shapes():
    rec = {"story": "x", "summary": "", "instruction": {"prompt:": "...", "words": ["ball", "jump", "happy"],
                                                       "features": ["Dialogue", "Twist"]}}
    assert tinystories.instruction_prompt(rec) == \
        'Write a story that uses the words "ball", "jump" and "happy", contains dialogue and has a plot twist.'
    rec = {"story": "x", "summary": "The cat found a hat", "instruction": {"words": []}}
    assert tinystories.instruction_prompt(rec) == "Write a story about the cat found a hat."
    assert tinystories.instruction_prompt({"story": "x", "instruction": {"words": ["sun"]}}) == \
        'Write a story that uses the word "sun".'
    assert tinystories.instruction_prompt({"story": "x"}) is None


def test_train_dataset_tinystories_end_to_end(server, tmp_path):
    from test_train import TINY, run  # tests/ is on sys.path under pytest
    out = run(["train.py", *TINY, "--instruct", "--dataset", "tinystories", "--data-dir", str(tmp_path / "data"),
               "--out-dir", str(tmp_path / "out"), "--max-iters", "2", "--eval-iters", "1"],
              env_extra={"TINYSTORIES_URL": os.environ["TINYSTORIES_URL"]})
    assert (tmp_path / "out" / "ckpt.pt").exists(), out.stdout + out.stderr
    assert (tmp_path / "data" / "tinystories" / tinystories.INSTRUCT_RECORDS).exists()


# ----------------------------------------------------------------------------------------------
# converting all_data at full scale: streaming, in worker processes, in name order


def all_data_records(n: int, tag: str) -> list[dict]:
    """all_data records whose text trips a careless JSON splitter: brackets, commas and escaped quotes
    inside strings, and characters outside ASCII; with some random letters, so that the archive compresses
    about as much as real text does (gzip's expansion of one read bounds tarfile's buffer)."""
    rng = random.Random(tag)
    return [{"story": f'Tom said, "[{tag} {i}], {{ok}}!" and ran 😀 — é.\n\n{rng.randbytes(48).hex()}. The end.',
             "instruction": {"prompt:": "Write a short story ...", "words": ["ran", "end"][: i % 3],
                             "features": ["Dialogue"] * (i % 2)},
             "summary": f"Tom runs {i}." if i % 4 else "", "source": "GPT-4"} for i in range(n)]


def converted(tar_path: Path, out: Path, workers: int) -> tuple[int, bytes]:
    count = tinystories.convert_all_data(tar_path, out, workers=workers)
    return count, out.read_bytes()


def test_all_data_converts_file_by_file_in_name_order_with_any_number_of_workers(tmp_path, monkeypatch):
    monkeypatch.setattr(tinystories, "BLOCK", 64)  # items cut across blocks many times
    members = {"data02.json": json.dumps(all_data_records(40, "c"), indent=2), "data00.json": " [ ] ",
               "data10.json": json.dumps(all_data_records(30, "b"), ensure_ascii=False),
               "data01.json": json.dumps(all_data_records(50, "a"))}
    archive = tmp_path / "all.tar.gz"
    archive.write_bytes(tar_gz([("README.txt", "not records"), *members.items()]))  # the archive out of order
    # the reference: every file parsed whole, in name order
    expected = [r for name in sorted(members) for obj in json.loads(members[name])
                if (r := tinystories.instruction_record(obj))]
    assert len(expected) == 120 - 12  # a record with neither words nor summary (i % 12 == 0) has no prompt

    one = converted(archive, tmp_path / "one.jsonl", workers=1)
    two = converted(archive, tmp_path / "two.jsonl", workers=2)
    assert one == two
    assert one[0] == len(expected) and [json.loads(line) for line in one[1].decode().splitlines()] == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all.tar.gz", "one.jsonl", "two.jsonl"]  # no leftovers


def test_all_data_conversion_memory_does_not_grow_with_the_archive(tmp_path, monkeypatch):
    """Python's peak allocation while converting 3 files of 100 records and 3 of 1,000 (json.load would
    hold each file whole, and its records as objects): the same, to within a few blocks."""
    import tracemalloc
    monkeypatch.setattr(tinystories, "BLOCK", 4096)

    def peak(n: int) -> tuple[int, int]:
        archive = tmp_path / f"all-{n}.tar.gz"
        archive.write_bytes(tar_gz([(f"data{i:02d}.json", json.dumps(all_data_records(n, str(i)), indent=1))
                                    for i in range(3)]))
        tracemalloc.start()
        try:
            tinystories.convert_all_data(archive, tmp_path / f"out-{n}.jsonl", workers=1)
            return tracemalloc.get_traced_memory()[1], (tmp_path / f"out-{n}.jsonl").stat().st_size
        finally:
            tracemalloc.stop()

    (small, small_out), (big, big_out) = peak(100), peak(1000)
    assert big - small < 8 * 4096 < (big_out - small_out) // 10, (small, big, big_out - small_out)


@pytest.mark.parametrize("members, message", [
    ([("data00.json", "[]"), ("data01.json", '[{"story": "a"} {"story": "b"}]')],
     r"all\.tar\.gz:data01\.json: not JSON \(expected ',' or '\]' after an item, got '\{'\)"),
    ([("data00.json", '{"story": "a"}')], r"all\.tar\.gz:data00\.json: not a JSON list"),
    ([("data00.json", '[{"story": "a"}] []')], r"data00\.json: not JSON \(more after the list's closing"),
    ([("readme.txt", "hi")], r"all\.tar\.gz: no \.json files inside"),
])
def test_a_broken_all_data_archive_is_one_line(tmp_path, members, message):
    archive = tmp_path / "all.tar.gz"
    archive.write_bytes(tar_gz(members))
    for workers in (1, 2):
        with pytest.raises(DataError, match=message):
            tinystories.convert_all_data(archive, tmp_path / "out.jsonl", workers=workers)
    archive.write_bytes(tar_gz([("data00.json", json.dumps(all_data_records(500, "x")))])[:3000])  # cut short
    with pytest.raises(DataError, match=r"all\.tar\.gz: not a readable \.tar\.gz .*download it again"):
        tinystories.convert_all_data(archive, tmp_path / "out.jsonl", workers=1)
    assert [p.name for p in tmp_path.iterdir()] == ["all.tar.gz"]  # no output, no temporary files


# ----------------------------------------------------------------------------------------------
# opt-in: a few hundred MB, through benchmarks/tinystories_encode.py's measured runs

BIG_MB = float(os.environ.get("STORIES_BIG_DATA_MB", "0"))


@pytest.mark.skipif(not BIG_MB, reason="opt-in, minutes: set STORIES_BIG_DATA_MB=400 to convert and encode "
                                       "400 MB of generated TinyStories of each layout and bound its memory")
@pytest.mark.parametrize("layout", ["train", "all_data"])
def test_full_scale_memory_is_bounded_and_does_not_grow(tmp_path, layout):
    """Each layout generated at BIG_MB and at half of it, then taken through conversion, vocabulary and
    encoding on all cores in a fresh process: the peak memory of all its processes together (PSS) stays
    under 1.5 GB and grows by less than 100 MB from the small input to the big one. (At 400 MB the half
    still has more than the 100,000 stories the vocabulary is trained on, a sample that is the same size
    for any file above that.)"""
    from benchmarks.tinystories_encode import measured_run, seed_stories, write_all_data, write_plain
    write = write_plain if layout == "train" else write_all_data
    peaks = []
    for mb in (BIG_MB / 2, BIG_MB):
        path = write(tmp_path / f"{mb:.0f}-{tinystories.FILES[layout]}", int(mb * 1e6), seed_stories())
        run = measured_run(path, os.cpu_count() or 1, tmp_path)
        assert run["records"] > mb * 1e6 / 2000 and run["tokens"] > run["records"] * 100
        peaks.append(run["peak_pss_mb"])
        path.unlink()
    assert peaks[1] < 1500 and peaks[1] - peaks[0] < 100, peaks
