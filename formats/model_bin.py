"""Our model.bin (magic "tsll"), what train.py writes and run.c runs by default.

A 256-byte little-endian header that adds what llama2.c's headers lack: the mode the model was trained
for, BOS/EOS ids, rope theta, norm eps, the tokenizer's identity and normalizer settings. Then the weights
as float32, layer by layer, with each layer's wq/wk/wv and w1/w3 adjacent: the order run.c reads them in,
so one pass over the stacked wq/wk/wv gives q, k and v. A quantized format is a new version number that
changes only how the weight matrices are stored. docs/run.md documents every byte.
"""

import struct
from pathlib import Path

import numpy as np

from errors import CheckpointError
from formats import layout
from formats.atomic import atomic_write
from model import Transformer

HEADER_BYTES = 256
MAGIC = b"tsll"  # "tinystories llama"
VERSION_FP32 = 1
# header byte 38: the SentencePiece normalizer settings that run.c's encoder must follow, as bit flags, or
# FLAGS_NOT_RECORDED, when run.c infers them as it does for llama2.c's files (see docs/run.md)
ADD_DUMMY_PREFIX, REMOVE_EXTRA_WHITESPACES = 1, 2
FLAGS_NOT_RECORDED = 0xFF
# after the magic: version, 7 config ints, shared classifier, mode, tokenizer flags, a zero byte, bos_id,
# eos_id, rope_theta, norm_eps, the tokenizer's sha256; zero padding to 256 bytes
HEADER = struct.Struct("<i7iBBBBiiff32s")
# each layer's weights in file order: wq, wk, wv stacked give q, k, v in one pass; likewise w1, w3
LAYER_ORDER = ["attention_norm.weight", "attention.wq.weight", "attention.wk.weight", "attention.wv.weight",
               "attention.wo.weight", "ffn_norm.weight", "feed_forward.w1.weight", "feed_forward.w3.weight",
               "feed_forward.w2.weight"]


def layout_ours(args) -> list[tuple[str, tuple[int, ...]]]:
    """(state_dict name, shape) of every array in our format, in file order."""
    return [layout.embedding(args), *layout.layer_by_layer(args, LAYER_ORDER), layout.final_norm(args),
            *layout.classifier(args)]


def tokenizer_flags(tokenizer) -> int:
    """The SentencePiece normalizer settings of a tokenizer.Tokenizer, found by asking SentencePiece itself
    (reading them from the .model would need protobuf): a leading space changes nothing when extra
    whitespace is removed, and with a dummy prefix even "a" starts with the whitespace mark."""
    sp = tokenizer.sp
    flags = REMOVE_EXTRA_WHITESPACES if sp.encode(" a") == sp.encode("a") else 0
    if sp.id_to_piece(sp.encode("a")[0]).startswith("\u2581"):
        flags |= ADD_DUMMY_PREFIX
    return flags


def write(model: Transformer, path, mode: str = "generate", tokenizer=None, *, bos_id: int = 1, eos_id: int = 2,
          identity: str | None = None, flags: int | None = None):
    """Write our format. mode: "instruct" or "generate", what run.c does without -m. tokenizer: the
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
    header = MAGIC + HEADER.pack(VERSION_FP32, *layout.config_ints(args), int(args.tie_embeddings),
                                 int(mode == "instruct"), flags, 0, bos_id, eos_id, args.rope_theta,
                                 args.norm_eps, identity)
    with atomic_write(path) as f:
        f.write(header.ljust(HEADER_BYTES, b"\0"))
        layout.write_tensors(f, model.state_dict(), layout_ours(args))


def _as_float(value: float) -> float:
    # The header stores float32: 1e-5 comes back as 9.99999974e-06. The shortest decimal that rounds to the
    # same float32 recovers the value that was written (1e-05), which llama2.c's writers check for.
    return float(str(np.float32(value)))


def read(path) -> tuple[Transformer, dict]:
    """Read our format into a Transformer on the CPU; CheckpointError if it is not a whole file of it.

    info: "format" ("ours"), "instruct" (the mode it was trained for), "tokenizer" (sha256 identity of the
    tokenizer .model, or None), "bos_id", "eos_id", "tokenizer_flags", and "config"/"step" (None: only .pt
    checkpoints hold them)."""
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(HEADER_BYTES)
    version = struct.unpack_from("<i", head, 4)[0] if len(head) >= 8 else None
    if version != VERSION_FP32:
        raise CheckpointError(f"{path}: model format version {version}; this code reads version {VERSION_FP32}")
    if len(head) < HEADER_BYTES:
        raise CheckpointError(f"{path}: truncated: {len(head)} bytes, shorter than the {HEADER_BYTES}-byte header")
    (_, *ints, shared, instruct, flags, _, bos_id, eos_id, theta, eps, identity) = HEADER.unpack_from(head, 4)
    if shared > 1 or instruct > 1:
        raise CheckpointError(f"{path}: header has shared_classifier={shared}, instruct={instruct}, "
                              f"expected 0 or 1; corrupt")
    args = layout.args_from_header(path, "model.bin header", ints, tie_embeddings=bool(shared), rope_theta=_as_float(theta),
                                   norm_eps=_as_float(eps))
    if not 0 <= bos_id < args.vocab_size or not 0 <= eos_id < args.vocab_size:
        raise CheckpointError(f"{path}: header has bos_id={bos_id}, eos_id={eos_id}, outside the "
                              f"vocabulary of {args.vocab_size}; corrupt")
    info = {"format": "ours", "instruct": bool(instruct), "tokenizer": identity.hex() if any(identity) else None,
            "bos_id": bos_id, "eos_id": eos_id, "tokenizer_flags": None if flags == FLAGS_NOT_RECORDED else flags,
            "config": None, "step": None}
    return layout.read_model(path, HEADER_BYTES, args, layout_ours(args)), info
