"""
Train a tiny Llama on stories: pretraining (completion only) or instruction tuning.

    python train.py --instruct                     # built-in stories, about 10 minutes on 2 CPU cores
    python train.py --dataset stories.jsonl        # your own records ({"prompt": ..., "story": ...})
    torchrun --standalone --nproc_per_node=2 train.py --instruct   # data parallel

With no data prepared yet, the run builds it first: records -> SentencePiece vocab -> token shards,
all cached under --data-dir so the next run starts training at once. Everything it writes goes to
--out-dir: ckpt.pt (resume with --init-from resume), model.bin (for run.c), tokenizer.model,
tokenizer.bin and log.jsonl (one JSON line per logged step).

LoRA / QLoRA fine-tuning of a pretrained base (lora.py): the base stays frozen, only adapters train.

    python train.py --instruct --init-from out/ckpt.pt --lora-rank 8 --out-dir out-lora
    python train.py --instruct --init-from out/ckpt.pt --lora-rank 8 --quantize nf4 --double-quant --out-dir out-qlora

An adapter run also writes adapter.pt (the adapter tensors only; `sample.py BASE --adapter adapter.pt`);
its ckpt.pt and model.bin hold the adapter merged into the (dequantized) base.
"""

import argparse
import dataclasses
import json
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from data import storyteller
from data.records import DataError, read_records
from data.shards import Batches, encode_dataset
from export import write_model_bin
from lora import (apply_lora, base_identity, enable_grad_checkpointing, lora_parameters, merged_model, parse_targets,
                  save_adapter)
from model import CheckpointError, ModelArgs, Transformer, load_model, read_checkpoint, save_checkpoint
from tokenizer import Tokenizer, TokenizerError, train_tokenizer

USER_ERRORS = (DataError, TokenizerError, CheckpointError, FileNotFoundError)


@dataclass
class TrainConfig:
    # I/O
    out_dir: str = "out"
    init_from: str = "scratch"  # scratch | resume | path to a .pt checkpoint to start from
    # data
    dataset: str = "builtin"  # builtin | tinystories | a .jsonl/.csv/.txt file | a directory of shards
    data_dir: str = "data/cache"
    instruct: bool = False  # train on prompt + BOS + story + EOS, loss on the story only
    builtin_stories: int = 30000
    vocab_size: int = 1024
    # model
    dim: int = 128
    n_layers: int = 4
    n_heads: int = 4
    n_kv_heads: int = 2
    multiple_of: int = 32
    max_seq_len: int = 256
    dropout: float = 0.0
    # optimisation
    batch_size: int = 32  # sequences per micro-step, per process
    grad_accum: int = 1
    max_iters: int = 900
    learning_rate: float = 3e-3
    min_lr: float = 3e-4
    warmup_iters: int = 100
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    # evaluation and logging
    eval_interval: int = 300
    eval_iters: int = 20
    log_interval: int = 10
    # system
    seed: int = 1337
    device: str = "auto"  # auto | cpu | cuda | mps
    compile: bool = False
    # LoRA / QLoRA fine-tuning (with --init-from PATH)
    lora_rank: int = 0  # 0 = off: fine-tune every weight
    lora_alpha: float = 16.0
    lora_dropout: float = 0.0
    lora_targets: str = "wq,wk,wv,wo,w1,w2,w3"
    lora_rslora: bool = False
    lora_plus_ratio: float = 1.0
    quantize: str = "none"  # none | nf4 (QLoRA)
    double_quant: bool = False
    grad_checkpointing: bool = False


# ----------------------------------------------------------------------------------------------
# data: records -> vocab -> shards, cached

