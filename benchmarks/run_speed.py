"""
Generation speed of run.c on random-weight models of llama2.c's two reference shapes, against the
machine's memory bandwidth.

    python benchmarks/run_speed.py                  # builds ./run with `make`, then measures
    python benchmarks/run_speed.py --binary ./run --runs 5 --shapes 110M

Each token reads every weight once, so a float32 model cannot run faster than
bandwidth / (bytes of weights read per token): that is the "bound" column. Bandwidth is measured by a small
OpenMP C program that sums a 512 MiB buffer with all cores (compiled here with -O3 -march=native), best of
several passes. tok/s is what `run` prints on stderr for 256 positions (-n 256, greedy), which like
llama2.c's leaves out the first token; the table shows the median of --runs runs and the best.

Reference points from the issue, on our 2-core CI machine: llama2.c's run (-Ofast -march=native -fopenmp)
reaches about 148 tok/s (15M) and 48 tok/s (110M); memory read bandwidth is about 30 GB/s.
"""

import argparse
import os
import platform
import re
import statistics
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from export import write_model_bin  # noqa: E402
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
#include <omp.h>
/* Read bandwidth: sum a buffer far larger than the caches with every core, 16 partial sums per thread. */
int main(void) {
    size_t n = (size_t)512 << 20 >> 2;
    float *a = malloc(n * sizeof(float));
    if (!a) { fprintf(stderr, "out of memory\n"); return 1; }
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) a[i] = 1.0f;  /* each thread touches the pages it will read */
    double best = 0;
    float total = 0;
    for (int rep = 0; rep < 8; rep++) {
        double t = omp_get_wtime();
        #pragma omp parallel for schedule(static) reduction(+:total)
        for (size_t i = 0; i < n; i += 16) {
            float s[16];
            for (int k = 0; k < 16; k++) s[k] = a[i + k];
            float sum = 0;
            for (int k = 0; k < 16; k++) sum += s[k];
            total += sum;
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


def measure_bandwidth(workdir: Path) -> float:
    src, exe = workdir / "bandwidth.c", workdir / "bandwidth"
    src.write_text(BANDWIDTH_C)
    subprocess.run(["cc", "-O3", "-march=native", "-fopenmp", "-o", str(exe), str(src)], check=True)
    return float(subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split()[0])


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


def run_speed(binary: Path, model: Path, tokenizer: Path) -> float:
    result = subprocess.run([str(binary), str(model), "-z", str(tokenizer), "-m", "generate", "-t", "0", "-n", "256"],
                            capture_output=True, text=True, check=True)
    return float(re.search(r"achieved tok/s: ([\d.]+)", result.stderr).group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=None, help="the run binary to time (default: build ./run with make)")
    parser.add_argument("--shapes", nargs="+", choices=list(SHAPES), default=list(SHAPES))
    parser.add_argument("--runs", type=int, default=3, help="runs per shape (default 3)")
    parser.add_argument("--workdir", default=None, help="where to keep the random models (default: a temp dir)")
    args = parser.parse_args()

    binary = Path(args.binary) if args.binary else ROOT / "run"
    if not args.binary:
        subprocess.run(["make", "-s", "run"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.workdir or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        bandwidth = measure_bandwidth(workdir)
        tokenizer = workdir / "tok32000.bin"
        write_tokenizer(tokenizer, 32000)
        cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                   platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
        print(f"machine: {cpu}, {os.cpu_count()} cores, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; "
              f"binary: {binary}")
        print(f"memory read bandwidth: {bandwidth:.1f} GB/s\n")
        print(f"| shape | weights read per token | bound (tok/s) | run tok/s (median) | best | % of bound "
              f"| llama2.c tok/s | vs llama2.c |")
        print("|---|---|---|---|---|---|---|---|")
        for name in args.shapes:
            shape = SHAPES[name]
            model_path = workdir / f"random{name}.bin"
            if not model_path.exists():
                write_random_model(shape, model_path)
            speeds = [run_speed(binary, model_path, tokenizer) for _ in range(args.runs)]
            median, best = statistics.median(speeds), max(speeds)
            bytes_per_token = weight_bytes_per_token(shape)
            bound = bandwidth * 1e9 / bytes_per_token
            print(f"| {name} | {bytes_per_token / 1e6:.0f} MB | {bound:.0f} | {median:.1f} | {best:.1f} "
                  f"| {100 * median / bound:.0f}% | {LLAMA2C_TOK_S[name]} | {median / LLAMA2C_TOK_S[name]:.2f}x |")


if __name__ == "__main__":
    main()
