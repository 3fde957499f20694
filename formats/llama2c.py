"""llama2.c's model.bin, versions 0 and 1 (Karpathy's llama2.c, export.py), read and written.

  version 0 ("legacy"): 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, max_seq_len;
      vocab_size negative when the classifier is not shared), then every weight as float32: the embedding,
      each block weight for all layers in turn, the final norm, the RoPE tables (cos, sin: max_seq_len x
      head_dim/2, which llama2.c stores and we recompute), and the classifier if unshared.
  version 1: a 256-byte header (magic "ak42", int32 version 1, the same 7 int32 with vocab_size positive,
      a shared-classifier byte, zero padding), then the weights with the norms first and no RoPE tables.

Both fix rope_theta at 10000 and norm_eps at 1e-5 (llama2.c's run.c hard-codes them). Version 2 is
llama2.c's int8 format for its runq.c, which we do not read. docs/run.md documents every byte.
"""

import struct
from pathlib import Path

import numpy as np

from errors import CheckpointError
from formats import layout
from formats.atomic import atomic_write
from model import ModelArgs, Transformer, precompute_rope

V0_HEADER = struct.Struct("<7i")
VERSION_MAGIC = 0x616B3432  # "ak42" read as a little-endian uint32: llama2.c's versioned formats start with it
V1_HEADER = struct.Struct("<Ii7iB")  # magic, version 1, 7 config ints, shared classifier
V1_HEADER_BYTES = 256
NORMS = ["attention_norm.weight", "ffn_norm.weight"]


def layout_v0(args: ModelArgs) -> list[tuple[str, tuple[int, ...]]]:
    """(name, shape) of every float32 array in a version 0 file, in file order. Names are state_dict
    keys, except freqs_cos and freqs_sin."""
    rope = (args.max_seq_len, args.head_dim // 2)
    return [layout.embedding(args), *layout.across_layers(args, layout.block_shapes(args)), layout.final_norm(args),
            ("freqs_cos", rope), ("freqs_sin", rope), *layout.classifier(args)]


def layout_v1(args: ModelArgs) -> list[tuple[str, tuple[int, ...]]]:
    """(name, shape) of every float32 array in a version 1 file, in file order."""
    matrices = [name for name in layout.block_shapes(args) if name not in NORMS]
    return [*layout.across_layers(args, NORMS), layout.final_norm(args), layout.embedding(args),
            *layout.across_layers(args, matrices), *layout.classifier(args)]


def _check_llama2c_can_run(args: ModelArgs):
    if args.rope_theta != 10000.0 or args.norm_eps != 1e-5:
        raise ValueError(f"llama2.c's run.c hard-codes rope_theta=10000 and norm_eps=1e-5; this model has "
                         f"rope_theta={args.rope_theta}, norm_eps={args.norm_eps}: use our format")


def _write(path, header: bytes, model: Transformer, tensor_layout):
    model = getattr(model, "_orig_mod", model)  # the module inside torch.compile, whose keys are plain
    args = model.args
    tensors = dict(model.state_dict())
    # fresh float32 tables rather than the model's buffers, which follow the model's dtype and device
    tensors["freqs_cos"], tensors["freqs_sin"] = precompute_rope(args.head_dim, args.max_seq_len, args.rope_theta)
    with atomic_write(path) as f:
        f.write(header)
        layout.write_tensors(f, tensors, tensor_layout)


def write_v0(model: Transformer, path):
    """A version 0 file, which llama2.c's own run reads; byte-identical to llama2.c's export of the same
    weights."""
    args = getattr(model, "_orig_mod", model).args
    _check_llama2c_can_run(args)
    ints = layout.config_ints(args)
    ints[5] = args.vocab_size if args.tie_embeddings else -args.vocab_size
    _write(path, V0_HEADER.pack(*ints), model, layout_v0(args))


def write_v1(model: Transformer, path):
    args = getattr(model, "_orig_mod", model).args
    _check_llama2c_can_run(args)
    header = V1_HEADER.pack(VERSION_MAGIC, 1, *layout.config_ints(args), int(args.tie_embeddings))
    _write(path, header.ljust(V1_HEADER_BYTES, b"\0"), model, layout_v1(args))


def _info(fmt: str) -> dict:
    # what llama2.c's files know beyond the weights: nothing about mode or tokenizer
    return {"format": fmt, "instruct": False, "tokenizer": None, "bos_id": 1, "eos_id": 2,
            "tokenizer_flags": None, "config": None, "step": None}


def read_v0(path) -> tuple[Transformer, dict]:
    """A version 0 file; CheckpointError when the header is implausible or the size does not match it
    (version 0 has no magic: its header and size are all there is to recognise it by)."""
    path = Path(path)
    size = path.stat().st_size
    if size < V0_HEADER.size:
        raise CheckpointError(f"{path}: only {size} bytes, shorter than the {V0_HEADER.size}-byte "
                              f"llama2.c header")
    ints = list(np.fromfile(path, dtype="<i4", count=7).tolist())
    tied = ints[5] > 0
    ints[5] = abs(ints[5])
    args = layout.args_from_header(path, "llama2.c version 0 header", ints, tie_embeddings=tied, rope_theta=10000.0, norm_eps=1e-5)
    return layout.read_model(path, V0_HEADER.size, args, layout_v0(args)), _info("llama2c-v0")


def read_v1(path) -> tuple[Transformer, dict]:
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(V1_HEADER_BYTES)
    if len(head) < V1_HEADER_BYTES:
        raise CheckpointError(f"{path}: truncated: {len(head)} bytes, shorter than the {V1_HEADER_BYTES}-byte header")
    magic, version, *ints, shared = V1_HEADER.unpack_from(head)
    if magic != VERSION_MAGIC or version != 1:
        raise CheckpointError(f"{path}: llama2.c format version {version}; this code reads versions 0 and 1")
    if shared > 1:
        raise CheckpointError(f"{path}: header has shared_classifier={shared}, expected 0 or 1; corrupt")
    args = layout.args_from_header(path, "llama2.c version 1 header", ints, tie_embeddings=bool(shared), rope_theta=10000.0, norm_eps=1e-5)
    return layout.read_model(path, V1_HEADER_BYTES, args, layout_v1(args)), _info("llama2c-v1")
