"""GGUF, the model file of llama.cpp, Ollama, LM Studio and everything built on ggml: written and read.

The container (header, key-value metadata, tensor infos, aligned tensor data) is written and read by the
`gguf` package, the format's reference implementation from the llama.cpp repository; this module decides
what goes in it, following what llama.cpp's own converters write for a Llama with a SentencePiece
vocabulary (convert_hf_to_gguf.py, convert-llama2c-to-ggml):

  metadata   general.architecture "llama", general.name, general.file_type; llama.context_length,
             embedding_length, feed_forward_length, block_count, attention.head_count(_kv),
             rope.dimension_count (= head_dim), rope.freq_base, attention.layer_norm_rms_epsilon
  vocabulary tokenizer.ggml.model "llama" (SentencePiece BPE), tokens, scores, token_type (normal, unknown,
             control, user-defined, unused, byte: SentencePiece's own type numbers), bos/eos/unknown ids,
             add_bos_token, add_eos_token, add_space_prefix, and a chat template (below)
  tensors    token_embd, blk.N.{attn_norm, attn_q, attn_k, attn_v, attn_output, ffn_norm, ffn_gate, ffn_up,
             ffn_down}, output_norm, output (left out when the classifier shares the embedding: llama.cpp
             then uses token_embd, as for any tied model)

RoPE: llama.cpp's "llama" architecture rotates interleaved pairs (x0, x1), (x2, x3), ... (LLAMA_ROPE_TYPE_NORM),
Meta's layout, which is ours (model.apply_rope, llama2.c's export). Hugging Face checkpoints store q and k
permuted to rotate halves, and convert_hf_to_gguf.py permutes them back; our weights go in as they are.

Instruct models. Ours are trained on `prompt BOS story EOS` packed back to back, so they are prompted with
`EOS prompt BOS` and stop at EOS (sample.py, run.c). The chat template renders exactly that, and
add_bos_token is false so llama.cpp adds nothing in front: its /v1/chat/completions then feeds the model
the same tokens as `run -m instruct`. /v1/completions feeds the text as it is, with no BOS: a model that
was trained on windows starting anywhere in the stream reads it as the middle of a story and continues it.
Completion (generate) models keep llama.cpp's default, BOS in front, and their template passes the
user's text through, so a chat message is continued like a prompt to `run -m generate`.

Quantized files: matrices in ggml's Q8_0 or Q4_0 blocks from formats/quants.py (the project's one
quantizer, also behind model.bin's quantized versions), 1-D norms in float32, and a matrix whose rows are
not a multiple of 32 long in float16, as llama.cpp's quantizer does (llama-quant.cpp,
tensor_type_fallback). A Q4_0 file keeps the embedding and the classifier at Q8_0, as our quantized
model.bin does (llama.cpp's own Q4_0 keeps the classifier at Q6_K, which we do not write); the file equals
`llama-quantize --pure --token-embedding-type q8_0 --output-tensor-type q8_0 F32.gguf OUT q4_0`. Per-kind
types (model.bin's kinds: embedding, wqkv, wo, w13, w2, classifier) override that: the smallest models
stay within 5% perplexity at 4 bits only with wq/wk/wv at Q8_0 (docs/gguf.md).
docs/gguf.md has the commands for llama.cpp and Ollama.
"""

from pathlib import Path

import gguf
import numpy as np
import torch

from errors import CheckpointError, TokenizerError
from formats import layout, model_bin, quants  # quants: the project's one Q8_0/Q4_0 quantizer
from formats.atomic import atomic_write, write_text
from formats.model_bin import _as_float  # float32 metadata back to the value written (1e-05, not 9.99e-06)
from model import ModelArgs, Transformer

QUANTS = ("f32", "f16", "q8_0", "q4_0")
FILE_TYPES = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
              "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0, "q4_0": gguf.LlamaFileType.MOSTLY_Q4_0}
QK = 32  # weights per Q8_0/Q4_0 block (ggml's QK8_0, QK4_0)
T = gguf.GGMLQuantizationType

