"""
Generation speed of run.c, float32 and quantized, beside llama.cpp on the same weights, against the machine's
memory bandwidth: one table, every row measured in this one run.

    python benchmarks/run_speed.py                                  # builds ./run with `make`, then measures
    python benchmarks/run_speed.py --llama-bin /work/llama/build/bin --runs 5 --workdir /tmp/bench
    python benchmarks/run_speed.py --shapes 110M --llama2c ../llama2.c/run     # llama2.c's run too

Models: random weights in llama2.c's 15M and 110M shapes (tied classifier, vocab 32000), written in our
format as float32 and as each quantized version (export.py --quant; the 4-bit files keep their classifier
in Q8_0 unless the row says otherwise). llama.cpp's files are made from the very same weights by its own
tools: llama-convert-llama2c-to-ggml on a llama2.c version 0 copy (with the Llama 2 tokenizer.bin from the
shared fixtures), then llama-quantize to Q8_0 and Q4_0 with its default rules (which give the 110M
classifier Q6_K and the 15M one Q8_0, its rows not being a multiple of 256). llama.cpp rows are skipped with
a note when its tools are not found (--llama-bin, or on PATH).

Timing: `run -t 0 -n 256` (greedy, 256 positions; tok/s as run prints it, leaving out the first token, like
llama2.c), and `llama-bench -p 0 -n 256 -r 1` (generation of 256 tokens), both with --threads threads. The
runs alternate row by row, --runs times, so a drifting machine affects every row alike; the table shows
the median and the best.

Bandwidth bound: each generated token reads every weight matrix once (the embedding only one row), so
tok/s cannot exceed bandwidth / (bytes read per token). Bandwidth is measured by a small OpenMP C program
(compiled here with -O3 -march=native) that sums a 512 MiB buffer on --threads threads, best of 8 passes,
before and after each shape's runs; the bound uses the better. "of bound" = tok/s x bytes per token /
bandwidth. "other CPU" is what other processes used during the runs, in cores: well above 0 means the
numbers come from a busy machine.
"""

import argparse
import json
import math
import os
import platform
import re
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from formats import model_bin, quants  # noqa: E402
from formats.llama2c import write_v0 as write_llama2c_v0  # noqa: E402
from model import ModelArgs, Transformer  # noqa: E402

FIXTURES = Path(os.environ.get("STORIES_FIXTURES", ROOT.parent / "shared" / "fixtures"))
LLAMA2_TOKENIZER = FIXTURES / "llama2-32k" / "tokenizer.bin"

# llama2.c's stories15M and stories110M shapes
SHAPES = {
    "15M": ModelArgs(dim=288, n_layers=6, n_heads=6, vocab_size=32000, max_seq_len=256),
    "110M": ModelArgs(dim=768, n_layers=12, n_heads=12, vocab_size=32000, max_seq_len=1024),
}
# our rows: (label, --quant, type overrides)
OURS = [("f32", None, None), ("q8_0", "q8_0", None), ("q4_0", "q4_0", None), ("nf4", "nf4", None),
        ("q4_0, classifier q4_0", "q4_0", {"classifier": "q4_0"})]
LLAMA_CPP = ["f32", "q8_0", "q4_0"]  # llama-quantize's names: Q8_0, Q4_0

BANDWIDTH_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <omp.h>
/* Read bandwidth: sum a buffer far larger than the caches on every thread, in 2 MiB pages as run uses. */
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


def build_bandwidth_probe(workdir: Path) -> Path:
    src, exe = workdir / "bandwidth.c", workdir / "bandwidth"
    src.write_text(BANDWIDTH_C)
    subprocess.run(["cc", "-O3", "-march=native", "-fopenmp", "-o", str(exe), str(src)], check=True)
    return exe


