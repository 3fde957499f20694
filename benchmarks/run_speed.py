"""
Generation speed of run.c on random-weight models of llama2.c's two reference shapes, against the
machine's memory bandwidth.

    python benchmarks/run_speed.py                       # builds ./run with `make`, then measures
    python benchmarks/run_speed.py --runs 5 --shapes 110M --workdir /tmp/bench   # keep the models
    python benchmarks/run_speed.py --llama2c ../llama2.c/run                      # time llama2.c's too

Each token reads every weight once, so a float32 model cannot run faster than
bandwidth / (bytes of weights read per token): the "bound" column. Bandwidth is measured by a small OpenMP
C program (compiled here with -O3 -march=native) that sums a 512 MiB buffer on every core, best of 8
passes, right before and right after each shape's runs; the bound uses the better of the two, since on a
shared machine bandwidth drifts. tok/s is what `run` prints on stderr for 256 positions (-n 256, greedy),
which like llama2.c's leaves out the first token; the table shows the median of --runs runs and the best.
"other CPU" is the CPU that other processes used during the runs, in cores: well above 0 means the numbers
were taken on a busy machine.

Reference points from the issue, on our 2-core CI machine: llama2.c's run (-Ofast -march=native -fopenmp)
reaches about 148 tok/s (15M) and 48 tok/s (110M); memory read bandwidth is about 30 GB/s.
"""

import argparse
import os
import platform
import re
import resource
import statistics
import time
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from formats.llama2c import write_v0 as write_llama2c_v0  # noqa: E402
from formats.loader import load_model  # noqa: E402
from formats.model_bin import write as write_model_bin  # noqa: E402
from model import ModelArgs, Transformer  # noqa: E402

# llama2.c's stories15M and stories110M shapes
SHAPES = {
    "15M": ModelArgs(dim=288, n_layers=6, n_heads=6, vocab_size=32000, max_seq_len=256),
    "110M": ModelArgs(dim=768, n_layers=12, n_heads=12, vocab_size=32000, max_seq_len=1024),
}
LLAMA2C_TOK_S = {"15M": 148, "110M": 48}

