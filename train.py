"""
Train a tiny Llama on stories: pretraining (completion only) or instruction tuning.

    python train.py --instruct                     # built-in stories, 10-20 minutes on 2 CPU cores
    python train.py --dataset stories.jsonl        # your own records ({"prompt": ..., "story": ...})
    torchrun --standalone --nproc_per_node=2 train.py --instruct   # data parallel

With no data prepared yet, the run builds it first (data/prepare.py): records -> SentencePiece vocab ->
token shards, all cached under --data-dir so the next run starts training at once. Everything it writes
goes to --out-dir: ckpt.pt (resume with --init-from resume), model.bin (for run.c), tokenizer.model,
tokenizer.bin and log.jsonl (one JSON line per logged step).

Fine-tuning starts from any model the project loads (--init-from: our ckpt.pt or model.bin, llama2.c's
ckpt.pt or model.bin); its tokenizer is the .model beside it, or --tokenizer. LoRA / QLoRA (lora.py)
keeps the base frozen and trains adapters only:

    python train.py --instruct --init-from out/ckpt.pt --lora-rank 8 --out-dir out-lora
    python train.py --instruct --init-from out/ckpt.pt --lora-rank 8 --quantize nf4 --double-quant --out-dir out-qlora
    python train.py --instruct --init-from stories260K.bin --tokenizer tok512.model --lora-rank 8 --dataset teacher.csv

An adapter run also writes adapter.pt (the adapter tensors only; `sample.py BASE --adapter adapter.pt`);
its ckpt.pt and model.bin hold the adapter merged into the (dequantized) base.
"""

import argparse
import dataclasses
import importlib.util
import json
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist

from data import storyteller
from data.prepare import VAL_FRACTION, prepare
from data.shards import Batches
from errors import USER_ERRORS, CheckpointError, exit_with
from formats import adapter, checkpoint
from formats.atomic import write_bytes
from formats.loader import load_model, save_model
from lora import apply_lora, enable_grad_checkpointing, lora_parameters, merged_model, parse_targets
from model import ModelArgs, Transformer, pick_device
from tokenizer import Tokenizer, open_tokenizer