def dataset_dir(cfg: TrainConfig) -> Path:
    """Where the prepared data for cfg.dataset lives: records, tokenizer and shards."""
    if cfg.dataset in ("builtin", "tinystories"):
        return Path(cfg.data_dir) / cfg.dataset
    path = Path(cfg.dataset)
    if path.is_dir():
        return path
    # a records file: its prepared data sits in the cache under its name and a stamp of its contents,
    # so an edited file is prepared afresh
    if not path.exists():
        raise DataError(f"--dataset {cfg.dataset}: no such file or directory")
    stat = path.stat()
    return Path(cfg.data_dir) / f"{path.stem}-{stat.st_size:x}-{int(stat.st_mtime):x}"


def prepare_data(cfg: TrainConfig, tokenizer_model: Path | None, log=print) -> tuple[Path, Path]:
    """Make sure records, tokenizer and shards exist; return (shard directory, tokenizer .model).

    tokenizer_model: when fine-tuning from a checkpoint, the vocab is the checkpoint's and is not retrained.
    """
    root = dataset_dir(cfg)
    if (root / "meta.json").exists():  # a directory of shards, encoded earlier
        tok = tokenizer_model or next((p for p in (root / "tokenizer.model", root.parent / "tokenizer.model") if p.exists()), None)
        if tok is None:
            raise DataError(f"{root}: a shard directory needs its tokenizer.model beside it")
        return root, tok
    if Path(cfg.dataset).is_dir():
        raise DataError(f"--dataset {cfg.dataset}: directory has no meta.json (not a finished shard directory)")

    root.mkdir(parents=True, exist_ok=True)
    records = load_records(cfg, root, log)
    if tokenizer_model is None:
        tokenizer_model = root / f"tokenizer-{cfg.vocab_size}.model"
        if not tokenizer_model.exists():
            log(f"training a {cfg.vocab_size}-piece vocab on {len(records):,} stories")
            train_tokenizer((r["story"] for r in records), cfg.vocab_size, tokenizer_model)
    tokenizer = Tokenizer(tokenizer_model)
    shard_dir = root / f"{'instruct' if cfg.instruct else 'completion'}-{tokenizer.identity[:12]}"
    if not (shard_dir / "meta.json").exists():
        log(f"encoding {len(records):,} records into {shard_dir}")
        encode_dataset(records, tokenizer, shard_dir, instruct=cfg.instruct, seed=cfg.seed)
    return shard_dir, tokenizer_model


def load_records(cfg: TrainConfig, root: Path, log) -> list[dict]:
    if cfg.dataset == "builtin":
        path = root / f"stories-{cfg.builtin_stories}.jsonl"
        if not path.exists():
            log(f"writing {cfg.builtin_stories:,} built-in stories to {path}")
            storyteller.write_jsonl(storyteller.make_records(cfg.builtin_stories, seed=0, split="train"), path)
        return read_records(path)
    if cfg.dataset == "tinystories":  # downloaded and converted once into root; TINYSTORIES_URL picks a mirror
        from data import tinystories
        return read_records(tinystories.prepare(root, instruct=cfg.instruct, log=log))
    return read_records(cfg.dataset)


# ----------------------------------------------------------------------------------------------
# optimisation

def learning_rate(step: int, cfg: TrainConfig) -> float:
    """Linear warmup, then cosine decay to min_lr at max_iters."""
    if step < cfg.warmup_iters:
        return cfg.learning_rate * (step + 1) / cfg.warmup_iters
    progress = (step - cfg.warmup_iters) / max(1, cfg.max_iters - cfg.warmup_iters)
    return cfg.min_lr + 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))) * (cfg.learning_rate - cfg.min_lr)


def get_rng_state(device_type: str) -> dict:
    """The generator states dropout draws from: the CPU's, and the GPU's when training on one."""
    return {"cpu": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state() if device_type == "cuda" else None}