# Jinja, rendered by llama.cpp's server (and by any Hugging Face-style client) over the chat's messages.
# Instruct: each user turn is `EOS prompt BOS`, each assistant turn the story, so a conversation is the
# packed training stream itself; system messages are dropped (our models never saw one).
INSTRUCT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'user' -%}{{- eos_token + message['content'] + bos_token -}}"
    "{%- elif message['role'] == 'assistant' -%}{{- message['content'] -}}"
    "{%- endif -%}"
    "{%- endfor -%}")
# Generate: the user's words are the start of the story (llama.cpp puts BOS in front, add_bos_token).
GENERATE_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] != 'system' -%}{{- message['content'] -}}{%- endif -%}"
    "{%- endfor -%}")

# Ollama's Go templates for the same two layouts (Modelfile TEMPLATE), with {eos} and {bos} replaced by the
# pieces' text: Ollama has no variables for them, and tokenizes their text in a rendered prompt as the
# special tokens, as llama.cpp's server does.
OLLAMA_TEMPLATES = {
    "instruct": '{{- range .Messages }}{{- if eq .Role "user" }}{eos}{{ .Content }}{bos}'
                '{{- else if eq .Role "assistant" }}{{ .Content }}{{- end }}{{- end }}',
    "generate": '{{- range .Messages }}{{- if ne .Role "system" }}{{ .Content }}{{- end }}{{- end }}',
}

# our state_dict names -> llama.cpp's (gguf.TENSOR_NAMES), per block
BLOCK_TENSORS = {
    "attention_norm.weight": gguf.MODEL_TENSOR.ATTN_NORM,
    "attention.wq.weight": gguf.MODEL_TENSOR.ATTN_Q,
    "attention.wk.weight": gguf.MODEL_TENSOR.ATTN_K,
    "attention.wv.weight": gguf.MODEL_TENSOR.ATTN_V,
    "attention.wo.weight": gguf.MODEL_TENSOR.ATTN_OUT,
    "ffn_norm.weight": gguf.MODEL_TENSOR.FFN_NORM,
    "feed_forward.w1.weight": gguf.MODEL_TENSOR.FFN_GATE,
    "feed_forward.w3.weight": gguf.MODEL_TENSOR.FFN_UP,
    "feed_forward.w2.weight": gguf.MODEL_TENSOR.FFN_DOWN,
}
# llama.cpp's tensor -> the kind of matrix it is, in the names of our quantized model.bin (formats/model_bin.py
# KINDS, docs/run.md), so that both files take one set of per-kind types
KINDS = {"token_embd": "embedding", "attn_q": "wqkv", "attn_k": "wqkv", "attn_v": "wqkv", "attn_output": "wo",
         "ffn_gate": "w13", "ffn_up": "w13", "ffn_down": "w2", "output": "classifier"}
# what --quant stores in each kind, as model.bin does: the embedding and the classifier keep 8 bits in a
# 4-bit file (they decide every token; docs/run.md measures it), and so do wq/wk/wv of models narrower than
# model_bin.NARROW_DIM (model_bin.narrow_types); `types` in write() overrides these
DEFAULT_TYPES = {"q8_0": dict.fromkeys(KINDS.values(), "q8_0"),
                 "q4_0": {**dict.fromkeys(KINDS.values(), "q4_0"), "embedding": "q8_0", "classifier": "q8_0"}}
STORAGE = {"f32": T.F32, "f16": T.F16, "q8_0": T.Q8_0, "q4_0": T.Q4_0}


def _gguf_name(tensor: gguf.MODEL_TENSOR, block: int | None = None) -> str:
    name = gguf.TENSOR_NAMES[tensor]
    return (name.format(bid=block) if block is not None else name) + ".weight"