def option(default, help: str):
    """A TrainConfig field: its default and the --help text, in one place."""
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    # I/O
    out_dir: str = option("out", "where ckpt.pt, model.bin, tokenizer.* and log.jsonl are written")
    init_from: str = option("scratch", "scratch, resume (continue --out-dir/ckpt.pt exactly), or any model file "
                                       "to fine-tune: our ckpt.pt or model.bin, llama2.c's ckpt.pt or model.bin")
    tokenizer: str = option("", "with --init-from PATH: the tokenizer .model the model was trained with "
                                "(default: tokenizer.model beside it)")
    # data
    dataset: str = option("builtin", "builtin (offline synthetic stories), tinystories, a .jsonl/.csv/.txt file "
                                     "of stories, or a directory of encoded shards")
    data_dir: str = option("data/cache", "cache for prepared data (records, vocab, shards)")
    instruct: bool = option(False, "instruction tuning: examples are prompt + BOS + story + EOS and only the "
                                   "story is learned")
    builtin_stories: int = option(30000, "how many built-in stories to generate")
    vocab_size: int = option(1024, "SentencePiece vocab size trained for this dataset (from scratch only)")
    val_fraction: float = option(VAL_FRACTION, "share of the records held out for validation")
    # model shape (from scratch only: a fine-tune or resume takes the shape of its model)
    dim: int = option(128, "model width")
    n_layers: int = option(4, "transformer blocks")
    n_heads: int = option(4, "query heads")
    n_kv_heads: int = option(2, "key/value heads (grouped-query attention when fewer than --n-heads)")
    multiple_of: int = option(32, "SwiGLU hidden size is rounded up to a multiple of this")
    max_seq_len: int = option(256, "context length of the model and of training windows")
    dropout: float = option(0.0, "dropout probability")
    # optimisation
    batch_size: int = option(32, "sequences per micro-step, per process")
    grad_accum: int = option(1, "micro-steps per optimiser step")
    max_iters: int = option(1000, "optimiser steps in total")
    learning_rate: float = option(3e-3, "peak AdamW learning rate")
    min_lr: float = option(3e-4, "learning rate at the end of the cosine decay")
    warmup_iters: int = option(100, "steps of linear warmup")
    weight_decay: float = option(0.1, "AdamW weight decay (matrices only)")
    beta1: float = option(0.9, "AdamW beta1")
    beta2: float = option(0.95, "AdamW beta2")
    grad_clip: float = option(1.0, "clip the gradient norm to this (0: off)")
    # evaluation and logging
    eval_interval: int = option(300, "evaluate, checkpoint and export every this many steps")
    eval_iters: int = option(20, "validation batches per evaluation")
    log_interval: int = option(10, "log the training loss every this many steps")
    # system
    seed: int = option(1337, "random seed (data split and windows, init)")
    device: str = option("auto", "auto, cpu, cuda or mps")
    dtype: str = option("auto", "float32, or bfloat16 autocast (matmuls in bf16; weights, optimizer and loss in "
                                "float32); auto: bfloat16 where the hardware computes it natively (CUDA GPUs that "
                                "support it, CPUs with AVX512-BF16 or AMX), float32 elsewhere")
    compile: bool | None = option(None, "torch.compile the model (default: for runs of 500+ steps without LoRA, "
                                        "on CPU with a C++ compiler or CUDA with Triton; its ~30 s warmup then pays off)")
    # LoRA / QLoRA fine-tuning (with --init-from PATH)
    lora_rank: int = option(0, "LoRA rank r: train adapters on a frozen --init-from base (0: fine-tune every weight)")
    lora_alpha: float = option(16.0, "LoRA alpha: the update is scaled by alpha/r")
    lora_dropout: float = option(0.0, "dropout on the LoRA adapters' input")
    lora_targets: str = option("wq,wk,wv,wo,w1,w2,w3", "comma list of the layers that get adapters: "
                               "wq,wk,wv,wo,w1,w2,w3, and tok_embeddings (with tied weights it adapts the "
                               "output classifier too)")
    lora_rslora: bool = option(False, "rank-stabilised LoRA: scale the update by alpha/sqrt(r) instead of alpha/r")
    lora_plus_ratio: float = option(1.0, "LoRA+: the adapters' B matrices get this many times the learning rate "
                                         "of A (1: plain LoRA)")
    quantize: str = option("none", "none, or nf4: store the targeted linears of the frozen base in 4-bit "
                                   "NormalFloat (QLoRA; needs --lora-rank)")
    double_quant: bool = option(False, "with --quantize nf4: quantize the block scales to 8 bits too "
                                       "(about 4.13 bits per weight)")
    grad_checkpointing: bool = option(False, "recompute each block's activations in the backward pass to save memory")


SHAPE_FLAGS = ("vocab_size", "dim", "n_layers", "n_heads", "n_kv_heads", "multiple_of")


# ----------------------------------------------------------------------------------------------
# optimisation

def learning_rate(step: int, cfg: TrainConfig) -> float:
    """Linear warmup, then cosine decay to min_lr at max_iters."""
    if step < cfg.warmup_iters:
        return cfg.learning_rate * (step + 1) / cfg.warmup_iters
    progress = (step - cfg.warmup_iters) / max(1, cfg.max_iters - cfg.warmup_iters)
    return cfg.min_lr + 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))) * (cfg.learning_rate - cfg.min_lr)


def native_bf16(device_type: str) -> bool:
    """Whether this device multiplies bfloat16 matrices in hardware. Elsewhere (AVX2-only CPUs, older GPUs)
    bf16 is emulated and slower than float32. torch.cpu's feature probes are private, hence getattr."""
    if device_type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device_type == "cpu":
        return any(getattr(torch.cpu, probe, lambda: False)()
                   for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))
    return False


def autocast_dtype(cfg: TrainConfig, device_type: str) -> torch.dtype:
    """The dtype matmuls run in: --dtype, with auto resolved by native_bf16."""
    if cfg.dtype == "auto":
        return torch.bfloat16 if native_bf16(device_type) else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16}[cfg.dtype]


COMPILE_MIN_STEPS = 500  # below this the ~30 s compile costs more than the 20-30% it saves per step (CPU)


