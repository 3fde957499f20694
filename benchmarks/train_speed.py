"""
Training throughput: forward + backward + gradient clipping + AdamW step, in tokens per second, on random
tokens, with train.py's own settings (--dtype auto, the fused AdamW, --compile when asked), and model
FLOPs utilisation against the matmul peak measured on this machine.

    python benchmarks/train_speed.py                                  # our default shape and llama2.c's 260K shape
    python benchmarks/train_speed.py --vs-llama2c ~/llama2.c          # also llama2.c's model.py, side by side
    python benchmarks/train_speed.py --vs-llama2c ~/llama2.c --compile --shapes default
    python benchmarks/train_speed.py --levers --shapes default       # fp32/bf16 x eager/compiled, side by side
    python benchmarks/train_speed.py --compile --threads 1,2          # ours with 1 and with 2 threads, in turns

--vs-llama2c DIR imports DIR/model.py (a clone of github.com/karpathy/llama2.c) and times its Transformer
with its configure_optimizers, as its train.py runs on a CPU: float32 (its autocast is off on CPU) and
the unfused AdamW it picks there, eager and, with --compile, compiled too. Our model and llama2.c's get
the same shape, the same random tokens and the same number of steps; they take turns (three rounds,
each timing both), so a change in the machine's load hits both alike. Each row reports the median step.

MFU: model FLOPs per token are 6 x (parameters in matmuls, the classifier included) for the forward
and backward of the weights, plus 12 x layers x dim x context for attention's scores and values
(the PaLM paper's accounting, appendix B; causal masking is not discounted). The peak is the best rate
of a large matmul measured here in the dtype the run computes in.
"""

import argparse
import importlib.util
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from model import ModelArgs, Transformer  # noqa: E402
from train import TrainConfig, autocast_dtype, make_optimizer  # noqa: E402

SHAPES = {  # name -> (dim, n_layers, n_heads, n_kv_heads, vocab)
    "default": (128, 4, 4, 2, 1024),  # train.py's default model
    "260K": (64, 5, 8, 4, 512),  # llama2.c's stories260K
    "15M": (288, 6, 6, 6, 32000),  # llama2.c's stories15M
}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def matmul_peak(dtype: torch.dtype, device: str, n: int = 2048, repeats: int = 10) -> float:
    """FLOP/s of the best of `repeats` n x n x n matmuls in dtype."""
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    best = float("inf")
    for _ in range(repeats + 2):
        t = time.perf_counter()
        a @ b
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best


def flops_per_token(n_matmul_params: int, n_layers: int, dim: int, seq_len: int) -> int:
    return 6 * n_matmul_params + 12 * n_layers * dim * seq_len


