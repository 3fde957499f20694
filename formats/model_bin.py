"""Our model.bin (magic "tsll"), what train.py writes and run.c runs by default.

A 256-byte little-endian header that adds what llama2.c's headers lack: the mode the model was trained
for, BOS/EOS ids, rope theta, norm eps, the tokenizer's identity and normalizer settings. Then the weights,
layer by layer, with each layer's wq/wk/wv and w1/w3 adjacent: the order run.c reads them in, so one pass
over the stacked wq/wk/wv gives q, k and v. docs/run.md documents every byte.

Version 1 stores every weight as float32. Version 2 is the same file with each kind of matrix (embedding,
wq/wk/wv, wo, w1/w3, w2, classifier) in the type its header byte names: float32, or the Q8_0, Q4_0 or NF4
blocks of formats/quants.py, tensor by tensor in the same order. Norms stay float32. Reading a version 2
file dequantizes it (the weights run.c computes with, up to its int8 arithmetic; docs/run.md).
"""

import math
import struct
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from errors import CheckpointError
from formats import layout, quants
from formats.atomic import atomic_write
from lora import NF4_CODE, quantize_nf4
from model import ModelArgs, Transformer

HEADER_BYTES = 256
MAGIC = b"tsll"  # "tinystories llama"
VERSION_FP32 = 1
VERSION_QUANT = 2
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

# Version 2: header bytes 88..93 give the storage type of each kind of matrix, byte 96 an int32 NF4 block
# size (weights per absmax; 0 when no matrix is NF4), and bytes 94, 95 and 100..255 stay zero.
TYPE_CODES = {"f32": 0, "q8_0": 1, "q4_0": 2, "nf4": 3}
KINDS = {"embedding": ("tok_embeddings.weight",),  # kind -> the weights it covers, header byte 88 + index
         "wqkv": ("attention.wq.weight", "attention.wk.weight", "attention.wv.weight"),
         "wo": ("attention.wo.weight",),
         "w13": ("feed_forward.w1.weight", "feed_forward.w3.weight"),
         "w2": ("feed_forward.w2.weight",),
         "classifier": ("output.weight",)}
QUANT_HEADER = struct.Struct("<6BxxI")
QUANT_OFFSET = 88
# What --quant means for each kind, before row lengths that are not a multiple of 32 force float32. The
# embedding and the classifier (one matrix when tied) keep 8 bits in a 4-bit file: the classifier decides
# every token, and in llama2.c's shapes it is a third (110M) to three fifths (15M) of the weights read per
# token, but quantizing it to 4 bits costs the most quality per byte saved (docs/run.md measures it).
# NF4 covers the projections, as a QLoRA base has them (lora.LORA_TARGETS), so the same blocks reach run.c.
DEFAULT_TYPES = {
    "q8_0": dict(embedding="q8_0", wqkv="q8_0", wo="q8_0", w13="q8_0", w2="q8_0", classifier="q8_0"),
    "q4_0": dict(embedding="q8_0", wqkv="q4_0", wo="q4_0", w13="q4_0", w2="q4_0", classifier="q8_0"),
    "nf4": dict(embedding="q8_0", wqkv="nf4", wo="nf4", w13="nf4", w2="nf4", classifier="q8_0"),
}
# Models narrower than this keep wq/wk/wv in Q8_0 in a 4-bit file too. At dim 64 (llama2.c's stories260K)
# every projection in 4 bits costs +7.35% perplexity (Q4_0) and +8.25% (NF4), wq/wk/wv alone +2.6%; with
# them in 8 bits the file stays within 5% (+4.09%, +4.49%). At dim 128 all of them in 4 bits cost +0.36% /
# +0.43% (docs/run.md, benchmarks/quant_quality.py).
NARROW_DIM = 128


def narrow_types(args: ModelArgs, quant: str) -> dict[str, str]:
    """The defaults that depend on the model's shape (model.bin's and the GGUF's alike): wq/wk/wv keep 8 bits
    in a 4-bit file of a model narrower than NARROW_DIM."""
    return {"wqkv": "q8_0"} if quant in ("q4_0", "nf4") and args.dim < NARROW_DIM else {}


def kind_of(name: str) -> str:
    """The kind (a key of KINDS) of a matrix by its state_dict name, e.g. layers.3.attention.wk.weight -> wqkv."""
    base = name.split(".", 2)[-1] if name.startswith("layers.") else name
    return next(kind for kind, names in KINDS.items() if base in names)


def row_length(args: ModelArgs, kind: str) -> int:
    """The length of one row (the input dimension) of every matrix of this kind."""
    return args.hidden_dim if kind == "w2" else args.dim


