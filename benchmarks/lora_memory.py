"""
What QLoRA saves: frozen-weight storage, peak memory of a training step, and step time, for random-weight
models of llama2.c's 15M and 110M shapes: full fine-tuning vs LoRA vs QLoRA (NF4 + double quant).

    python benchmarks/lora_memory.py                              # both shapes, CPU, batch 1 x 256 tokens
    python benchmarks/lora_memory.py --shapes 15M --batch-size 4 --steps 3
    python benchmarks/lora_memory.py --device cuda                # peak from torch.cuda.max_memory_allocated

Each (shape, mode) runs in a fresh process. Peak memory on CPU is the process's peak resident set (VmHWM)
during one steady-state step (the optimiser state already exists), minus the interpreter-and-torch
baseline measured before the model is built; on CUDA it is max_memory_allocated over the same step.
Goals (issue 4): NF4 + double quant <= 4.2 bits per parameter; QLoRA peak <= 40% of full fine-tuning at
110M; a QLoRA step <= 1.5x a LoRA step on CPU.
"""

import argparse
import ctypes
import gc
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from lora import LORA_TARGETS, Linear4bit, apply_lora  # noqa: E402
from model import ModelArgs, Transformer  # noqa: E402

SHAPES = {  # llama2.c's stories15M and stories110M
    "15M": dict(dim=288, n_layers=6, n_heads=6, vocab_size=32000, max_seq_len=256),
    "110M": dict(dim=768, n_layers=12, n_heads=12, vocab_size=32000, max_seq_len=1024),
}
MODES = ("full", "lora", "qlora")


# ----------------------------------------------------------------------------------------------------------
# storage of the frozen linears

def storage_table(shape: str) -> list[tuple[str, int, float]]:
    """(format, bytes, bits per parameter) for the linears QLoRA quantizes (wq..w3 of every block)."""
    torch.manual_seed(0)
    model = Transformer(ModelArgs(**SHAPES[shape]))
    linears = [m for name, m in model.named_modules() if name.rsplit(".", 1)[-1] in LORA_TARGETS]
    n = sum(m.weight.numel() for m in linears)
    nf4 = sum(Linear4bit(m, 64).storage_bytes() for m in linears)
    nf4_dq = sum(Linear4bit(m, 64, double_quant=True).storage_bytes() for m in linears)
    return [(fmt, b, 8 * b / n) for fmt, b in (("fp32", 4 * n), ("nf4", nf4), ("nf4+dq", nf4_dq))]


# ----------------------------------------------------------------------------------------------------------
# one training step, measured in a child process

def rss_peak_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def reset_rss_peak():
    # Linux: writing 5 to clear_refs resets the peak RSS to the current RSS; malloc_trim hands freed heap back
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    Path("/proc/self/clear_refs").write_text("5")


def measure_step(shape: str, mode: str, batch_size: int, seq_len: int, steps: int, device: str) -> dict:
    cuda = device.startswith("cuda")
    reset_rss_peak()
    baseline = rss_peak_bytes()
    torch.manual_seed(0)
    model = Transformer(ModelArgs(**SHAPES[shape]))
    if mode != "full":
        apply_lora(model, LORA_TARGETS, r=8, alpha=16, quantize="nf4" if mode == "qlora" else "none",
                   double_quant=mode == "qlora")
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    tokens = torch.randint(0, model.args.vocab_size, (batch_size, seq_len + 1), device=device)

    def step():
        _, loss = model(tokens[:, :-1], tokens[:, 1:])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()

    step()  # the first step allocates AdamW's moments
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    else:
        reset_rss_peak()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    peak = torch.cuda.max_memory_allocated() if cuda else rss_peak_bytes() - baseline
    return {"peak_bytes": peak, "step_s": sorted(times)[len(times) // 2],
            "trainable": sum(p.numel() for p in params)}


# ----------------------------------------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", default="15M,110M", help="comma list of 15M, 110M (default: both)")
    parser.add_argument("--batch-size", type=int, default=1, help="sequences per step (default 1)")
    parser.add_argument("--seq-len", type=int, default=256, help="tokens per sequence (default 256)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up step; median reported")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--child", nargs=2, metavar=("SHAPE", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure_step(*args.child, args.batch_size, args.seq_len, args.steps, args.device)))
        return
    shapes = [s.strip() for s in args.shapes.split(",")]
    if any(s not in SHAPES for s in shapes):
        parser.error(f"--shapes must be a comma list of {', '.join(SHAPES)}")

    machine = torch.cuda.get_device_name() if args.device.startswith("cuda") else \
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    print(f"machine: {machine}; torch {torch.__version__}; batch {args.batch_size} x {args.seq_len} tokens; "
          f"LoRA r=8 on {','.join(LORA_TARGETS)}; QLoRA = NF4 blocks of 64 + double quant")
    for shape in shapes:
        print(f"\n## {shape}: frozen linears (wq..w3)")
        print(f"{'format':<8} {'MB':>9} {'bits/param':>11}")
        for fmt, nbytes, bits in storage_table(shape):
            print(f"{fmt:<8} {nbytes / 1e6:>9.2f} {bits:>11.3f}")
        print(f"\n{'mode':<6} {'trainable':>12} {'peak MB':>9} {'vs full':>8} {'step s':>8} {'vs lora':>8}")
        results = {}
        for mode in MODES:
            out = subprocess.run([sys.executable, __file__, "--child", shape, mode, "--batch-size", str(args.batch_size),
                                  "--seq-len", str(args.seq_len), "--steps", str(args.steps), "--device", args.device],
                                 capture_output=True, text=True, env=os.environ)
            if out.returncode:
                sys.exit(f"error: {shape} {mode} failed:\n{out.stderr}")
            results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
        for mode, r in results.items():
            print(f"{mode:<6} {r['trainable']:>12,} {r['peak_bytes'] / 1e6:>9.1f} "
                  f"{r['peak_bytes'] / results['full']['peak_bytes']:>7.0%} {r['step_s']:>8.3f} "
                  f"{r['step_s'] / results['lora']['step_s']:>7.2f}x")


if __name__ == "__main__":
    main()
