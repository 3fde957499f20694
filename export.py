"""
Model files for run.c: llama2.c's version 0 and version 1, and our own default format, written and read.

    python export.py out/ckpt.pt out/model.bin                  # our format (what train.py writes)
    python export.py out/ckpt.pt out/model-v0.bin --version 0   # llama2.c's legacy format, for its own run
    python export.py stories15M.bin stories15M-ours.bin --mode generate

Every format is little-endian with float32 weights; docs/run.md documents every byte.

  llama2.c version 0 ("legacy"): 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
      max_seq_len; vocab_size negative when the classifier is not shared), then the weights tensor by
      tensor across layers, the RoPE tables, and the classifier if unshared. model.py reads and writes it.
  llama2.c version 1: a 256-byte header (magic "ak42", version 1, the same 7 int32 with vocab_size
      positive, a shared-classifier byte), then the weights with the norms first and no RoPE tables.
  ours (magic "tsll", version 1): a 256-byte header that adds what llama2.c's lack (the mode the model was
      trained for, BOS/EOS ids, rope theta, norm eps, the tokenizer's identity and normalizer settings),
      then the weights layer by layer with each layer's wq/wk/wv and w1/w3 adjacent, the order run.c
      reads them in: one pass over the stacked wq/wk/wv gives q, k and v. A quantized format would be a new
      version number that changes only how the weight matrices are stored.
"""

import argparse
import math
import os
import struct
import sys
from pathlib import Path

import numpy as np
import torch

from model import (LLAMA2C_LIMITS, LLAMA2C_VERSION_MAGIC, CheckpointError, ModelArgs, Transformer,
                   export_llama2c, layer_shapes, load_llama2c)

HEADER_BYTES = 256
MAGIC = b"tsll"  # "tinystories llama"
VERSION_FP32 = 1
# header byte 38: the SentencePiece normalizer settings that run.c's encoder must follow, as bit flags, or
# FLAGS_NOT_RECORDED, when run.c infers them as it does for llama2.c's files (see docs/run.md)
ADD_DUMMY_PREFIX, REMOVE_EXTRA_WHITESPACES = 1, 2
FLAGS_NOT_RECORDED = 0xFF

# our header after the magic: version, 7 config ints, shared classifier, mode, tokenizer flags, a zero byte,
# bos_id, eos_id, rope_theta, norm_eps, the tokenizer's sha256; zero padding to 256 bytes
OUR_HEADER = struct.Struct("<i7iBBBBiiff32s")
V1_HEADER = struct.Struct("<Ii7iB")  # magic, version 1, 7 config ints, shared classifier


def layout_v1(args: ModelArgs) -> list[tuple[str, tuple[int, ...]]]:
    """(state_dict name, shape) of every array in a llama2.c version 1 file, in file order."""
    kv_dim = args.n_kv_heads * args.head_dim
    per_layer = lambda name, shape: [(f"layers.{i}.{name}", shape) for i in range(args.n_layers)]  # noqa: E731
    layout = [*per_layer("attention_norm.weight", (args.dim,)), *per_layer("ffn_norm.weight", (args.dim,)),
              ("norm.weight", (args.dim,)), ("tok_embeddings.weight", (args.vocab_size, args.dim)),
              *per_layer("attention.wq.weight", (args.dim, args.dim)),
              *per_layer("attention.wk.weight", (kv_dim, args.dim)),
              *per_layer("attention.wv.weight", (kv_dim, args.dim)),
              *per_layer("attention.wo.weight", (args.dim, args.dim)),
              *per_layer("feed_forward.w1.weight", (args.hidden_dim, args.dim)),
              *per_layer("feed_forward.w2.weight", (args.dim, args.hidden_dim)),
              *per_layer("feed_forward.w3.weight", (args.hidden_dim, args.dim))]
    if not args.tie_embeddings:
        layout.append(("output.weight", (args.vocab_size, args.dim)))
    return layout


def layout_ours(args: ModelArgs) -> list[tuple[str, tuple[int, ...]]]:
    """(state_dict name, shape) of every array in our format, in file order: layer by layer, with wq, wk,
    wv adjacent (run.c reads them as one matrix that yields q, k and v) and likewise w1, w3."""
    shapes = layer_shapes(args)
    order = ["attention_norm", "attention.wq", "attention.wk", "attention.wv", "attention.wo",
             "ffn_norm", "feed_forward.w1", "feed_forward.w3", "feed_forward.w2"]
    layout = [("tok_embeddings.weight", (args.vocab_size, args.dim))]
    for i in range(args.n_layers):
        layout += [(f"layers.{i}.{name}.weight", shapes[f"{name}.weight"]) for name in order]
    layout.append(("norm.weight", (args.dim,)))
    if not args.tie_embeddings:
        layout.append(("output.weight", (args.vocab_size, args.dim)))
    return layout


