"""
Decoding speed of model.generate in Python: tokens per second for one prompt (greedy), eager and with a
compiled decode step (a static KV cache, torch.compile), on random weights in llama2.c's shapes; and
eval.py's batched generation, many prompts at once.

    python benchmarks/sample_speed.py                    # the 15M shape, 256 tokens
    python benchmarks/sample_speed.py --shapes 15M,110M --tokens 256 --batch 64

Each row is the best of --repeats runs after one warm-up run (the compiled row's warm-up compiles; the
compile time is printed separately). The bound is the memory bandwidth bound of reading every weight
once per token in float32 (4 bytes x parameters) at --bandwidth GB/s, when given.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.train_speed import cpu_name  # noqa: E402
from model import ModelArgs, Transformer  # noqa: E402

SHAPES = {  # llama2.c's models: dim, layers, heads, vocab, context
    "260K": (64, 5, 8, 512, 512),
    "15M": (288, 6, 6, 32000, 256),
    "110M": (768, 12, 12, 32000, 1024),
}


def timed(fn) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", default="15M", help=f"comma list of {', '.join(SHAPES)}")
    parser.add_argument("--tokens", type=int, default=256, help="tokens to generate per prompt (at most the context)")
    parser.add_argument("--batch", type=int, default=64, help="prompts at once for the batched row (0: skip it)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-compile", action="store_true", help="skip the compiled row")
    parser.add_argument("--bandwidth", type=float, default=0.0, help="GB/s, to print the fraction of the bound")
    args = parser.parse_args()
    shapes = args.shapes.split(",")
    if not set(shapes) <= set(SHAPES):
        parser.error(f"--shapes: unknown {sorted(set(shapes) - set(SHAPES))}")

    print(f"machine: {cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads)")
    print("| shape | mode | prompts | tokens/s | bound | of bound | compile s |")
    print("|---|---|---|---|---|---|---|")
    for name in shapes:
        dim, n_layers, n_heads, vocab, context = SHAPES[name]
        torch.manual_seed(0)
        model = Transformer(ModelArgs(dim=dim, n_layers=n_layers, n_heads=n_heads, vocab_size=vocab,
                                      max_seq_len=context)).eval()
        n = min(args.tokens, context - 1)
        params = sum(p.numel() for p in model.parameters())
        bound = args.bandwidth * 1e9 / (4 * params) if args.bandwidth else 0.0

        def row(mode, prompts, fn, compile_s=None):
            best = min(timed(fn)[0] for _ in range(args.repeats))
            tok_s = prompts * n / best
            share = f"{100 * tok_s / bound:.0f}%" if bound and prompts == 1 else ""
            print(f"| {name} | {mode} | {prompts} | {tok_s:,.0f} | {f'{bound:,.0f}' if bound else ''} | {share} | "
                  f"{'' if compile_s is None else f'{compile_s:.1f}'} |", flush=True)

        def one(compile=False):
            return list(model.generate([1], n, temperature=0.0, compile=compile))
        timed(one)  # warm-up
        row("eager", 1, one)
        if not args.no_compile:
            compile_s, _ = timed(lambda: one(compile=True))
            row("compiled step", 1, lambda: one(compile=True), compile_s)
        if args.batch:
            prompts = [[1, 2 + i] for i in range(args.batch)]

            def many():
                return model.generate_batch(prompts, n, temperature=0.0)
            timed(many)
            row("batched, eager", args.batch, many)


if __name__ == "__main__":
    main()
