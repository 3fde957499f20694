"""data/tinystories.py against a local HTTP server with small files in the real TinyStories layouts."""

import io
import json
import os
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
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        half = len(records) // 2
        for name, part in (("data00.json", records[:half]), ("data01.json", records[half:])):
            data = json.dumps(part).encode()
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