def use_compile(cfg: TrainConfig, device_type: str) -> bool:
    """--compile / --no-compile, or by default: a long enough full-weight run on a device inductor can build
    kernels for (a C++ compiler for CPU, Triton for CUDA). LoRA runs stay eager: the NF4 matmul is a
    custom autograd function holding a module, which dynamo would split the graph around."""
    if cfg.compile is not None:
        return cfg.compile
    if cfg.max_iters < COMPILE_MIN_STEPS or cfg.lora_rank > 0 or cfg.grad_checkpointing or os.name == "nt":
        return False
    if device_type == "cpu":
        return any(shutil.which(c) for c in (os.environ.get("CXX", ""), "c++", "g++", "clang++") if c)
    if device_type == "cuda":
        return importlib.util.find_spec("triton") is not None
    return False


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
# the steps of a run, in the order train() takes them

@dataclass
class Processes:
    """This process's place in a data-parallel run (one process: rank 0 of 1) and its device."""
    ddp: bool
    rank: int
    world: int
    device: str

    @property
    def device_type(self) -> str:
        return self.device.split(":")[0]

    @property
    def master(self) -> bool:
        return self.rank == 0


def setup_processes(cfg: TrainConfig) -> Processes:
    """torchrun sets RANK and WORLD_SIZE: join its process group (nccl on GPUs, gloo on CPUs)."""
    ddp = "RANK" in os.environ and "WORLD_SIZE" in os.environ
    rank, world = (int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])) if ddp else (0, 1)
    device = pick_device(cfg.device)
    if ddp:
        if device == "cuda":
            device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    if device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return Processes(ddp, rank, world, device)


@dataclass
class Start:
    """What a run starts from when not from scratch."""
    model: Transformer  # with --dropout applied; a resumed adapter run's already carries its adapters
    tokenizer: Tokenizer  # the one the model was trained with
    checkpoint: dict | None = None  # a resumed run's ckpt.pt: optimizer state, step, RNG
    lora_run: dict | None = None  # a resumed adapter run's base path, base identity and adapter config


def with_dropout(model: Transformer, p: float) -> Transformer:
    """The model with dropout p (a fine-tune may want another than its base was trained with)."""
    if model.args.dropout == p:
        return model
    rebuilt = Transformer(dataclasses.replace(model.args, dropout=p))
    rebuilt.load_state_dict(model.state_dict())
    return rebuilt


def load_start(cfg: TrainConfig) -> Start | None:
    """The model and tokenizer to start from: none (scratch), --out-dir/ckpt.pt (resume), or any model
    file the loader reads (fine-tune). All go through formats/: the loader, and for a resumed adapter
    run the loader for its base plus the adapter tensors its checkpoint keeps."""
    if cfg.init_from == "scratch":
        return None
    if cfg.init_from != "resume":
        model, info = load_model(cfg.init_from)
        tokenizer = open_tokenizer(cfg.init_from, cfg.tokenizer or None, info["tokenizer"], model.args.vocab_size)
        return Start(with_dropout(model, cfg.dropout), tokenizer)

    path = Path(cfg.out_dir) / "ckpt.pt"
    if not path.exists():
        raise CheckpointError(f"--init-from resume: no checkpoint at {path}")
    ckpt = checkpoint.read(path)
    if not checkpoint.is_ours(ckpt):
        raise CheckpointError(f"{path}: not a checkpoint of train.py, so it cannot be resumed; fine-tune it with "
                              f"--init-from {path}")
    lora_run = None
    if ckpt.get("lora"):  # an adapter run saved the merged model; rebuild its frozen base, put the adapter back
        lora_run = {k: v for k, v in ckpt["lora"].items() if k != "adapter"}
        model, _ = load_model(lora_run["base"])
        identity = adapter.base_identity(model.state_dict())
        if identity != lora_run["base_identity"]:
            raise CheckpointError(f"{lora_run['base']} has changed since this adapter run started; cannot resume")
        model = adapter.apply(with_dropout(model, cfg.dropout).train(), ckpt["lora"], identity, path)
    else:
        model = with_dropout(checkpoint.model_from(ckpt, path), cfg.dropout)
    tokenizer = open_tokenizer(path, None, ckpt["tokenizer"], model.args.vocab_size)
    return Start(model, tokenizer, ckpt, lora_run)