def set_rng_state(state: dict, device_type: str):
    torch.set_rng_state(state["cpu"])
    if device_type == "cuda" and state["cuda"] is not None:
        torch.cuda.set_rng_state(state["cuda"])


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig, device_type: str) -> torch.optim.AdamW:
    # Weight decay on matrices only (embeddings included), not on norm gains: the usual GPT/Llama recipe.
    # LoRA+ (Hayou et al. 2024, arXiv:2402.12354): the B matrices learn lora_plus_ratio times faster than A.
    by_setting = {}  # (weight decay, lr scale) -> parameters
    for name, p in model.named_parameters():
        if p.requires_grad:
            setting = (cfg.weight_decay if p.dim() >= 2 else 0.0,
                       cfg.lora_plus_ratio if name.endswith("lora_B") else 1.0)
            by_setting.setdefault(setting, []).append(p)
    groups = [{"params": ps, "weight_decay": wd, "lr_scale": scale} for (wd, scale), ps in by_setting.items()]
    # the fused kernel is ~10x faster than the per-tensor loop on CPU, and exists for cuda and mps too
    return torch.optim.AdamW(groups, lr=cfg.learning_rate, betas=(cfg.beta1, cfg.beta2),
                             fused=device_type in ("cpu", "cuda", "mps"))


@torch.no_grad()
def estimate_val_loss(model, batches: Batches, cfg: TrainConfig, device: str, autocast) -> float:
    model.eval()
    losses = []
    for i in range(cfg.eval_iters):  # the same windows every time, so evaluations compare
        x, y = batches.get(i, 0)
        with autocast:
            _, loss = model(x.to(device), y.to(device))
        losses.append(loss.item())
    model.train()
    return sum(losses) / len(losses)


# ----------------------------------------------------------------------------------------------
# the run