BANDWIDTH_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <omp.h>
/* Read bandwidth: sum a buffer far larger than the caches on every core, in 2 MiB pages as run uses. */
int main(void) {
    size_t n = (size_t)512 << 20 >> 2;
    float *a = NULL;
    if (posix_memalign((void **)&a, 1 << 21, n * sizeof(float))) { fprintf(stderr, "out of memory\n"); return 1; }
#ifdef MADV_HUGEPAGE
    madvise(a, n * sizeof(float), MADV_HUGEPAGE);
#endif
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) a[i] = 1.0f;  /* each thread touches the pages it will read */
    double best = 0;
    float total = 0;
    for (int rep = 0; rep < 8; rep++) {
        double t = omp_get_wtime();
        #pragma omp parallel for schedule(static) reduction(+:total)
        for (size_t i = 0; i < n; i += 1024) {
            float s = 0;
            #pragma omp simd reduction(+:s)
            for (int k = 0; k < 1024; k++) s += a[i + k];
            total += s;
        }
        double gbs = n * sizeof(float) / (omp_get_wtime() - t) / 1e9;
        if (gbs > best) best = gbs;
    }
    printf("%.2f %g\n", best, total);
    return 0;
}
"""


def weight_bytes_per_token(args: ModelArgs) -> int:
    """Bytes of float32 weights one token reads: every matrix, the classifier, and one embedding row."""
    kv_dim = args.n_kv_heads * args.head_dim
    per_layer = args.dim * (args.dim + 2 * kv_dim) + args.dim * args.dim + 3 * args.dim * args.hidden_dim + 2 * args.dim
    classifier = args.vocab_size * args.dim
    return 4 * (args.n_layers * per_layer + classifier + 2 * args.dim)


def build_bandwidth_probe(workdir: Path) -> Path:
    src, exe = workdir / "bandwidth.c", workdir / "bandwidth"
    src.write_text(BANDWIDTH_C)
    subprocess.run(["cc", "-O3", "-march=native", "-fopenmp", "-o", str(exe), str(src)], check=True)
    return exe


def busy_seconds() -> float:
    """CPU seconds all processes on the machine have used (Linux /proc/stat), to spot contention."""
    fields = [int(v) for v in open("/proc/stat").readline().split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def timed(command: list[str]) -> tuple[str, float]:
    """Run command; return its stderr and the CPU (in cores) other processes used meanwhile."""
    busy, mine, start = busy_seconds(), resource.getrusage(resource.RUSAGE_CHILDREN), time.time()
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    mine = (after.ru_utime + after.ru_stime) - (mine.ru_utime + mine.ru_stime)
    return result.stdout + result.stderr, max(0.0, (busy_seconds() - busy - mine) / (time.time() - start))


def write_tokenizer(path: Path, vocab_size: int):
    """A llama2.c tokenizer.bin with vocab_size pieces: the specials, the 256 byte pieces, filler words."""
    pieces = ["<unk>", "\n<s>\n", "\n</s>\n"] + [f"<0x{b:02X}>" for b in range(256)]
    pieces += [f" w{i}" for i in range(vocab_size - len(pieces))]
    with open(path, "wb") as f:
        f.write(struct.pack("<i", max(len(p) for p in pieces)))
        for i, p in enumerate(pieces):
            f.write(struct.pack("<fi", -float(i), len(p)) + p.encode())


def write_random_model(args: ModelArgs, path: Path):
    torch.manual_seed(0)
    model = Transformer(args)
    with torch.no_grad():  # BOS and EOS score 0 against any state, so greedy decoding never stops early
        model.tok_embeddings.weight[1:3] = 0
    write_model_bin(model, path, mode="generate")


def run_speed(binary: Path, model: Path, tokenizer: Path) -> tuple[float, float]:
    output, other = timed([str(binary), str(model), "-z", str(tokenizer), "-m", "generate", "-t", "0", "-n", "256"])
    return float(re.search(r"achieved tok/s: ([\d.]+)", output).group(1)), other


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=None, help="the run binary to time (default: build ./run with make)")
    parser.add_argument("--llama2c", default=None, help="llama2.c's run binary, to time on version-0 copies of the models")
    parser.add_argument("--shapes", nargs="+", choices=list(SHAPES), default=list(SHAPES))
    parser.add_argument("--runs", type=int, default=3, help="runs per shape and binary (default 3)")
    parser.add_argument("--workdir", default=None, help="where to keep the random models (default: a temp dir)")
    args = parser.parse_args()

    binary = Path(args.binary).resolve() if args.binary else ROOT / "run"
    if not args.binary:
        subprocess.run(["make", "-s", "run"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.workdir or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        probe = build_bandwidth_probe(workdir)
        tokenizer = workdir / "tok32000.bin"
        write_tokenizer(tokenizer, 32000)
        cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                   platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
        print(f"machine: {cpu}, {os.cpu_count()} cores, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; "
              f"binary: {binary}\n")
        print("| shape | weights read per token | bandwidth | bound | run tok/s (median, best) | of bound "
              "| llama2.c tok/s | run / llama2.c | other CPU |")
        print("|---|---|---|---|---|---|---|---|---|")
        for name in args.shapes:
            shape = SHAPES[name]
            model_path = workdir / f"random{name}.bin"
            if not model_path.exists():
                write_random_model(shape, model_path)
            bandwidths = [float(timed([str(probe)])[0].split()[0])]
            speeds, others, theirs = [], [], []
            for _ in range(args.runs):  # alternate the binaries so drifting bandwidth affects both alike
                tok_s, other = run_speed(binary, model_path, tokenizer)
                speeds.append(tok_s), others.append(other)
                if args.llama2c:
                    v0_path = workdir / f"random{name}-v0.bin"
                    if not v0_path.exists():
                        write_llama2c_v0(load_model(model_path)[0], v0_path)
                    tok_s, other = run_speed(Path(args.llama2c).resolve(), v0_path, tokenizer)
                    theirs.append(tok_s), others.append(other)
            bandwidths.append(float(timed([str(probe)])[0].split()[0]))
            bandwidth = max(bandwidths)
            median, best = statistics.median(speeds), max(speeds)
            bytes_per_token = weight_bytes_per_token(shape)
            bound = bandwidth * 1e9 / bytes_per_token
            reference = statistics.median(theirs) if theirs else LLAMA2C_TOK_S[name]
            source = "measured" if theirs else "issue"
            print(f"| {name} | {bytes_per_token / 1e6:.0f} MB | {bandwidth:.1f} GB/s | {bound:.0f} tok/s "
                  f"| {median:.1f}, {best:.1f} | {100 * median / bound:.0f}% | {reference:.0f} ({source}) "
                  f"| {median / reference:.2f}x | {max(others):.2f} |", flush=True)


if __name__ == "__main__":
    main()
