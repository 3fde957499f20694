"""PyTorch checkpoints: train.py's ckpt.pt, and the ckpt.pt of llama2.c's train.py.

Both are torch.save'd dicts (a zip archive) holding "model_args" (ModelArgs fields) and "model" (the
state_dict). Ours adds what resuming needs and what the model is: "optimizer", "step", "best_val_loss",
"rng" (every rank's generator state), "config" (train.py's TrainConfig), "instruct", "tokenizer" (the
sha256 of its SentencePiece .model), and for an adapter run "lora" (see train.py). llama2.c's adds
"optimizer", "iter_num", "best_val_loss" and its own "config"; its state_dict keys carry torch.compile's
"_orig_mod." prefix when it trained compiled.
"""

import dataclasses
from pathlib import Path

import torch

from errors import CheckpointError
from formats.atomic import atomic_write
from model import ModelArgs, Transformer

COMPILED_PREFIX = "_orig_mod."


def save_torch(obj, path):
    """torch.save, atomically."""
    with atomic_write(path) as f:
        torch.save(obj, f)


def load_torch(path, what: str, weights_only: bool = True):
    """torch.load onto the CPU; CheckpointError naming `what` for a missing or unreadable file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such {what} file")
    try:
        return torch.load(path, map_location="cpu", weights_only=weights_only)
    except Exception as e:  # torch raises many kinds for a corrupt zip/pickle; all mean "not that file"
        raise CheckpointError(f"{path}: not a readable {what} file ({type(e).__name__})") from None


def save(path, model: Transformer, **extra):
    """The model's shape and weights plus whatever train.py adds (optimizer state, step, RNG, config,
    instruct flag, tokenizer identity), atomically."""
    model = getattr(model, "_orig_mod", model)
    save_torch({"model_args": dataclasses.asdict(model.args), "model": model.state_dict(), **extra}, path)


def read(path) -> dict:
    """The checkpoint dict, on the CPU: ours or llama2.c's. CheckpointError when it is neither."""
    # weights_only=False: our checkpoints hold train.py's config and adapter settings as plain Python
    checkpoint = load_torch(path, "checkpoint", weights_only=False)
    if not isinstance(checkpoint, dict) or "model_args" not in checkpoint or "model" not in checkpoint:
        raise CheckpointError(f"{path}: not a model checkpoint (no model_args/model): neither train.py's "
                              f"nor llama2.c's")
    return checkpoint


def is_ours(checkpoint: dict) -> bool:
    return "tokenizer" in checkpoint and "step" in checkpoint


def model_from(checkpoint: dict, path) -> Transformer:
    """The Transformer a checkpoint dict describes, on the CPU."""
    known = {f.name for f in dataclasses.fields(ModelArgs)}
    unknown = set(checkpoint["model_args"]) - known
    if unknown:
        raise CheckpointError(f"{path}: model_args has fields this model does not know: {', '.join(sorted(unknown))}")
    state_dict = {k.removeprefix(COMPILED_PREFIX): v for k, v in checkpoint["model"].items()}
    embedding, output = state_dict.get("tok_embeddings.weight"), state_dict.get("output.weight")
    if (checkpoint["model_args"].get("tie_embeddings", True) and embedding is not None and output is not None
            and not torch.equal(embedding, output)):
        # loading would keep one of the two matrices, silently: refuse instead
        raise CheckpointError(f"{path}: model_args say the classifier shares the embedding's weight, but the "
                              f"checkpoint holds two different matrices")
    try:
        model = Transformer(ModelArgs(**checkpoint["model_args"]))
        model.load_state_dict(state_dict)
    except (TypeError, ValueError, RuntimeError) as e:
        reason = " ".join(str(e).split())  # torch's message spans lines, one per tensor
        reason = reason if len(reason) <= 300 else reason[:300] + " ..."
        raise CheckpointError(f"{path}: weights do not match the model shape it records ({reason})") from None
    return model


def read_model(path) -> tuple[Transformer, dict]:
    """The model in a checkpoint, and what the checkpoint knows about it (see loader.load_model)."""
    checkpoint = read(path)
    model = model_from(checkpoint, path)
    if is_ours(checkpoint):
        info = {"format": "checkpoint", **{k: checkpoint.get(k) for k in ("instruct", "tokenizer", "config", "step")}}
    else:  # llama2.c's: a completion model; its config is llama2.c's, not ours
        info = {"format": "llama2c-checkpoint", "instruct": False, "tokenizer": None, "config": None,
                "step": checkpoint.get("iter_num")}
    return model, {**info, "bos_id": 1, "eos_id": 2, "tokenizer_flags": None}