def tensor_table(args: ModelArgs) -> list[tuple[str, str, tuple[int, ...]]]:
    """(llama.cpp's name, our state_dict name, shape) of every tensor in a GGUF of this model, in the
    order llama.cpp's llama2.c converter writes them."""
    embed_name, embed_shape = layout.embedding(args)
    norm_name, norm_shape = layout.final_norm(args)
    table = [(_gguf_name(gguf.MODEL_TENSOR.TOKEN_EMBD), embed_name, embed_shape),
             (_gguf_name(gguf.MODEL_TENSOR.OUTPUT_NORM), norm_name, norm_shape)]
    table += [(_gguf_name(gguf.MODEL_TENSOR.OUTPUT), name, shape) for name, shape in layout.classifier(args)]
    # the converter's order within a block: q, k, v, output, attn_norm, gate, down, up, ffn_norm
    order = ["attention.wq.weight", "attention.wk.weight", "attention.wv.weight", "attention.wo.weight",
             "attention_norm.weight", "feed_forward.w1.weight", "feed_forward.w2.weight", "feed_forward.w3.weight",
             "ffn_norm.weight"]
    shapes = layout.block_shapes(args)
    for i in range(args.n_layers):
        table += [(_gguf_name(BLOCK_TENSORS[name], i), f"layers.{i}.{name}", shapes[name]) for name in order]
    return table


def tensor_type(name: str, shape: tuple[int, ...], quant: str, types: dict[str, str] | None = None,
                tied: bool = False) -> gguf.GGMLQuantizationType:
    """The ggml type a tensor is stored in for `quant`, with `types` (kind -> f32, f16, q8_0 or q4_0)
    overriding DEFAULT_TYPES. Norms stay float32; a matrix whose rows are not whole 32-weight blocks is
    stored in F16, as llama.cpp's quantizer does (llama-quant.cpp, tensor_type_fallback). tied: the
    embedding is also the classifier, and an override of either applies to it."""
    if quant == "f32" or len(shape) == 1:
        return T.F32
    if quant == "f16":
        return T.F16
    types = types or {}
    kind = KINDS[name.split(".")[-2]]
    if tied and kind == "embedding" and "classifier" in types:
        kind = "classifier"
    storage = STORAGE[types.get(kind, DEFAULT_TYPES[quant][kind])]
    return T.F16 if storage in (T.Q8_0, T.Q4_0) and shape[-1] % QK else storage


# ----------------------------------------------------------------------------------------------
# the vocabulary


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = data[i]
        value |= (b & 0x7F) << shift
        i, shift = i + 1, shift + 7
        if b < 0x80:
            return value, i


def _proto_fields(data: bytes):
    """(field number, value) of each field of one protobuf message: ints for varints, bytes for
    length-delimited fields; fixed-width fields (a piece's float score) are skipped. The protobuf wire
    format (protobuf.dev/programming-guides/encoding); enough of it to read a SentencePiece .model without
    depending on the protobuf package."""
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
            yield field, value
        elif wire == 2:
            n, i = _varint(data, i)
            yield field, data[i:i + n]
            i += n
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
        else:
            raise ValueError(f"protobuf wire type {wire}")


# sentencepiece_model.proto: ModelProto.pieces = 1 (SentencePiece.type = 3), trainer_spec = 2
# (TrainerSpec.model_type = 3: UNIGRAM 1, the proto2 default when absent; BPE 2; WORD 3; CHAR 4)
SP_BPE = 2
SP_MODEL_TYPES = {1: "unigram", 2: "bpe", 3: "word", 4: "char"}


def sentencepiece_types(model_bytes: bytes) -> tuple[str, list[int]]:
    """(model type, each piece's type) from a SentencePiece .model's bytes. Piece types are SentencePiece's
    numbers (NORMAL 1, UNKNOWN 2, CONTROL 3, USER_DEFINED 4, UNUSED 5, BYTE 6), which GGUF's
    tokenizer.ggml.token_type uses too."""
    model_type, types = 1, []
    for field, value in _proto_fields(model_bytes):
        if field == 1:
            types.append(dict(_proto_fields(value)).get(3, 1))
        elif field == 2:
            model_type = dict(_proto_fields(value)).get(3, 1)
    return SP_MODEL_TYPES.get(model_type, str(model_type)), types