def prepare_data(cfg: TrainConfig, procs: Processes, start: Start | None, log) -> tuple[Batches, Batches, Tokenizer]:
    """Training and validation batches, and the tokenizer; rank 0 prepares the data, the others wait and
    then find it cached."""
    def run_prepare():
        return prepare(cfg.dataset, cfg.data_dir, instruct=cfg.instruct, seed=cfg.seed, val_fraction=cfg.val_fraction,
                       vocab_size=cfg.vocab_size, builtin_stories=cfg.builtin_stories,
                       tokenizer_model=start.tokenizer.model_path if start else None, log=log)
    if procs.master:
        shard_dir, tokenizer_model = run_prepare()
    if procs.ddp:
        dist.barrier()
        if not procs.master:
            shard_dir, tokenizer_model = run_prepare()
    tokenizer = start.tokenizer if start else Tokenizer(tokenizer_model)

    def batches(split: str, seed: int) -> Batches:
        return Batches(sorted(shard_dir.glob(f"{split}_*.bin")), cfg.max_seq_len, cfg.batch_size, tokenizer,
                       mask_prompt=cfg.instruct, seed=seed)
    return batches("train", cfg.seed), batches("val", cfg.seed + 1), tokenizer


def build_model(cfg: TrainConfig, start: Start | None, tokenizer: Tokenizer) -> tuple[Transformer, dict | None]:
    """The model to train and, for an adapter run, its description (base path, identity, adapter config)."""
    if start is None:
        args = ModelArgs(dim=cfg.dim, n_layers=cfg.n_layers, n_heads=cfg.n_heads, n_kv_heads=cfg.n_kv_heads,
                         vocab_size=tokenizer.vocab_size, multiple_of=cfg.multiple_of,
                         max_seq_len=cfg.max_seq_len, dropout=cfg.dropout)
        return Transformer(args), None
    model = start.model
    if cfg.max_seq_len > model.args.max_seq_len:
        raise CheckpointError(f"--max-seq-len {cfg.max_seq_len} exceeds the model's context of {model.args.max_seq_len}")
    if start.checkpoint is not None or cfg.lora_rank == 0:
        return model, start.lora_run
    identity = adapter.base_identity(model.state_dict())
    try:
        apply_lora(model, cfg.lora_targets, cfg.lora_rank, cfg.lora_alpha, cfg.lora_dropout, cfg.lora_rslora,
                   quantize=cfg.quantize, double_quant=cfg.double_quant)
    except ValueError as e:  # targets this base cannot take (output of a tied model)
        raise CheckpointError(f"--lora-targets {cfg.lora_targets} on {cfg.init_from}: {e}") from None
    return model, {"base": str(Path(cfg.init_from).resolve()), "base_identity": identity, "config": model.lora_config}


def resume_state(start: Start | None, optimizer, procs: Processes) -> tuple[int, float]:
    """(step, best validation loss) to continue from; a resumed run also gets its optimizer moments and
    this rank's random generator back, so it continues exactly where the checkpoint was written."""
    if start is None or start.checkpoint is None:
        return 0, float("inf")
    ckpt = start.checkpoint
    optimizer.load_state_dict(ckpt["optimizer"])
    set_rng_state(ckpt["rng"][procs.rank % len(ckpt["rng"])], procs.device_type)
    return ckpt["step"], ckpt["best_val_loss"]