def quant_types(args: ModelArgs, quant: str, **overrides) -> dict[str, str]:
    """kind -> storage type for `quant` (q8_0, q4_0, nf4) on a model of this shape: DEFAULT_TYPES (with
    wq/wk/wv in Q8_0 below NARROW_DIM) and overrides (e.g. classifier="q4_0"); a kind whose rows are not a
    multiple of 32 long stays f32, since every block format here holds whole rows of 32-weight blocks. A
    tied model's classifier is its embedding: an override of either sets both."""
    if quant not in DEFAULT_TYPES:
        raise ValueError(f"unknown quantization {quant!r}; one of {', '.join(DEFAULT_TYPES)}")
    types = {**DEFAULT_TYPES[quant], **narrow_types(args, quant), **overrides}
    for kind in ("embedding", "classifier"):
        if args.tie_embeddings and kind in overrides:
            types["embedding"] = types["classifier"] = overrides[kind]
    for kind, qtype in types.items():
        if qtype not in TYPE_CODES:
            raise ValueError(f"unknown storage type {qtype!r} for {kind}; one of {', '.join(TYPE_CODES)}")
        if row_length(args, kind) % quants.QK:
            types[kind] = "f32"
    return types


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
          identity: str | None = None, flags: int | None = None, quant: str | None = None,
          types: dict[str, str] | None = None, nf4_blocksize: int = quants.NF4_BLOCKSIZE):
    """Write our format. mode: "instruct" or "generate", what run.c does without -m. tokenizer: the
    tokenizer.Tokenizer the model was trained with; its identity, BOS/EOS ids and normalizer settings are
    recorded. Without one, the keywords give them (identity: hex sha256; flags: None = not recorded).
    quant: None (version 1, float32), or q8_0, q4_0, nf4 (version 2 with quant_types' defaults); types:
    kind -> type overrides of those defaults. ValueError for weights no block format can hold (NaN, inf)."""
    model = getattr(model, "_orig_mod", model)
    if mode not in ("instruct", "generate"):
        raise ValueError(f"mode must be 'instruct' or 'generate', got {mode!r}")
    args = model.args
    if tokenizer is not None:
        identity, flags = tokenizer.identity, tokenizer_flags(tokenizer)
        bos_id, eos_id = tokenizer.bos_id, tokenizer.eos_id
    identity = bytes.fromhex(identity) if identity else bytes(32)
    flags = FLAGS_NOT_RECORDED if flags is None else flags
    version = VERSION_FP32 if quant is None else VERSION_QUANT
    header = MAGIC + HEADER.pack(version, *layout.config_ints(args), int(args.tie_embeddings),
                                 int(mode == "instruct"), flags, 0, bos_id, eos_id, args.rope_theta,
                                 args.norm_eps, identity)
    tensors = model.state_dict()
    if quant is None:
        with atomic_write(path) as f:
            f.write(header.ljust(HEADER_BYTES, b"\0"))
            layout.write_tensors(f, tensors, layout_ours(args))
        return
    types = quant_types(args, quant, **(types or {}))
    uses_nf4 = "nf4" in types.values()
    if uses_nf4:
        quants.check_nf4_blocksize(nf4_blocksize)
    header += QUANT_HEADER.pack(*(TYPE_CODES[types[kind]] for kind in KINDS), nf4_blocksize if uses_nf4 else 0)
    blobs = []  # quantize everything before opening the file: a refusal leaves no file behind
    for name, shape in layout_ours(args):
        t = tensors[name].detach().to("cpu", torch.float32).contiguous().numpy()
        qtype = types[kind_of(name)] if len(shape) == 2 else "f32"
        assert t.shape == shape, f"{name}: shape {t.shape}, layout says {shape}"
        try:
            blobs.append(t.astype("<f4").tobytes() if qtype == "f32" else quants.quantize(t, qtype, nf4_blocksize))
        except ValueError as e:
            raise ValueError(f"{name}: {e}") from None
    with atomic_write(path) as f:
        f.write(header.ljust(HEADER_BYTES, b"\0"))
        for blob in blobs:
            f.write(blob)


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
    if version not in (VERSION_FP32, VERSION_QUANT):
        raise CheckpointError(f"{path}: model format version {version}; this code reads versions "
                              f"{VERSION_FP32} (float32) and {VERSION_QUANT} (quantized)")
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
    if version == VERSION_FP32:
        return layout.read_model(path, HEADER_BYTES, args, layout_ours(args)), info
    types, blocksize = _read_quant_header(path, head, args)
    info["quant"], info["nf4_blocksize"] = types, blocksize
    return _read_quantized(path, args, types, blocksize), info