def vocabulary(tokenizer) -> tuple[list[str], list[float], list[int]]:
    """(tokens, scores, token types) of a tokenizer.Tokenizer as GGUF's "llama" vocabulary holds them;
    TokenizerError for one llama.cpp would tokenize differently from SentencePiece."""
    sp, path = tokenizer.sp, tokenizer.model_path
    try:
        model_type, types = sentencepiece_types(path.read_bytes())
    except (OSError, ValueError, IndexError) as e:
        raise TokenizerError(f"{path}: cannot read its SentencePiece model type ({e})") from None
    if model_type != "bpe":
        # llama.cpp's "llama" tokenizer (llm_tokenizer_spm) merges adjacent pieces by score: SentencePiece's
        # BPE. A unigram model scores whole segmentations (Viterbi), which it does not reproduce.
        raise TokenizerError(f"{path}: a SentencePiece {model_type} model; GGUF's llama vocabulary "
                             f"reproduces SentencePiece BPE only (train the tokenizer with this project's "
                             f"tokenizer.py, which writes BPE)")
    if len(types) != sp.vocab_size():
        raise TokenizerError(f"{path}: {len(types)} pieces in the file but SentencePiece reports "
                             f"{sp.vocab_size()}; corrupt")
    tokens = [sp.id_to_piece(i) for i in range(sp.vocab_size())]
    scores = [sp.get_score(i) for i in range(sp.vocab_size())]
    return tokens, scores, types


# ----------------------------------------------------------------------------------------------
# writing


def modelfile(gguf_path, mode: str, args: ModelArgs, bos: str = "<s>", eos: str = "</s>") -> str:
    """An Ollama Modelfile for the GGUF at gguf_path, to sit beside it: `ollama create NAME -f FILE`.
    bos, eos: the text of the BOS and EOS pieces."""
    gguf_path = Path(gguf_path)
    template = OLLAMA_TEMPLATES[mode].replace("{eos}", eos).replace("{bos}", bos)
    example = "Write a story about a brave fox" if mode == "instruct" else "Once upon a time"
    return (f"# written by export.py for a {mode} model (docs/gguf.md). In Ollama:\n"
            f"#   ollama create NAME -f {gguf_path.with_suffix('.Modelfile').name}\n"
            f'#   ollama run NAME "{example}"\n'
            f"FROM ./{gguf_path.name}\n"
            f'TEMPLATE """{template}"""\n'
            f'PARAMETER stop "{eos}"\n'
            f"# the model's context: Ollama's default is longer than it was trained for\n"
            f"PARAMETER num_ctx {args.max_seq_len}\n")