def tokenizer_flags(tokenizer) -> int:
    """The SentencePiece normalizer settings of a tokenizer.Tokenizer, found by asking SentencePiece itself
    (reading them from the .model would need protobuf): a leading space changes nothing when extra
    whitespace is removed, and with a dummy prefix even "a" starts with the whitespace mark."""
    sp = tokenizer.sp
    flags = REMOVE_EXTRA_WHITESPACES if sp.encode(" a") == sp.encode("a") else 0
    if sp.id_to_piece(sp.encode("a")[0]).startswith("\u2581"):
        flags |= ADD_DUMMY_PREFIX
    return flags


# ----------------------------------------------------------------------------------------------------------
# writers

def _config_ints(args: ModelArgs) -> list[int]:
    return [args.dim, args.hidden_dim, args.n_layers, args.n_heads, args.n_kv_heads, args.vocab_size,
            args.max_seq_len]


def _write(path, header: bytes, model: Transformer, layout):
    """Header, then the tensors of layout as little-endian float32; atomically (path + '.tmp', then rename)."""
    tensors = model.state_dict()
    tmp = f"{path}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(header)
            for name, shape in layout:
                t = tensors[name].detach().to("cpu", torch.float32)
                assert t.shape == shape, f"{name}: shape {tuple(t.shape)}, layout says {shape}"
                t.contiguous().numpy().astype("<f4", copy=False).tofile(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_llama2c_v0(model: Transformer, path):
    """llama2.c's legacy format, which llama2.c's own run reads (model.export_llama2c)."""
    export_llama2c(getattr(model, "_orig_mod", model), path)


def write_llama2c_v1(model: Transformer, path):
    model = getattr(model, "_orig_mod", model)
    args = model.args
    if args.rope_theta != 10000.0 or args.norm_eps != 1e-5:
        raise ValueError(f"llama2.c's formats cannot record rope_theta={args.rope_theta}, "
                         f"norm_eps={args.norm_eps}; use our format")
    header = V1_HEADER.pack(LLAMA2C_VERSION_MAGIC, 1, *_config_ints(args), int(args.tie_embeddings))
    _write(path, header.ljust(HEADER_BYTES, b"\0"), model, layout_v1(args))


def write_model_bin(model: Transformer, path, mode: str = "generate", tokenizer=None, *, bos_id: int = 1,
                    eos_id: int = 2, identity: str | None = None, flags: int | None = None):
    """Our format. mode: "instruct" or "generate", what run.c does without -m. tokenizer: the
    tokenizer.Tokenizer the model was trained with; its identity, BOS/EOS ids and normalizer settings are
    recorded. Without one, the keywords give them (identity: hex sha256; flags: None = not recorded)."""
    model = getattr(model, "_orig_mod", model)
    if mode not in ("instruct", "generate"):
        raise ValueError(f"mode must be 'instruct' or 'generate', got {mode!r}")
    args = model.args
    if tokenizer is not None:
        identity, flags = tokenizer.identity, tokenizer_flags(tokenizer)
        bos_id, eos_id = tokenizer.bos_id, tokenizer.eos_id
    identity = bytes.fromhex(identity) if identity else bytes(32)
    flags = FLAGS_NOT_RECORDED if flags is None else flags
    header = MAGIC + OUR_HEADER.pack(VERSION_FP32, *_config_ints(args), int(args.tie_embeddings),
                                     int(mode == "instruct"), flags, 0, bos_id, eos_id, args.rope_theta,
                                     args.norm_eps, identity)
    _write(path, header.ljust(HEADER_BYTES, b"\0"), model, layout_ours(args))


# ----------------------------------------------------------------------------------------------------------
# reader

def _as_float(value: float) -> float:
    # The header stores float32: 1e-5 comes back as 9.99999974e-06. The shortest decimal that rounds to the
    # same float32 recovers the value that was written (1e-05), which export_llama2c's check expects.
    return float(str(np.float32(value)))


def read_model_bin(path) -> tuple[Transformer, dict]:
    """Read any of the three formats into a Transformer on the CPU; CheckpointError if it is not one.

    info: "format" ("llama2c-v0", "llama2c-v1" or "ours"), "instruct" (the mode it was trained for; False
    for llama2.c's formats), "tokenizer" (sha256 identity of the tokenizer .model, or None), "bos_id",
    "eos_id", "tokenizer_flags", and "config"/"step" (None: only .pt checkpoints hold them)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: {'not a regular file' if path.exists() else 'no such file'}")
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(HEADER_BYTES)
    info = {"format": "llama2c-v0", "instruct": False, "tokenizer": None, "bos_id": 1, "eos_id": 2,
            "tokenizer_flags": None, "config": None, "step": None}
    if head[:4] == MAGIC:
        version = struct.unpack_from("<i", head, 4)[0] if len(head) >= 8 else None
        if version != VERSION_FP32:
            raise CheckpointError(f"{path}: model format version {version}; this code reads version {VERSION_FP32}")
        if len(head) < HEADER_BYTES:
            raise CheckpointError(f"{path}: truncated: {size} bytes, shorter than the {HEADER_BYTES}-byte header")
        (_, *ints, shared, instruct, flags, _, bos_id, eos_id, theta, eps, identity) = OUR_HEADER.unpack_from(head, 4)
        fields = dict(rope_theta=_as_float(theta), norm_eps=_as_float(eps))
        info.update(format="ours", instruct=bool(instruct), bos_id=bos_id, eos_id=eos_id,
                    tokenizer_flags=None if flags == FLAGS_NOT_RECORDED else flags,
                    tokenizer=identity.hex() if any(identity) else None)
        layout_of = layout_ours
    elif len(head) >= 8 and struct.unpack_from("<I", head)[0] == LLAMA2C_VERSION_MAGIC:
        version = struct.unpack_from("<i", head, 4)[0]
        if version != 1:
            raise CheckpointError(f"{path}: llama2.c format version {version}; this code reads versions 0 and 1")
        if len(head) < HEADER_BYTES:
            raise CheckpointError(f"{path}: truncated: {size} bytes, shorter than the {HEADER_BYTES}-byte header")
        (_, _, *ints, shared) = V1_HEADER.unpack_from(head)
        fields = dict(rope_theta=10000.0, norm_eps=1e-5)
        info.update(format="llama2c-v1")
        layout_of = layout_v1
    else:
        return load_llama2c(path), info

    names = ("dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "max_seq_len")
    for name, value in zip(names, ints):
        if not 0 < value <= LLAMA2C_LIMITS[name]:
            raise CheckpointError(f"{path}: header has {name}={value}, outside 1..{LLAMA2C_LIMITS[name]}; corrupt")
    try:
        args = ModelArgs(**dict(zip(names, ints)), tie_embeddings=bool(shared), **fields)
    except ValueError as e:
        raise CheckpointError(f"{path}: inconsistent header: {e}") from None
    layout = layout_of(args)
    expected = HEADER_BYTES + 4 * sum(math.prod(shape) for _, shape in layout)
    if size != expected:
        raise CheckpointError(f"{path}: header implies {expected} bytes but the file has {size}; truncated or corrupt")
    data = np.fromfile(path, dtype="<f4", offset=HEADER_BYTES)
    state_dict, offset = {}, 0
    for name, shape in layout:
        n = math.prod(shape)
        state_dict[name] = torch.from_numpy(data[offset:offset + n].reshape(shape))
        offset += n
    if args.tie_embeddings:
        state_dict["output.weight"] = state_dict["tok_embeddings.weight"]
    model = Transformer(args)
    model.load_state_dict(state_dict)
    return model, info


# ----------------------------------------------------------------------------------------------------------
# command line

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="a .pt checkpoint from train.py, or a model .bin in any of the formats")
    parser.add_argument("out", help="the .bin to write")
    parser.add_argument("--version", choices=("ours", "0", "1"), default="ours",
                        help="ours (default), or llama2.c's version 0 or 1")
    parser.add_argument("--mode", choices=("instruct", "generate"), default=None,
                        help="the mode run.c uses without -m (default: what the source was trained for)")
    parser.add_argument("--tokenizer", default=None,
                        help="the tokenizer .model the model was trained with, to record its identity "
                             "(default: tokenizer.model beside the source, if there)")
    args = parser.parse_args(argv)

    from model import load_model
    from tokenizer import Tokenizer, TokenizerError
    try:
        model, info = load_model(args.source)
        if args.version == "0":
            write_llama2c_v0(model, args.out)
        elif args.version == "1":
            write_llama2c_v1(model, args.out)
        else:
            tokenizer_path = Path(args.tokenizer or Path(args.source).parent / "tokenizer.model")
            tokenizer = Tokenizer(tokenizer_path) if args.tokenizer or tokenizer_path.exists() else None
            if tokenizer is not None and info.get("tokenizer") not in (None, tokenizer.identity):
                raise TokenizerError(f"{tokenizer_path} is not the tokenizer {args.source} was trained with")
            mode = args.mode or ("instruct" if info.get("instruct") else "generate")
            write_model_bin(model, args.out, mode=mode, tokenizer=tokenizer, bos_id=info.get("bos_id", 1),
                            eos_id=info.get("eos_id", 2), identity=info.get("tokenizer"),
                            flags=info.get("tokenizer_flags"))
        print(f"wrote {args.out}")
    except (CheckpointError, TokenizerError, ValueError, OSError) as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()