def as_run_computes(model: Transformer, info: dict) -> Transformer:
    """Make `model` (a version 2 file as read() returns it, with its info) compute what run.c computes from
    the same file, in place, to measure what run.c's arithmetic costs (perplexity) and to compare the two
    token for token: every quantized matmul then

      - rounds its input as run.c does: int8 per block of 32, scale = absmax / 127, round half to even;
      - for NF4, multiplies by the codes' int8 table values round(127 * code) times the absmax rounded to
        fp16, and scales the result by 1/127, as run.c's kernels do;

    and attention rounds keys and values to fp16, as run.c's KV cache of a quantized model holds them.
    The weights in the state_dict stay the file's, exactly. What remains between the two is float32
    summation order. An NF4 embedding (never a default) is not covered: run.c decodes its rows through the
    float table."""
    types, blocksize = info["quant"], info["nf4_blocksize"]
    if types["embedding"] == "nf4":
        raise NotImplementedError("as_run_computes covers NF4 projections, not an NF4 embedding")
    table = torch.round(127 * NF4_CODE)

    def run_matmul(module, inputs, output):
        x = inputs[0]
        blocks = x.reshape(-1, quants.QK)  # (n_blocks, 32)
        d = blocks.abs().amax(dim=1, keepdim=True) / 127
        inv = torch.where(d > 0, 1 / d, torch.zeros_like(d))
        x = (torch.round(blocks * inv).clamp(-127, 127) * d).reshape(x.shape)
        return F.linear(x, module.run_weight) * module.run_post

    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.Linear) or types[kind_of(f"{name}.weight")] == "f32":
            continue
        module.run_weight, module.run_post = module.weight.detach(), 1.0
        if types[kind_of(f"{name}.weight")] == "nf4":
            w = module.weight.detach()
            packed, absmax = quantize_nf4(w, blocksize)  # the file's codes and absmax: w is code * absmax exactly
            codes = torch.stack([packed >> 4, packed & 15], dim=1).reshape(-1)[:w.numel()].long()
            scale = absmax.half().float().repeat_interleave(blocksize)[:w.numel()]
            module.run_weight = (table[codes] * scale).reshape(w.shape)  # int8 code x fp16 absmax: exact
            module.run_post = float(np.float32(1 / 127))
        module.register_forward_hook(run_matmul)
    for layer in model.layers:
        layer.attention.kv_dtype = torch.float16
    return model


def _read_quant_header(path: Path, head: bytes, args: ModelArgs) -> tuple[dict[str, str], int]:
    """The storage type of each kind and the NF4 block size from a version 2 header, each checked as run.c
    checks it."""
    *codes, blocksize = QUANT_HEADER.unpack_from(head, QUANT_OFFSET)
    names = {code: name for name, code in TYPE_CODES.items()}
    types = {}
    for kind, code in zip(KINDS, codes):
        if code not in names:
            raise CheckpointError(f"{path}: header gives {kind} the storage type {code}, which is none of "
                                  f"{', '.join(f'{c} ({n})' for n, c in TYPE_CODES.items())}; corrupt, or "
                                  f"written by a newer version")
        types[kind] = names[code]
        if types[kind] != "f32" and row_length(args, kind) % quants.QK:
            raise CheckpointError(f"{path}: header stores {kind} as {types[kind]}, but its rows are "
                                  f"{row_length(args, kind)} long, not a multiple of {quants.QK}; corrupt")
    if args.tie_embeddings and types["classifier"] != types["embedding"]:
        raise CheckpointError(f"{path}: the classifier shares the embedding but the header gives them the types "
                              f"{types['classifier']} and {types['embedding']}; corrupt")
    uses_nf4 = "nf4" in types.values()
    if uses_nf4:
        try:
            quants.check_nf4_blocksize(blocksize)
        except ValueError as e:
            raise CheckpointError(f"{path}: header's NF4 block size: {e}; corrupt") from None
    elif blocksize:
        raise CheckpointError(f"{path}: header gives an NF4 block size of {blocksize} but no matrix is NF4; corrupt")
    reserved = head[QUANT_OFFSET + 6:QUANT_OFFSET + 8] + head[QUANT_OFFSET + QUANT_HEADER.size:]
    if any(reserved):
        raise CheckpointError(f"{path}: reserved header bytes are not zero; corrupt, or written by a newer version")
    return types, blocksize


def _read_quantized(path: Path, args: ModelArgs, types: dict[str, str], blocksize: int) -> Transformer:
    """The Transformer in a version 2 file, every quantized matrix dequantized to float32."""
    tensors = [(name, shape, types[kind_of(name)] if len(shape) == 2 else "f32") for name, shape in layout_ours(args)]
    sizes = [4 * math.prod(shape) if qtype == "f32" else quants.nbytes(shape, qtype, blocksize)
             for _, shape, qtype in tensors]
    size, expected = path.stat().st_size, HEADER_BYTES + sum(sizes)
    if size != expected:
        raise CheckpointError(f"{path}: header implies {expected} bytes but the file has {size}; "
                              f"truncated, or not the format its header suggests")
    data = path.read_bytes()
    state_dict, offset = {}, HEADER_BYTES
    for (name, shape, qtype), n in zip(tensors, sizes):
        blob = data[offset:offset + n]
        offset += n
        if qtype == "f32":
            state_dict[name] = torch.from_numpy(np.frombuffer(blob, "<f4").astype(np.float32).reshape(shape))
            continue
        scales = quants.scales(blob, qtype, shape, blocksize)
        bad = ~np.isfinite(scales) | (scales < 0 if qtype == "nf4" else False)
        if bad.any():
            raise CheckpointError(f"{path}: {name} ({qtype}) block {int(np.argmax(bad))} has the scale "
                                  f"{scales[bad][0]}; a scale must be finite{' and >= 0' if qtype == 'nf4' else ''}")
        state_dict[name] = torch.from_numpy(quants.dequantize(blob, qtype, shape, blocksize))
    if args.tie_embeddings:
        state_dict["output.weight"] = state_dict["tok_embeddings.weight"]
    model = Transformer(args)
    model.load_state_dict(state_dict)
    return model
