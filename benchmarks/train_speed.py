"""
Training throughput: forward + backward + AdamW step, in tokens per second, on random tokens.

    python benchmarks/train_speed.py                       # llama2.c's comparison shape (below)
    python benchmarks/train_speed.py --dim 128 --n-layers 4 --n-heads 4 --n-kv-heads 2 --vocab 1024

The default shape is the one we compare with llama2.c's train.py: dim 64, 5 layers, 8 heads, 4 KV heads,
vocab 512, seq 256, batch 32, float32 (llama2.c's train.py: about 12,000 tokens/s on our 2-core CI machine).
"""

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from model import ModelArgs, Transformer  # noqa: E402
from train import TrainConfig, make_optimizer  # noqa: E402


def measure(args) -> dict:
    torch.manual_seed(0)
    model_args = ModelArgs(dim=args.dim, n_layers=args.n_layers, n_heads=args.n_heads, n_kv_heads=args.n_kv_heads,
                           vocab_size=args.vocab, max_seq_len=args.seq_len)
    model = Transformer(model_args).to(args.device)
    train_model = torch.compile(model) if args.compile else model
    optimizer = make_optimizer(model, TrainConfig(), args.device.split(":")[0])
    x = torch.randint(0, args.vocab, (args.batch_size, args.seq_len), device=args.device)
    y = torch.randint(0, args.vocab, (args.batch_size, args.seq_len), device=args.device)

    def step():
        _, loss = train_model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss

    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        step().item()
        times.append(time.perf_counter() - t)
    times.sort()
    median = times[len(times) // 2]
    return {"params": sum(p.numel() for p in model.parameters()), "step_s": median,
            "tokens_per_s": args.batch_size * args.seq_len / median}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--n-layers", type=int, default=5)
    parser.add_argument("--n-heads", type=int, default=8)
    parser.add_argument("--n-kv-heads", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=512)
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20, help="timed steps (median reported)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args()
    r = measure(args)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), device {args.device}")
    print("| shape | params | batch x seq | step (median) | tokens/s |")
    print("|---|---|---|---|---|")
    print(f"| dim {args.dim}, {args.n_layers} layers, {args.n_heads} heads, {args.n_kv_heads} kv, vocab {args.vocab}"
          f"{', compiled' if args.compile else ''} | {r['params'] / 1e6:.2f}M | {args.batch_size} x {args.seq_len} "
          f"| {1000 * r['step_s']:.1f} ms | {r['tokens_per_s']:,.0f} |")


if __name__ == "__main__":
    main()