def ours(shape, args, dtype, compile_: bool):
    """(step function, matmul parameter count) for our model with train.py's optimizer and autocast."""
    dim, n_layers, n_heads, n_kv_heads, vocab = shape
    torch.manual_seed(0)
    model = Transformer(ModelArgs(dim=dim, n_layers=n_layers, n_heads=n_heads, n_kv_heads=n_kv_heads,
                                  vocab_size=vocab, max_seq_len=args.seq_len)).to(args.device)
    optimizer = make_optimizer(model, TrainConfig(), args.device.split(":")[0])
    compiled = torch.compile(model) if compile_ else model
    autocast = torch.autocast(args.device.split(":")[0], dtype=dtype, enabled=dtype != torch.float32)

    def step(x, y):
        with autocast:
            _, loss = compiled(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss
    matmul_params = sum(p.numel() for n, p in model.named_parameters() if p.dim() == 2)
    return step, matmul_params


def llama2c(shape, args, compile_: bool):
    """The same for llama2.c's model.py, as its train.py runs on a CPU (float32, its configure_optimizers)."""
    spec = importlib.util.spec_from_file_location("llama2c_model", Path(args.vs_llama2c) / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dim, n_layers, n_heads, n_kv_heads, vocab = shape
    torch.manual_seed(0)
    model = module.Transformer(module.ModelArgs(dim=dim, n_layers=n_layers, n_heads=n_heads, n_kv_heads=n_kv_heads,
                                                vocab_size=vocab, multiple_of=32, max_seq_len=args.seq_len,
                                                dropout=0.0)).to(args.device)
    device_type = args.device.split(":")[0]
    with open(os.devnull, "w") as quiet:  # configure_optimizers prints its parameter counts
        stdout, sys.stdout = sys.stdout, quiet
        try:
            optimizer = model.configure_optimizers(0.1, 5e-4, (0.9, 0.95), device_type)
        finally:
            sys.stdout = stdout
    compiled = torch.compile(model) if compile_ else model

    def step(x, y):
        compiled(x, y)
        loss = model.last_loss if not compile_ else compiled._orig_mod.last_loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss
    return step


def time_steps(step, x, y, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        step(x, y).item()
        times.append(time.perf_counter() - t)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", default="default,260K", help=f"comma list of {', '.join(SHAPES)}")
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=8, help="timed steps per model per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; each times every model in turn")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16"),
                        help="ours: as train.py --dtype (default auto)")
    parser.add_argument("--compile", action="store_true", help="also torch.compile (ours, and llama2.c's as a second row)")
    parser.add_argument("--levers", action="store_true",
                        help="ours four ways instead: float32 and bfloat16, eager and compiled (what each lever buys)")
    parser.add_argument("--threads", default="",
                        help="comma list of thread counts: ours (as run without --levers) once per count, in turns")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--vs-llama2c", metavar="DIR", help="a clone of karpathy/llama2.c: time its model.py too")
    args = parser.parse_args()
    shapes = args.shapes.split(",")
    try:
        thread_counts = [int(n) for n in args.threads.split(",") if n]
    except ValueError:
        parser.error(f"--threads: a comma list of thread counts, got {args.threads!r}")
    if any(n < 1 for n in thread_counts) or (thread_counts and args.levers):
        parser.error("--threads: counts of at least 1, and not with --levers")
    default_threads = torch.get_num_threads()
    if not set(shapes) <= set(SHAPES):
        parser.error(f"--shapes: unknown {sorted(set(shapes) - set(SHAPES))}; known: {', '.join(SHAPES)}")
    if args.vs_llama2c and not (Path(args.vs_llama2c) / "model.py").is_file():
        parser.error(f"--vs-llama2c {args.vs_llama2c}: no model.py there (clone github.com/karpathy/llama2.c)")

    device_type = args.device.split(":")[0]
    dtype = autocast_dtype(TrainConfig(dtype=args.dtype), device_type)
    peaks = {d: matmul_peak(d, args.device) for d in ({torch.float32, torch.bfloat16} if args.levers else {torch.float32, dtype})}
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} "
          f"threads), device {args.device}")
    print("matmul peak (2048^3): " + ", ".join(f"{str(d)[6:]} {p / 1e9:.0f} GFLOPS" for d, p in peaks.items()))
    print(f"batch {args.batch_size} x {args.seq_len}; median of {args.rounds} x {args.steps} steps per row, models in turn\n")
    print("| shape | model | dtype | compiled | step (median) | tokens/s | MFU | vs llama2.c |")
    print("|---|---|---|---|---|---|---|---|")
    for name in shapes:
        shape = SHAPES[name]
        g = torch.Generator().manual_seed(0)
        x = torch.randint(0, shape[4], (args.batch_size, args.seq_len), generator=g).to(args.device)
        y = torch.randint(0, shape[4], (args.batch_size, args.seq_len), generator=g).to(args.device)
        rows = {}  # label -> (step fn, dtype, compiled, threads)
        if args.levers:
            for d in (torch.float32, torch.bfloat16):
                for c in (False, True):
                    rows[f"ours{', compiled' if c else ''}, {str(d)[6:]}"] = (ours(shape, args, d, c)[0], d, c,
                                                                              default_threads)
            matmul_params = ours(shape, args, dtype, False)[1]
        elif thread_counts:
            step, matmul_params = ours(shape, args, dtype, args.compile)
            for n in thread_counts:
                rows[f"ours, {n} thread{'s' if n > 1 else ''}"] = (step, dtype, args.compile, n)
        else:
            step, matmul_params = ours(shape, args, dtype, args.compile)
            rows["ours"] = (step, dtype, args.compile, default_threads)
        if args.vs_llama2c:
            rows["llama2.c"] = (llama2c(shape, args, False), torch.float32, False, default_threads)
            if args.compile:
                rows["llama2.c compiled"] = (llama2c(shape, args, True), torch.float32, True, default_threads)
        times = {label: [] for label in rows}
        for label, (fn, _, _, threads) in rows.items():
            torch.set_num_threads(threads)
            time_steps(fn, x, y, args.warmup)  # compiles, if compiled
        for _ in range(args.rounds):
            for label, (fn, _, _, threads) in rows.items():
                torch.set_num_threads(threads)
                times[label] += time_steps(fn, x, y, args.steps)
        torch.set_num_threads(default_threads)
        tokens = args.batch_size * args.seq_len
        flops = flops_per_token(matmul_params, shape[1], shape[0], args.seq_len)
        medians = {label: sorted(t)[len(t) // 2] for label, t in times.items()}
        best_llama2c = min((m for label, m in medians.items() if label.startswith("llama2.c")), default=None)
        for label, (fn, d, compiled, _) in rows.items():
            tok_s = tokens / medians[label]
            mfu = tok_s * flops / peaks[d]
            ratio = f"{best_llama2c / medians[label]:.2f}x" if best_llama2c else ""
            print(f"| {name} (dim {shape[0]}, {shape[1]} layers, {shape[2]}/{shape[3]} heads, vocab {shape[4]}) | "
                  f"{label} | {str(d)[6:]} | {'yes' if compiled else 'no'} | {1000 * medians[label]:.1f} ms | "
                  f"{tok_s:,.0f} | {100 * mfu:.1f}% | {ratio} |")


if __name__ == "__main__":
    main()