def pick_device(name: str) -> str:
    if name != "auto":
        if name == "cuda" and not torch.cuda.is_available():
            raise DataError("--device cuda: no CUDA device is available")
        return name
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def train(cfg: TrainConfig) -> dict:
    """Run one training job; return a summary dict. Raises USER_ERRORS for bad input."""
    ddp = "RANK" in os.environ and "WORLD_SIZE" in os.environ
    rank, world = (int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])) if ddp else (0, 1)
    device = pick_device(cfg.device)
    if ddp:
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
        if device == "cuda":
            device = f"cuda:{local_rank}"
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    device_type = device.split(":")[0]
    master = rank == 0
    log = print if master else (lambda *a, **k: None)
    out_dir = Path(cfg.out_dir)

    torch.manual_seed(cfg.seed + rank)
    if device_type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    # bf16 autocast on CUDA (no loss scaling needed, unlike fp16); full float32 elsewhere
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device_type == "cuda" else torch.autocast("cpu", enabled=False)

    # --- where we start from
    resume = cfg.init_from == "resume"
    checkpoint = None
    if resume:
        if not (out_dir / "ckpt.pt").exists():
            raise CheckpointError(f"--init-from resume: no checkpoint at {out_dir / 'ckpt.pt'}")
        checkpoint = read_checkpoint(out_dir / "ckpt.pt")
    elif cfg.init_from != "scratch":
        checkpoint = read_checkpoint(cfg.init_from)

    # --- data (rank 0 prepares it; the others wait and then find it cached)
    tokenizer_model = None
    if checkpoint is not None:
        tokenizer_model = out_dir / "tokenizer.model" if resume else Path(cfg.init_from).parent / "tokenizer.model"
    if master:
        shard_dir, tokenizer_model = prepare_data(cfg, tokenizer_model, log)
    if ddp:
        dist.barrier()
        if not master:
            shard_dir, tokenizer_model = prepare_data(cfg, tokenizer_model, log)
    tokenizer = Tokenizer(tokenizer_model)
    if checkpoint is not None and checkpoint["tokenizer"] != tokenizer.identity:
        raise CheckpointError(f"{tokenizer_model} is not the tokenizer this checkpoint was trained with")
    train_batches = Batches(sorted(shard_dir.glob("train_*.bin")), cfg.max_seq_len, cfg.batch_size, tokenizer,
                            mask_prompt=cfg.instruct, seed=cfg.seed)
    val_batches = Batches(sorted(shard_dir.glob("val_*.bin")), cfg.max_seq_len, cfg.batch_size, tokenizer,
                          mask_prompt=cfg.instruct, seed=cfg.seed + 1)

    # --- model and optimiser
    if checkpoint is not None:
        args = ModelArgs(**checkpoint["model_args"])
        args.dropout = cfg.dropout
        if cfg.max_seq_len > args.max_seq_len:
            raise CheckpointError(f"--max-seq-len {cfg.max_seq_len} exceeds the checkpoint's {args.max_seq_len}")
    else:
        args = ModelArgs(dim=cfg.dim, n_layers=cfg.n_layers, n_heads=cfg.n_heads, n_kv_heads=cfg.n_kv_heads,
                         vocab_size=tokenizer.vocab_size, multiple_of=cfg.multiple_of,
                         max_seq_len=cfg.max_seq_len, dropout=cfg.dropout)
    model = Transformer(args)
    lora_run = None  # for an adapter run: base checkpoint path, its identity, the adapter config
    if resume and checkpoint.get("lora"):
        # an adapter run saves the merged model; resuming rebuilds the frozen base and puts the adapter back
        lora_run = {k: v for k, v in checkpoint["lora"].items() if k != "adapter"}
        base = read_checkpoint(lora_run["base"])
        if base_identity(base["model"]) != lora_run["base_identity"]:
            raise CheckpointError(f"{lora_run['base']} has changed since this adapter run started; cannot resume")
        model.load_state_dict(base["model"])
        apply_lora(model, **lora_run["config"])
        with torch.no_grad():
            for name, p in lora_parameters(model).items():
                p.copy_(checkpoint["lora"]["adapter"][name])
        base = None
    elif checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        if cfg.lora_rank > 0 and not resume:
            identity = base_identity(checkpoint["model"])
            try:
                apply_lora(model, cfg.lora_targets, cfg.lora_rank, cfg.lora_alpha, cfg.lora_dropout, cfg.lora_rslora,
                           quantize=cfg.quantize, double_quant=cfg.double_quant)
            except ValueError as e:  # targets this base cannot take (output of a tied model)
                raise CheckpointError(f"--lora-targets {cfg.lora_targets} on {cfg.init_from}: {e}") from None
            lora_run = {"base": str(Path(cfg.init_from).resolve()), "base_identity": identity, "config": model.lora_config}
    if cfg.grad_checkpointing:
        enable_grad_checkpointing(model)
    model.to(device)
    optimizer = make_optimizer(model, cfg, device_type)
    step, best_val = 0, float("inf")
    if resume:
        optimizer.load_state_dict(checkpoint["optimizer"])
        step, best_val = checkpoint["step"], checkpoint["best_val_loss"]
        set_rng_state(checkpoint["rng"][rank % len(checkpoint["rng"])], device_type)
    checkpoint = None  # free it

    train_model = torch.compile(model) if cfg.compile else model
    if ddp:
        train_model = torch.nn.parallel.DistributedDataParallel(train_model, device_ids=[device] if device_type == "cuda" else None)

    if master:
        out_dir.mkdir(parents=True, exist_ok=True)
        # the vocab travels with the checkpoint: .model for Python, .bin for C
        if tokenizer.model_path.resolve() != (out_dir / "tokenizer.model").resolve():
            shutil.copyfile(tokenizer.model_path, out_dir / "tokenizer.model")
        tokenizer.export(out_dir / "tokenizer.bin")
    n_params = sum(p.numel() for p in model.parameters())
    if lora_run:
        c = lora_run["config"]
        log(f"LoRA r={c['r']} alpha={c['alpha']} on {','.join(c['targets'])}"
            f"{' over an NF4 base' if c['quantize'] == 'nf4' else ''}: "
            f"{sum(p.numel() for p in lora_parameters(model).values()):,} trainable parameters")
    tokens_per_step = cfg.batch_size * cfg.grad_accum * world * cfg.max_seq_len
    log(f"model: {n_params / 1e6:.2f}M parameters, {args.n_layers} layers, dim {args.dim}; "
        f"{tokens_per_step:,} tokens per step on {world} x {device}")

    def save(step: int):
        # one checkpoint that resumes exactly: weights, optimiser moments, step, and every rank's RNG
        rng = [get_rng_state(device_type)]
        if ddp:
            rng = [None] * world
            dist.all_gather_object(rng, get_rng_state(device_type))
        if master:
            plain, extra = model, {}
            if lora_run:  # ckpt.pt and model.bin get the merged model, so sample/eval/run need no adapter code
                plain = merged_model(model)
                extra["lora"] = {**lora_run, "adapter": {k: v.detach().cpu() for k, v in lora_parameters(model).items()}}
                save_adapter(out_dir / "adapter.pt", model, lora_run["base_identity"], base=lora_run["base"],
                             instruct=cfg.instruct, tokenizer=tokenizer.identity)
            save_checkpoint(out_dir / "ckpt.pt", plain, optimizer=optimizer.state_dict(), step=step, best_val_loss=best_val,
                            rng=rng, config=dataclasses.asdict(cfg), instruct=cfg.instruct, tokenizer=tokenizer.identity,
                            **extra)
            write_model_bin(plain, out_dir / "model.bin", mode="instruct" if cfg.instruct else "generate", tokenizer=tokenizer)

    def write_log(record: dict):
        if master:
            with open(out_dir / "log.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")

    # --- the loop
    from tqdm import tqdm
    bar = tqdm(total=cfg.max_iters, initial=step, disable=not master, dynamic_ncols=True, desc="train")
    t0, tokens_since = time.time(), 0
    last_loss = float("nan")
    while step < cfg.max_iters:
        lr = learning_rate(step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)  # checkpoints from before LoRA+ have no scale

        loss_sum = torch.zeros((), device=device)
        for micro in range(cfg.grad_accum):
            # micro-batch index across all processes: a run on 2 processes sees the same windows per step
            # as a run on 1 process with twice the grad_accum
            x, y = train_batches.get(step, micro * world + rank)
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            sync = not ddp or micro == cfg.grad_accum - 1
            ctx = train_model.no_sync() if not sync else torch.enable_grad()
            with ctx, autocast:
                _, loss = train_model(x, y)
                loss = loss / cfg.grad_accum
            loss.backward()
            loss_sum += loss.detach()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        tokens_since += tokens_per_step

        if step % cfg.log_interval == 0 or step == cfg.max_iters:
            if ddp:
                dist.all_reduce(loss_sum, op=dist.ReduceOp.AVG)
            last_loss = loss_sum.item()
            dt = time.time() - t0
            tok_s = tokens_since / dt
            t0, tokens_since = time.time(), 0
            bar.set_postfix(loss=f"{last_loss:.4f}", lr=f"{lr:.2e}", tok_s=f"{tok_s:,.0f}")
            write_log({"step": step, "loss": last_loss, "lr": lr, "tokens_per_s": round(tok_s, 1)})
        bar.update(1)

        if step % cfg.eval_interval == 0 or step == cfg.max_iters:
            val_loss = estimate_val_loss(model, val_batches, cfg, device, autocast)
            best_val = min(best_val, val_loss)
            write_log({"step": step, "val_loss": val_loss})
            bar.write(f"step {step}: train loss {last_loss:.4f}, val loss {val_loss:.4f}")
            save(step)
            t0 = time.time()  # don't count evaluation in tokens/s
    bar.close()
    if ddp:
        dist.barrier()
        dist.destroy_process_group()
    return {"step": step, "loss": last_loss, "best_val_loss": best_val, "out_dir": str(out_dir)}