def write_outputs(out_dir: Path, tokenizer: Tokenizer):
    """The vocabulary travels with the model: tokenizer.model for Python, tokenizer.bin for run.c."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if tokenizer.model_path.resolve() != (out_dir / "tokenizer.model").resolve():
        write_bytes(out_dir / "tokenizer.model", tokenizer.model_path.read_bytes())
    tokenizer.export(out_dir / "tokenizer.bin")


def save_run(out_dir: Path, model, optimizer, step: int, best_val: float, cfg: TrainConfig, tokenizer: Tokenizer,
             lora_run: dict | None, procs: Processes):
    """One checkpoint that resumes exactly (weights, optimizer moments, step, every rank's RNG), and the
    model.bin run.c reads. Every rank calls it (the RNG states are gathered); rank 0 writes."""
    rng = [get_rng_state(procs.device_type)]
    if procs.ddp:
        rng = [None] * procs.world
        dist.all_gather_object(rng, get_rng_state(procs.device_type))
    if not procs.master:
        return
    plain, extra = model, {}
    if lora_run:  # ckpt.pt and model.bin get the merged model, so sample/eval/run need no adapter code
        plain = merged_model(model)
        extra["lora"] = {**lora_run, "adapter": {k: v.detach().cpu() for k, v in lora_parameters(model).items()}}
        adapter.save(out_dir / "adapter.pt", model, lora_run["base_identity"], base=lora_run["base"],
                     instruct=cfg.instruct, tokenizer=tokenizer.identity)
    checkpoint.save(out_dir / "ckpt.pt", plain, optimizer=optimizer.state_dict(), step=step, best_val_loss=best_val,
                    rng=rng, config=dataclasses.asdict(cfg), instruct=cfg.instruct, tokenizer=tokenizer.identity,
                    **extra)
    save_model(plain, out_dir / "model.bin", "ours", mode="instruct" if cfg.instruct else "generate",
               tokenizer=tokenizer)


def describe_run(model, lora_run, cfg: TrainConfig, procs: Processes) -> str:
    lines = []
    if lora_run:
        c = lora_run["config"]
        lines.append(f"LoRA r={c['r']} alpha={c['alpha']} on {','.join(c['targets'])}"
                     f"{' over an NF4 base' if c['quantize'] == 'nf4' else ''}: "
                     f"{sum(p.numel() for p in lora_parameters(model).values()):,} trainable parameters")
    tokens_per_step = cfg.batch_size * cfg.grad_accum * procs.world * cfg.max_seq_len
    dtype = str(autocast_dtype(cfg, procs.device_type)).removeprefix("torch.")
    lines.append(f"model: {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters, "
                 f"{model.args.n_layers} layers, dim {model.args.dim}; {tokens_per_step:,} tokens per step on "
                 f"{procs.world} x {procs.device}, {dtype}{', compiled' if use_compile(cfg, procs.device_type) else ''}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# the run

def train(cfg: TrainConfig) -> dict:
    """Run one training job; return a summary dict. Raises USER_ERRORS for bad input."""
    procs = setup_processes(cfg)
    log = print if procs.master else (lambda *a, **k: None)
    out_dir, device = Path(cfg.out_dir), procs.device
    torch.manual_seed(cfg.seed + procs.rank)
    # bf16 autocast where the hardware has it (no loss scaling needed, unlike fp16): the weights, AdamW's
    # moments, the norms and the loss stay float32, only the matmuls' inputs are rounded to bf16
    dtype = autocast_dtype(cfg, procs.device_type)
    autocast = torch.autocast(procs.device_type, dtype=dtype, enabled=dtype != torch.float32)

    start = load_start(cfg)
    train_batches, val_batches, tokenizer = prepare_data(cfg, procs, start, log)
    model, lora_run = build_model(cfg, start, tokenizer)
    if cfg.grad_checkpointing:
        enable_grad_checkpointing(model)
    model.to(device)
    optimizer = make_optimizer(model, cfg, procs.device_type)
    step, best_val = resume_state(start, optimizer, procs)
    start = None  # free the checkpoint
    train_model = torch.compile(model) if use_compile(cfg, procs.device_type) else model
    if procs.ddp:
        train_model = torch.nn.parallel.DistributedDataParallel(
            train_model, device_ids=[device] if procs.device_type == "cuda" else None)
    if procs.master:
        write_outputs(out_dir, tokenizer)
    log(describe_run(model, lora_run, cfg, procs))
    tokens_per_step = cfg.batch_size * cfg.grad_accum * procs.world * cfg.max_seq_len

    from tqdm import tqdm
    bar = tqdm(total=cfg.max_iters, initial=step, disable=not procs.master, dynamic_ncols=True, desc="train")
    t0, tokens_since, last_loss = time.time(), 0, float("nan")
    while step < cfg.max_iters:
        lr = learning_rate(step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)  # checkpoints from before LoRA+ have no scale

        loss_sum = torch.zeros((), device=device)
        for micro in range(cfg.grad_accum):
            # micro-batch index across all processes: a run on 2 processes sees the same windows per step
            # as a run on 1 process with twice the grad_accum
            x, y = train_batches.get(step, micro * procs.world + procs.rank)
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            sync = not procs.ddp or micro == cfg.grad_accum - 1
            with (train_model.no_sync() if not sync else torch.enable_grad()), autocast:
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
            if procs.ddp:
                dist.all_reduce(loss_sum, op=dist.ReduceOp.AVG)
            last_loss, tok_s = loss_sum.item(), tokens_since / (time.time() - t0)
            t0, tokens_since = time.time(), 0
            bar.set_postfix(loss=f"{last_loss:.4f}", lr=f"{lr:.2e}", tok_s=f"{tok_s:,.0f}")
            write_log(out_dir, procs, {"step": step, "loss": last_loss, "lr": lr, "tokens_per_s": round(tok_s, 1)})
        bar.update(1)

        if step % cfg.eval_interval == 0 or step == cfg.max_iters:
            val_loss = estimate_val_loss(model, val_batches, cfg, device, autocast)
            best_val = min(best_val, val_loss)
            write_log(out_dir, procs, {"step": step, "val_loss": val_loss})
            bar.write(f"step {step}: train loss {last_loss:.4f}, val loss {val_loss:.4f}")
            save_run(out_dir, model, optimizer, step, best_val, cfg, tokenizer, lora_run, procs)
            t0 = time.time()  # don't count evaluation in tokens/s
    bar.close()
    if procs.ddp:
        dist.barrier()
        dist.destroy_process_group()
    return {"step": step, "loss": last_loss, "best_val_loss": best_val, "out_dir": str(out_dir)}


def write_log(out_dir: Path, procs: Processes, record: dict):
    """Append one JSON line to log.jsonl (an append log: each line is whole, earlier lines are never rewritten)."""
    if procs.master:
        with open(out_dir / "log.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")


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

def build_parser(defaults: bool = True) -> argparse.ArgumentParser:
    """One flag per TrainConfig field; defaults=False leaves out every default, so that parsing tells which
    flags were given at all (given_flags)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for f in dataclasses.fields(TrainConfig):
        flag, help_text = "--" + f.name.replace("_", "-"), f.metadata["help"]
        default = f.default if defaults else argparse.SUPPRESS
        if f.type in (bool, "bool", bool | None, "bool | None"):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=help_text)
        else:
            kind = {"int": int, "float": float, "str": str}[f.type] if isinstance(f.type, str) else f.type
            parser.add_argument(flag, type=kind, default=default, help=f"{help_text} (default: {f.default})")
    parser.add_argument("--no-sample", action="store_true", help="don't print a sample story at the end")
    return parser