def write(model: Transformer, path, mode: str = "generate", tokenizer=None, *, quant: str = "f32",
          types: dict[str, str] | None = None, name: str | None = None):
    """Write model as a GGUF at path: its weights in `quant` (one of QUANTS; types: kind -> storage type
    overriding DEFAULT_TYPES, e.g. {"wqkv": "q8_0"}), the vocabulary of `tokenizer` (a
    tokenizer.Tokenizer, required: a GGUF without one is of no use to llama.cpp), metadata, and the chat
    template of `mode` ("instruct" or "generate"). The file appears under its name only once it is whole."""
    model = getattr(model, "_orig_mod", model)
    if quant not in QUANTS:
        raise ValueError(f"unknown GGUF quant type {quant!r}; one of {', '.join(QUANTS)}")
    if mode not in ("instruct", "generate"):
        raise ValueError(f"mode must be 'instruct' or 'generate', got {mode!r}")
    for kind, storage in (types or {}).items():
        if kind not in DEFAULT_TYPES["q8_0"] or storage not in STORAGE:
            raise ValueError(f"{kind}={storage}: KIND one of {', '.join(DEFAULT_TYPES['q8_0'])}, "
                             f"TYPE one of {', '.join(STORAGE)}")
    if types and quant not in DEFAULT_TYPES:
        raise ValueError(f"per-kind types apply to a quantized GGUF (q8_0, q4_0), not {quant}")
    if tokenizer is None:
        raise TokenizerError("a GGUF holds the model's vocabulary: name the tokenizer .model it was trained with")
    args = model.args
    if tokenizer.vocab_size != args.vocab_size:
        raise TokenizerError(f"{tokenizer.model_path} has {tokenizer.vocab_size} pieces but the model's "
                             f"vocabulary has {args.vocab_size}")
    tokens, scores, token_types = vocabulary(tokenizer)
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory; name the .gguf file to write")

    w = gguf.GGUFWriter(None, "llama")
    w.add_name(name or path.stem)
    w.add_file_type(FILE_TYPES[quant])
    if quant in ("q8_0", "q4_0"):
        w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    w.add_context_length(args.max_seq_len)
    w.add_embedding_length(args.dim)
    w.add_feed_forward_length(args.hidden_dim)
    w.add_block_count(args.n_layers)
    w.add_head_count(args.n_heads)
    w.add_head_count_kv(args.n_kv_heads)
    w.add_rope_dimension_count(args.head_dim)
    w.add_rope_freq_base(args.rope_theta)
    w.add_layer_norm_rms_eps(args.norm_eps)
    w.add_vocab_size(args.vocab_size)

    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(token_types)
    w.add_bos_token_id(tokenizer.bos_id)
    w.add_eos_token_id(tokenizer.eos_id)
    if tokenizer.sp.unk_id() >= 0:
        w.add_unk_token_id(tokenizer.sp.unk_id())
    if tokenizer.sp.pad_id() >= 0:
        w.add_pad_token_id(tokenizer.sp.pad_id())
    w.add_add_bos_token(mode == "generate")
    w.add_add_eos_token(False)
    # SentencePiece's dummy prefix ("a" is encoded as "▁a"), which llama.cpp applies to text at the start
    # and after a special token, as SentencePiece does to each piece of text it is given
    w.add_add_space_prefix(tokenizer.sp.id_to_piece(tokenizer.encode("a")[0]).startswith("\u2581"))
    w.add_chat_template(INSTRUCT_TEMPLATE if mode == "instruct" else GENERATE_TEMPLATE)

    state = model.state_dict()
    for gguf_name, ours, shape in tensor_table(args):
        array = state[ours].detach().to("cpu", torch.float32).contiguous().numpy()  # (rows, cols) or (dim,)
        assert array.shape == shape, f"{ours}: shape {array.shape}, expected {shape}"
        qtype = tensor_type(gguf_name, shape, quant, {**model_bin.narrow_types(args, quant), **(types or {})},
                            args.tie_embeddings)
        if qtype == T.F32:
            w.add_tensor(gguf_name, array)
        elif qtype == T.F16:
            w.add_tensor(gguf_name, array.astype(np.float16))
        else:
            blocks = np.frombuffer(quants.quantize(array, qtype.name.lower()), dtype=np.uint8)
            # uint8 rows of blocks: the writer derives the weight shape from the bytes per row
            w.add_tensor(gguf_name, blocks.reshape(shape[0], -1), raw_dtype=qtype)

    with atomic_write(path) as f:
        # the writer takes an already open file when its state says so: then every byte goes through
        # atomic_write's temporary file, and the finished file is renamed over path
        w.fout, w.state = [f], gguf.WriterState.EMPTY
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.fout = None  # atomic_write closes the file
    write_text(path.with_suffix(".Modelfile"), modelfile(path, mode, args, tokens[tokenizer.bos_id],
                                                            tokens[tokenizer.eos_id]))


# ----------------------------------------------------------------------------------------------
# reading


def _field(reader: gguf.GGUFReader, key: str, default=None):
    field = reader.fields.get(key)
    return default if field is None else field.contents()


