"""LoRA adapter files (adapter.pt): the adapter tensors, their settings, and which base they belong to.

A torch.save'd dict: "format" ("llama-lora-adapter"), "config" (lora.apply_lora's arguments),
"base_identity" (base_identity of the base's weights), "adapter" ({name: tensor}, e.g.
"layers.0.attention.wq.lora_A" (r, in)), plus what train.py adds ("base": the base's path, "instruct",
"tokenizer"). An adapter's update B A only means something on top of the weights it was trained against,
so a different base is refused.
"""

import hashlib

import torch

from errors import CheckpointError
from formats.checkpoint import load_torch, save_torch
from lora import apply_lora, lora_parameters
from model import Transformer

FORMAT = "llama-lora-adapter"


def base_identity(state_dict: dict) -> str:
    """sha256 over the base model's tensors (names, dtypes, shapes and bytes), in name order."""
    h = hashlib.sha256()
    for name in sorted(state_dict):
        t = state_dict[name].detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}\n".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save(path, model: Transformer, identity: str, **extra):
    """Write only the adapter tensors, model.lora_config and the base identity, atomically."""
    state = {"format": FORMAT, "config": model.lora_config, "base_identity": identity,
             "adapter": {k: v.detach().cpu().clone() for k, v in lora_parameters(model).items()}, **extra}
    save_torch(state, path)


def read(path) -> dict:
    state = load_torch(path, "adapter")
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an adapter written by train.py --lora-rank")
    return state


def apply(model: Transformer, state: dict, identity: str, where) -> Transformer:
    """Wrap `model` (the base the adapter was trained on, not yet wrapped) with the adapter in `state` (an
    adapter file's dict, or the "lora" entry of an adapter run's checkpoint) and copy its tensors in.
    identity: base_identity() of the model's weights; `where` names the file in errors."""
    if state["base_identity"] != identity:
        raise CheckpointError(f"{where} was trained on a different base model (sha256 {state['base_identity'][:12]}, "
                              f"this base is {identity[:12]}); pass the model it was fine-tuned from")
    apply_lora(model, **state["config"])
    params = lora_parameters(model)
    if set(params) != set(state["adapter"]):
        raise CheckpointError(f"{where}: its tensors do not match this model's LoRA layers")
    with torch.no_grad():
        for name, p in params.items():
            if p.shape != state["adapter"][name].shape:
                raise CheckpointError(f"{where}: {name} has shape {tuple(state['adapter'][name].shape)}, "
                                      f"the model expects {tuple(p.shape)}")
            p.copy_(state["adapter"][name])
    return model


def load(model: Transformer, path) -> dict:
    """Apply the adapter file at `path` to `model`, its base; return the file's dict."""
    state = read(path)
    apply(model, state, base_identity(model.state_dict()), path)
    return state