def show_sample(cfg: TrainConfig):
    """Print one story from the trained model, for a prompt it never saw."""
    from sample import generate_text
    if cfg.dataset == "builtin" and cfg.instruct:
        prompt = storyteller.make_records(1, seed=cfg.seed, split="heldout")[0]["prompt"]
    elif cfg.instruct:
        prompt = "Write a story about a brave fox who finds a lost key in the forest."
    else:
        prompt = "Once upon a time"
    model, info = load_model(Path(cfg.out_dir) / "ckpt.pt")
    tokenizer = Tokenizer(Path(cfg.out_dir) / "tokenizer.model")
    print(f"\n--- sample ({'instruct' if cfg.instruct else 'generate'}): {prompt}\n")
    for piece in generate_text(model, tokenizer, prompt, mode="instruct" if cfg.instruct else "generate",
                               temperature=0.0, max_new_tokens=model.args.max_seq_len):
        print(piece, end="", flush=True)
    print()


# ----------------------------------------------------------------------------------------------
# command line

HELP = {
    "out_dir": "where ckpt.pt, model.bin, tokenizer.* and log.jsonl are written",
    "init_from": "scratch, resume (continue --out-dir/ckpt.pt exactly), or a .pt checkpoint to fine-tune",
    "dataset": "builtin (offline synthetic stories), tinystories, a .jsonl/.csv/.txt file of stories, "
               "or a directory of encoded shards",
    "data_dir": "cache for prepared data (records, vocab, shards)",
    "instruct": "instruction tuning: examples are prompt + BOS + story + EOS and only the story is learned",
    "builtin_stories": "how many built-in stories to generate",
    "vocab_size": "SentencePiece vocab size trained for this dataset (ignored when fine-tuning)",
    "dim": "model width", "n_layers": "transformer blocks", "n_heads": "query heads",
    "n_kv_heads": "key/value heads (grouped-query attention when fewer than --n-heads)",
    "multiple_of": "SwiGLU hidden size is rounded up to a multiple of this",
    "max_seq_len": "context length of the model and of training windows",
    "dropout": "dropout probability",
    "batch_size": "sequences per micro-step, per process",
    "grad_accum": "micro-steps per optimiser step",
    "max_iters": "optimiser steps in total",
    "learning_rate": "peak AdamW learning rate", "min_lr": "learning rate at the end of the cosine decay",
    "warmup_iters": "steps of linear warmup", "weight_decay": "AdamW weight decay (matrices only)",
    "beta1": "AdamW beta1", "beta2": "AdamW beta2", "grad_clip": "clip the gradient norm to this (0: off)",
    "eval_interval": "evaluate, checkpoint and export every this many steps",
    "eval_iters": "validation batches per evaluation",
    "log_interval": "log the training loss every this many steps",
    "seed": "random seed (data windows, init)",
    "device": "auto, cpu, cuda or mps",
    "compile": "torch.compile the model",
    "lora_rank": "LoRA rank r: train adapters on a frozen --init-from base (0: fine-tune every weight)",
    "lora_alpha": "LoRA alpha: the update is scaled by alpha/r",
    "lora_dropout": "dropout on the LoRA adapters' input",
    "lora_targets": "comma list of the layers that get adapters: wq,wk,wv,wo,w1,w2,w3, and tok_embeddings "
                    "(with tied weights it adapts the output classifier too)",
    "lora_rslora": "rank-stabilised LoRA: scale the update by alpha/sqrt(r) instead of alpha/r",
    "lora_plus_ratio": "LoRA+: the adapters' B matrices get this many times the learning rate of A (1: plain LoRA)",
    "quantize": "none, or nf4: store the frozen base in 4-bit NormalFloat (QLoRA; needs --lora-rank)",
    "double_quant": "with --quantize nf4: quantize the block scales to 8 bits too (about 4.13 bits per weight)",
    "grad_checkpointing": "recompute each block's activations in the backward pass to save memory",
}