def read(path) -> tuple[Transformer, dict]:
    """A llama-architecture GGUF (ours, llama.cpp's converters', a Q8_0/Q4_0 quantization of either) as a
    Transformer on the CPU, dequantized to float32; CheckpointError for anything else.

    info: "format" ("gguf"), "instruct" (the file carries our instruct chat template), "bos_id", "eos_id";
    a GGUF records no tokenizer identity ("tokenizer": None), and the vocabulary itself is not read back:
    sample.py and eval.py take the SentencePiece .model beside the file, as for llama2.c's files."""
    path = Path(path)
    try:
        reader = gguf.GGUFReader(path)
    except (ValueError, OSError, IndexError, KeyError) as e:
        raise CheckpointError(f"{path}: not a readable GGUF file ({e})") from None
    arch = _field(reader, "general.architecture")
    if arch != "llama":
        raise CheckpointError(f"{path}: a GGUF of architecture {arch!r}; this code reads 'llama'")
    scaling = _field(reader, "llama.rope.scaling.type", "none")
    if scaling != "none":
        raise CheckpointError(f"{path}: uses RoPE scaling {scaling!r}, which model.py does not implement")
    tensors = {t.name: t for t in reader.tensors}
    try:
        n_heads = int(_field(reader, "llama.attention.head_count"))
        args = ModelArgs(dim=int(_field(reader, "llama.embedding_length")),
                         hidden_dim=int(_field(reader, "llama.feed_forward_length")),
                         n_layers=int(_field(reader, "llama.block_count")), n_heads=n_heads,
                         n_kv_heads=int(_field(reader, "llama.attention.head_count_kv", n_heads)),
                         vocab_size=int(tensors["token_embd.weight"].shape[1]),
                         max_seq_len=int(_field(reader, "llama.context_length")),
                         rope_theta=float(_field(reader, "llama.rope.freq_base", 10000.0)),
                         norm_eps=_as_float(_field(reader, "llama.attention.layer_norm_rms_epsilon")),
                         tie_embeddings="output.weight" not in tensors)
    except (TypeError, KeyError, ValueError) as e:
        raise CheckpointError(f"{path}: llama metadata missing or inconsistent ({e})") from None
    rope_dims = _field(reader, "llama.rope.dimension_count", args.head_dim)
    if rope_dims != args.head_dim:
        raise CheckpointError(f"{path}: RoPE over {rope_dims} of {args.head_dim} dimensions per head; "
                              f"model.py rotates all of them")
    state = {}
    for gguf_name, ours, shape in tensor_table(args):
        t = tensors.get(gguf_name)
        if t is None:
            raise CheckpointError(f"{path}: no tensor {gguf_name}; not a complete llama model")
        state[ours] = torch.from_numpy(_dequantize(path, t, shape))
    if args.tie_embeddings:
        state["output.weight"] = state["tok_embeddings.weight"]
    model = Transformer(args)
    model.load_state_dict(state)
    template = _field(reader, "tokenizer.chat_template")
    info = {"format": "gguf", "instruct": template == INSTRUCT_TEMPLATE, "tokenizer": None,
            "bos_id": int(_field(reader, "tokenizer.ggml.bos_token_id", 1)),
            "eos_id": int(_field(reader, "tokenizer.ggml.eos_token_id", 2)),
            "tokenizer_flags": None, "config": None, "step": None}
    return model, info


def _dequantize(path: Path, t, shape: tuple[int, ...]) -> np.ndarray:
    """One tensor of a GGUFReader as a float32 array of our shape (GGUF lists dimensions innermost first)."""
    if tuple(int(n) for n in reversed(t.shape)) != shape:
        raise CheckpointError(f"{path}: {t.name} has shape {tuple(reversed(t.shape))}, the metadata implies {shape}")
    if t.tensor_type == T.F32:
        return np.array(t.data, dtype=np.float32).reshape(shape)
    if t.tensor_type == T.F16:
        return np.array(t.data, dtype=np.float16).astype(np.float32).reshape(shape)
    if t.tensor_type in (T.Q8_0, T.Q4_0):
        return quants.dequantize(bytes(t.data), t.tensor_type.name.lower(), shape)
    raise CheckpointError(f"{path}: {t.name} is {t.tensor_type.name}; this code reads F32, F16, Q8_0 and Q4_0 "
                          f"(llama-quantize can convert to those)")