def given_flags(argv) -> set[str]:
    """The TrainConfig fields named on the command line, whatever their value."""
    return set(vars(build_parser(defaults=False).parse_args(argv))) - {"no_sample"}


def parse_args(argv=None) -> tuple[TrainConfig, bool]:
    """(the run's config, whether to skip the closing sample); usage errors exit 2 with one line."""
    parser = build_parser()
    ns = parser.parse_args(argv)
    no_sample = ns.__dict__.pop("no_sample")
    cfg = TrainConfig(**vars(ns))
    problem = validate(cfg, given_flags(argv))
    if problem:
        parser.error(problem)
    return cfg, no_sample


def validate(cfg: TrainConfig, given: set[str] = frozenset()) -> str | None:
    """The first problem with the config, as a message, or None. given: the fields named on the command
    line, so that flags a run would ignore are refused instead."""
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
    try:
        pick_device(cfg.device)
    except ValueError as e:
        return str(e)
    if cfg.dtype not in ("auto", "float32", "bfloat16"):
        return f"--dtype must be auto, float32 or bfloat16, got {cfg.dtype}"
    if cfg.lora_plus_ratio <= 0:
        return "--lora-plus-ratio must be positive"
    if cfg.lora_rank < 0 or cfg.lora_alpha <= 0 or not 0.0 <= cfg.lora_dropout < 1.0:
        return "--lora-rank must not be negative, --lora-alpha must be positive and --lora-dropout in [0, 1)"
    if cfg.init_from != "scratch":
        ignored = [f"--{name.replace('_', '-')}" for name in SHAPE_FLAGS if name in given]
        if ignored:
            return (f"{', '.join(ignored)} set the shape of a new model; with --init-from the model's own shape "
                    f"is used, so leave them out")
    if cfg.tokenizer and cfg.init_from in ("scratch", "resume"):
        return "--tokenizer names the tokenizer of an --init-from PATH model (scratch trains one, resume uses --out-dir's)"
    if not 0.0 <= cfg.val_fraction < 1.0:
        return f"--val-fraction must be in [0, 1), got {cfg.val_fraction}"
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
        exit_with(e)
    return summary


if __name__ == "__main__":
    main()
