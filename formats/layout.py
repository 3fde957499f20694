"""The weight shapes of a Llama, and reading and writing them as float32 streams.

Every .bin format here (llama2.c's versions 0 and 1, ours) is a header followed by float32 tensors in some
order with no padding. A format is described by a *layout*: the (state_dict name, shape) of each tensor in
file order, built from the one table below. Reading and writing a layout is the same for all of them.
"""

import math

import numpy as np
import torch

from errors import CheckpointError
from model import ModelArgs, Transformer

# The 7 int32 that every .bin header holds (llama2.c's order), and sanity bounds on each, so that a corrupt
# header fails with a message instead of a huge allocation. run.c checks the same bounds.
CONFIG_FIELDS = ("dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "max_seq_len")
CONFIG_LIMITS = {"dim": 1 << 16, "hidden_dim": 1 << 20, "n_layers": 1 << 10, "n_heads": 1 << 12,
                 "n_kv_heads": 1 << 12, "vocab_size": 1 << 24, "max_seq_len": 1 << 24}


def block_shapes(args: ModelArgs) -> dict[str, tuple[int, ...]]:
    """Shape of every weight in one transformer block, by its name under layers.<i>., in module order."""
    kv_dim = args.n_kv_heads * args.head_dim
    return {"attention_norm.weight": (args.dim,),
            "attention.wq.weight": (args.n_heads * args.head_dim, args.dim),
            "attention.wk.weight": (kv_dim, args.dim),
            "attention.wv.weight": (kv_dim, args.dim),
            "attention.wo.weight": (args.dim, args.n_heads * args.head_dim),
            "ffn_norm.weight": (args.dim,),
            "feed_forward.w1.weight": (args.hidden_dim, args.dim),
            "feed_forward.w2.weight": (args.dim, args.hidden_dim),
            "feed_forward.w3.weight": (args.hidden_dim, args.dim)}


def embedding(args: ModelArgs) -> tuple[str, tuple[int, int]]:
    return "tok_embeddings.weight", (args.vocab_size, args.dim)


def final_norm(args: ModelArgs) -> tuple[str, tuple[int]]:
    return "norm.weight", (args.dim,)


def classifier(args: ModelArgs) -> list[tuple[str, tuple[int, int]]]:
    """The output classifier's entry, or none when it shares the embedding's weight."""
    return [] if args.tie_embeddings else [("output.weight", (args.vocab_size, args.dim))]


def across_layers(args: ModelArgs, names) -> list[tuple[str, tuple[int, ...]]]:
    """Each named block weight for every layer, then the next name: llama2.c's order."""
    shapes = block_shapes(args)
    return [(f"layers.{i}.{name}", shapes[name]) for name in names for i in range(args.n_layers)]


def layer_by_layer(args: ModelArgs, names) -> list[tuple[str, tuple[int, ...]]]:
    """Every named block weight of layer 0, then of layer 1, ...: our order."""
    shapes = block_shapes(args)
    return [(f"layers.{i}.{name}", shapes[name]) for i in range(args.n_layers) for name in names]


def n_floats(layout) -> int:
    return sum(math.prod(shape) for _, shape in layout)


def config_ints(args: ModelArgs) -> list[int]:
    return [getattr(args, name) for name in CONFIG_FIELDS]


def args_from_header(path, what: str, ints, **fields) -> ModelArgs:
    """ModelArgs from a header's 7 config ints (CONFIG_FIELDS order) and whatever else it records;
    CheckpointError for a value out of bounds or a shape the model cannot take. what: the header's
    name in messages ("llama2.c version 0 header")."""
    for name, value in zip(CONFIG_FIELDS, ints):
        if not 0 < value <= CONFIG_LIMITS[name]:
            raise CheckpointError(f"{path}: {what} has {name}={value}, outside 1..{CONFIG_LIMITS[name]}; "
                                  f"not such a file, or corrupt")
    try:
        return ModelArgs(**dict(zip(CONFIG_FIELDS, ints)), **fields)
    except ValueError as e:
        raise CheckpointError(f"{path}: inconsistent {what}: {e}") from None


def read_model(path, header_bytes: int, args: ModelArgs, layout) -> Transformer:
    """The Transformer whose tensors follow a header of header_bytes in path, in layout order. Names in the
    layout that are not model weights (llama2.c v0's RoPE tables) are read and dropped."""
    size = path.stat().st_size
    expected = header_bytes + 4 * n_floats(layout)
    if size != expected:
        raise CheckpointError(f"{path}: header implies {expected} bytes but the file has {size}; "
                              f"truncated, or not the format its header suggests")
    try:
        data = np.fromfile(path, dtype="<f4", offset=header_bytes)  # one read, no per-float Python
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read: {e.strerror or e}") from None
    model = Transformer(args)
    names = set(model.state_dict())
    state_dict, offset = {}, 0
    for name, shape in layout:
        n = math.prod(shape)
        if name in names:
            state_dict[name] = torch.from_numpy(data[offset:offset + n].reshape(shape))
        offset += n
    if args.tie_embeddings:
        state_dict["output.weight"] = state_dict["tok_embeddings.weight"]
    model.load_state_dict(state_dict)
    return model


def write_tensors(f, tensors: dict, layout):
    """Write the tensors of layout to the open file f as little-endian float32, in layout order."""
    for name, shape in layout:
        t = tensors[name].detach().to("cpu", torch.float32)
        assert t.shape == shape, f"{name}: shape {tuple(t.shape)}, layout says {shape}"
        t.contiguous().numpy().astype("<f4", copy=False).tofile(f)