def parse_args(argv=None) -> TrainConfig:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for field in dataclasses.fields(TrainConfig):
        flag = "--" + field.name.replace("_", "-")
        help_text = f"{HELP[field.name]} (default: {field.default})"
        if field.type in (bool, "bool"):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=field.default, help=HELP[field.name])
        else:
            kind = {"int": int, "float": float, "str": str}.get(field.type, field.type) if isinstance(field.type, str) else field.type
            parser.add_argument(flag, type=kind, default=field.default, help=help_text)
    parser.add_argument("--no-sample", action="store_true", help="don't print a sample story at the end")
    ns = parser.parse_args(argv)
    no_sample = ns.__dict__.pop("no_sample")
    cfg = TrainConfig(**vars(ns))
    problem = validate(cfg)
    if problem:
        parser.error(problem)
    return cfg, no_sample


def validate(cfg: TrainConfig) -> str | None:
    """The first problem with the config, as a message, or None."""
    positive = ["builtin_stories", "vocab_size", "dim", "n_layers", "n_heads", "n_kv_heads", "multiple_of",
                "max_seq_len", "batch_size", "grad_accum", "max_iters", "eval_interval", "eval_iters", "log_interval"]
    for name in positive:
        if getattr(cfg, name) <= 0:
            return f"--{name.replace('_', '-')} must be positive, got {getattr(cfg, name)}"
    if cfg.dim % cfg.n_heads:
        return f"--dim {cfg.dim} is not divisible by --n-heads {cfg.n_heads}"
    if cfg.n_heads % cfg.n_kv_heads:
        return f"--n-heads {cfg.n_heads} is not divisible by --n-kv-heads {cfg.n_kv_heads}"
    if (cfg.dim // cfg.n_heads) % 2:
        return f"head size {cfg.dim // cfg.n_heads} must be even for rotary embeddings"
    if not 0.0 <= cfg.dropout < 1.0:
        return f"--dropout must be in [0, 1), got {cfg.dropout}"
    if cfg.learning_rate <= 0 or cfg.min_lr < 0 or cfg.min_lr > cfg.learning_rate:
        return "learning rates must satisfy 0 <= --min-lr <= --learning-rate and --learning-rate > 0"
    if cfg.warmup_iters < 0 or cfg.grad_clip < 0 or cfg.weight_decay < 0:
        return "--warmup-iters, --grad-clip and --weight-decay must not be negative"
    if not (0 <= cfg.beta1 < 1 and 0 <= cfg.beta2 < 1):
        return "--beta1 and --beta2 must be in [0, 1)"
    if cfg.vocab_size > 65536:
        return f"--vocab-size {cfg.vocab_size} does not fit uint16 shards (max 65536)"
    if cfg.device not in ("auto", "cpu", "cuda", "mps") and not cfg.device.startswith("cuda:"):
        return f"--device must be auto, cpu, cuda or mps, got {cfg.device}"
    if cfg.lora_plus_ratio <= 0:
        return "--lora-plus-ratio must be positive"
    if cfg.lora_rank < 0 or cfg.lora_alpha <= 0 or not 0.0 <= cfg.lora_dropout < 1.0:
        return "--lora-rank must not be negative, --lora-alpha must be positive and --lora-dropout in [0, 1)"
    if cfg.lora_rank > 0 and cfg.init_from == "scratch":
        return "--lora-rank trains adapters on a pretrained base: pass it with --init-from PATH"
    try:
        parse_targets(cfg.lora_targets)
    except ValueError as e:
        return f"--lora-targets: {e}"
    if cfg.quantize not in ("none", "nf4"):
        return f"--quantize must be none or nf4, got {cfg.quantize}"
    if cfg.quantize == "nf4" and cfg.lora_rank == 0 and cfg.init_from != "resume":
        return "--quantize nf4 freezes the base in 4 bits, so only LoRA adapters can train: set --lora-rank"
    if cfg.double_quant and cfg.quantize != "nf4":
        return "--double-quant applies to --quantize nf4"
    return None


def main(argv=None):
    cfg, no_sample = parse_args(argv)
    try:
        summary = train(cfg)
        if not no_sample and "RANK" not in os.environ:
            show_sample(cfg)
    except USER_ERRORS as e:
        sys.exit(f"error: {e}")
    return summary


if __name__ == "__main__":
    main()