def busy_seconds() -> float:
    """CPU seconds all processes on the machine have used (Linux /proc/stat), to spot contention."""
    fields = [int(v) for v in open("/proc/stat").readline().split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def timed(command: list[str], env: dict | None = None) -> tuple[str, float]:
    """Run command; return its stdout + stderr and the CPU (in cores) other processes used meanwhile."""
    busy, mine, start = busy_seconds(), resource.getrusage(resource.RUSAGE_CHILDREN), time.time()
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode:
        sys.exit(f"error: {' '.join(command)} failed:\n{result.stderr[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    mine = (after.ru_utime + after.ru_stime) - (mine.ru_utime + mine.ru_stime)
    return result.stdout + result.stderr, max(0.0, (busy_seconds() - busy - mine) / (time.time() - start))


def write_filler_tokenizer(path: Path, vocab_size: int):
    """A llama2.c tokenizer.bin with vocab_size pieces, for when the Llama 2 one is not at hand."""
    pieces = ["<unk>", "\n<s>\n", "\n</s>\n"] + [f"<0x{b:02X}>" for b in range(256)]
    pieces += [f" w{i}" for i in range(vocab_size - len(pieces))]
    with open(path, "wb") as f:
        f.write(struct.pack("<i", max(len(p) for p in pieces)))
        for i, p in enumerate(pieces):
            f.write(struct.pack("<fi", -float(i), len(p)) + p.encode())


def random_model(args: ModelArgs) -> Transformer:
    torch.manual_seed(0)
    model = Transformer(args)
    with torch.no_grad():  # BOS and EOS score 0 against any state, so greedy decoding never stops early
        model.tok_embeddings.weight[1:3] = 0
    return model


def our_bytes_per_token(args: ModelArgs, quant: str | None, overrides: dict | None) -> int:
    """Bytes of weights one token reads in our format: every matrix and norm, one embedding row."""
    types = model_bin.quant_types(args, quant, **(overrides or {})) if quant else dict.fromkeys(model_bin.KINDS, "f32")
    total = 0
    for name, shape in model_bin.layout_ours(args):
        kind = model_bin.kind_of(name) if len(shape) == 2 else None
        size = quants.nbytes(shape, types[kind]) if kind and types[kind] != "f32" else 4 * math.prod(shape)
        if kind == "embedding" and not args.tie_embeddings:
            size //= shape[0]  # one row; a tied embedding is read whole as the classifier
        total += size
    return total


def gguf_bytes_per_token(path: Path) -> int:
    """The same for a GGUF file: every tensor, one row of token_embd (llama.cpp's classifier is output.weight)."""
    from gguf import GGUFReader  # noqa: PLC0415 (only the llama.cpp rows need it)

    total = 0
    for tensor in GGUFReader(path).tensors:
        rows = int(tensor.shape[-1]) if tensor.name == "token_embd.weight" and len(tensor.shape) == 2 else 1
        total += int(tensor.n_bytes) // rows
    return total


def describe_cpu() -> str:
    """The CPU's name, family/model and the instruction sets the kernels choose between (Linux)."""
    try:
        info = dict(line.split(":", 1) for line in open("/proc/cpuinfo").read().split("\n\n")[0].splitlines() if ":" in line)
    except OSError:
        return platform.processor()
    info = {k.strip(): v.strip() for k, v in info.items()}
    flags = set(info.get("flags", "").split())
    isa = [f for f in ("avx2", "avx512bw", "avx512_vnni", "amx_int8") if f in flags]
    return (f"{info.get('model name', '?')} (family {info.get('cpu family', '?')}, model {info.get('model', '?')}; "
            f"{' '.join(isa) or 'no AVX2'})")


def find_llama_tools(directory: str | None) -> dict[str, Path] | None:
    names = ["llama-bench", "llama-quantize", "llama-convert-llama2c-to-ggml"]
    found = {}
    for name in names:
        path = Path(directory) / name if directory else shutil.which(name)
        if path is None or not Path(path).is_file():
            return None
        found[name] = Path(path)
    return found


def prepare_llama_cpp(tools: dict[str, Path], model: Transformer, name: str, tokenizer: Path, workdir: Path) -> dict:
    """GGUF files for the random model made by llama.cpp's own tools: {type: path}."""
    v0 = workdir / f"random{name}-v0.bin"
    files = {t: workdir / f"random{name}-{t}.gguf" for t in LLAMA_CPP}
    if not files["f32"].exists():
        write_llama2c_v0(model, v0)
        subprocess.run([str(tools["llama-convert-llama2c-to-ggml"]), "--copy-vocab-from-model", str(tokenizer),
                        "--llama2c-model", str(v0), "--llama2c-output-model", str(files["f32"])],
                       check=True, capture_output=True)
        v0.unlink()
    for t in ("q8_0", "q4_0"):
        if not files[t].exists():
            subprocess.run([str(tools["llama-quantize"]), str(files["f32"]), str(files[t]), t.upper()], check=True,
                           capture_output=True)
    return files


def run_tok_s(binary: Path, model: Path, tokenizer: Path, threads: int) -> tuple[float, float]:
    out, other = timed([str(binary), str(model), "-z", str(tokenizer), "-m", "generate", "-t", "0", "-n", "256"],
                       env=dict(os.environ, OMP_NUM_THREADS=str(threads)))
    return float(re.search(r"achieved tok/s: ([\d.]+)", out).group(1)), other


def llama_bench_tok_s(bench: Path, model: Path, threads: int) -> tuple[float, float]:
    out, other = timed([str(bench), "-m", str(model), "-t", str(threads), "-p", "0", "-n", "256", "-r", "1",
                        "-o", "json"])
    return float(json.loads(out[out.index("["):out.rindex("]") + 1])[0]["avg_ts"]), other


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=None, help="the run binary to time (default: build ./run with make)")
    parser.add_argument("--llama-bin", default=None, help="directory of llama.cpp's llama-bench, llama-quantize and "
                        "llama-convert-llama2c-to-ggml (default: PATH)")
    parser.add_argument("--llama2c", default=None, help="llama2.c's run binary, to time on version-0 copies too")
    parser.add_argument("--shapes", nargs="+", choices=list(SHAPES), default=list(SHAPES))
    parser.add_argument("--runs", type=int, default=3, help="runs of every row, alternating (default 3)")
    parser.add_argument("--threads", type=int, default=2, help="threads for every runtime (default 2)")
    parser.add_argument("--workdir", default=None, help="where to keep the models (default: a temp dir)")
    args = parser.parse_args()

    binary = Path(args.binary).resolve() if args.binary else ROOT / "run"
    if not args.binary:
        subprocess.run(["make", "-s", "run"], cwd=ROOT, check=True)
    tools = find_llama_tools(args.llama_bin)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.workdir or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        probe = build_bandwidth_probe(workdir)
        tokenizer = LLAMA2_TOKENIZER
        if not tokenizer.is_file():
            tokenizer = workdir / "tok32000.bin"
            write_filler_tokenizer(tokenizer, 32000)
        cpu = describe_cpu()
        print(f"command: {' '.join(sys.argv)}")
        print(f"machine: {cpu}, {os.cpu_count()} cores; load average before: {os.getloadavg()[0]:.2f}; "
              f"threads: {args.threads}; binary: {binary}")
        if tools is None:
            print("llama.cpp: tools not found (--llama-bin or PATH): its rows are skipped")
        elif not LLAMA2_TOKENIZER.is_file():
            print(f"llama.cpp: {LLAMA2_TOKENIZER} not found, needed to convert the models: its rows are skipped")
            tools = None
        print()
        print("| shape | runtime | weights | MB read per token | tok/s (median, best) | of bandwidth bound "
              "| x our f32 | x llama.cpp, same bits | other CPU |")
        print("|---|---|---|---|---|---|---|---|---|")
        verdicts, busiest = [], 0.0
        for name in args.shapes:
            shape = SHAPES[name]
            model = random_model(shape)
            rows = []  # (runtime, label, bytes per token, command to time)
            for label, quant, overrides in OURS:
                path = workdir / f"random{name}-{label.replace(', ', '-').replace(' ', '')}.bin"
                if not path.exists():
                    model_bin.write(model, path, mode="generate", quant=quant, types=overrides)
                rows.append(("run", label, our_bytes_per_token(shape, quant, overrides),
                             lambda p=path: run_tok_s(binary, p, tokenizer, args.threads)))
            if args.llama2c:
                v0 = workdir / f"random{name}-llama2c.bin"
                if not v0.exists():
                    write_llama2c_v0(model, v0)
                rows.append(("llama2.c run", "f32", our_bytes_per_token(shape, None, None),
                             lambda p=v0: run_tok_s(Path(args.llama2c).resolve(), p, tokenizer, args.threads)))
            if tools:
                for t, path in prepare_llama_cpp(tools, model, name, tokenizer, workdir).items():
                    rows.append(("llama.cpp", t, gguf_bytes_per_token(path),
                                 lambda p=path: llama_bench_tok_s(tools["llama-bench"], p, args.threads)))
            bandwidths = [float(timed([str(probe)], env=dict(os.environ, OMP_NUM_THREADS=str(args.threads)))[0].split()[0])]
            speeds, others = {i: [] for i in range(len(rows))}, []
            for _ in range(args.runs):
                for i, row in enumerate(rows):
                    tok_s, other = row[3]()
                    speeds[i].append(tok_s), others.append(other)
            bandwidths.append(float(timed([str(probe)], env=dict(os.environ, OMP_NUM_THREADS=str(args.threads)))[0].split()[0]))
            bandwidth, busiest = max(bandwidths), max(busiest, *others)
            medians = {(row[0], row[1]): statistics.median(speeds[i]) for i, row in enumerate(rows)}
            ours_f32 = medians[("run", "f32")]
            for i, (runtime, label, size, _) in enumerate(rows):
                median = medians[(runtime, label)]
                same = {"q8_0": "q8_0", "f32": "f32"}.get(label, "q4_0")
                theirs = medians.get(("llama.cpp", same)) if runtime == "run" else None
                print(f"| {name} | {runtime} | {label} | {size / 1e6:.1f} | {median:.1f}, {max(speeds[i]):.1f} "
                      f"| {100 * median * size / (bandwidth * 1e9):.0f}% of {bandwidth:.1f} GB/s "
                      f"| {median / ours_f32:.2f} | {f'{median / theirs:.2f}' if theirs else '-'} "
                      f"| {max(others):.2f} |", flush=True)
            four_bit = max(medians[("run", label)] for label in ("q4_0", "nf4"))
            if ("llama.cpp", "q8_0") in medians:
                verdicts.append(f"{name}: our q8_0 / llama.cpp q8_0 = "
                                f"{medians[('run', 'q8_0')] / medians[('llama.cpp', 'q8_0')]:.2f} (goal >= 1)")
                verdicts.append(f"{name}: our best 4-bit with the default q8_0 classifier / llama.cpp q4_0 = "
                                f"{four_bit / medians[('llama.cpp', 'q4_0')]:.2f} (goal >= 1.2)")
            if name == "110M":
                verdicts.append(f"{name}: our best 4-bit / our f32 = {four_bit / ours_f32:.2f} (goal >= 5)")
        print(f"\nload average after: {os.getloadavg()[0]:.2f}")
        if busiest > 0.2:
            print(f"WARNING: other processes used up to {busiest:.2f} cores during the runs; with every core "
                  f"in use, threads that wait for each other lose their turns and tok/s collapses, so these "
                  f"numbers do not measure the runtimes: run again on a quiet machine")
        for line in verdicts:
            print(line)


if __name__ == "__main__":
    main()
