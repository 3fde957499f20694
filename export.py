"""
Convert any model the project loads into a model file for run.c (or llama2.c's own run).

    python export.py out/ckpt.pt out/model.bin                  # our format (what train.py writes)
    python export.py out/ckpt.pt out/model-v0.bin --version 0   # llama2.c's legacy format, for its own run
    python export.py stories260K.bin stories260K-ours.bin --tokenizer tok512.model --mode generate
    python export.py out/ckpt.pt out/model-q4_0.bin --quant q4_0   # 4-bit matrices, 8-bit classifier
    python export.py out/ckpt.pt out/model-q4.bin --quant q4_0 --quant-types wqkv=q8_0,classifier=q4_0
    python export.py out/ckpt.pt out/model.gguf --quant q8_0   # GGUF for llama.cpp, Ollama, LM Studio

The source may be our ckpt.pt or model.bin, llama2.c's ckpt.pt, or a llama2.c model.bin (version 0 or 1):
formats/loader.py recognises it by its content. The formats themselves live in formats/ (model_bin.py,
llama2c.py, gguf.py); docs/run.md and docs/gguf.md document every byte.

--quant writes our format's version 2: the matrices in Q8_0, Q4_0 (ggml's blocks) or NF4 (lora.py's, so a
QLoRA base reaches run.c with the very codes it was fine-tuned against), each kind of matrix in the type
formats/model_bin.quant_types gives it (the classifier keeps 8 bits in a 4-bit file, and so do wq/wk/wv of
models narrower than dim 128) unless --quant-types says otherwise. Python reads such files too, dequantizing
them. An output named *.gguf is a GGUF (--quant f32, f16, q8_0 or q4_0, the same per-kind defaults and
--quant-types with TYPE f32, f16, q8_0 or q4_0; formats/gguf.py, docs/gguf.md), with an Ollama Modelfile
beside it.
"""

import argparse
from pathlib import Path

from errors import USER_ERRORS, exit_with, flag_type
from formats import model_bin
from formats.gguf import QUANTS as GGUF_QUANTS, STORAGE as GGUF_STORAGE
from formats.loader import load_model, save_model
from model import pick_device
from tokenizer import open_tokenizer

VERSIONS = {"ours": "ours", "0": "llama2c-v0", "1": "llama2c-v1"}
TYPES = tuple(dict.fromkeys((*model_bin.TYPE_CODES, *GGUF_STORAGE)))  # each writer says which it can store


def export(source, out, version: str = "ours", mode: str | None = None, tokenizer_path: str | None = None,
           device: str = "cpu", quant: str | None = None, types: dict[str, str] | None = None):
    """Load `source` and write it to `out` in `version` (a key of VERSIONS); with quant (q8_0, q4_0, nf4),
    our quantized version, with `types` (kind -> type) overriding its defaults. An out named *.gguf is a
    GGUF with its matrices in quant (f32 when None)."""
    model, info = load_model(source, device)
    if Path(out).suffix == ".gguf":
        return export_gguf(model, info, source, out, mode, tokenizer_path, quant, types)
    if version != "ours":
        save_model(model, out, VERSIONS[version])
        return
    # our format records the tokenizer: the one named, or the one beside the source (if any)
    beside = Path(source).parent / "tokenizer.model"
    tokenizer = None
    if tokenizer_path or beside.exists():
        tokenizer = open_tokenizer(source, tokenizer_path, info.get("tokenizer"), model.args.vocab_size)
    mode = mode or ("instruct" if info.get("instruct") else "generate")
    save_model(model, out, "ours", mode=mode, tokenizer=tokenizer, bos_id=info.get("bos_id", 1),
               eos_id=info.get("eos_id", 2), identity=info.get("tokenizer"), flags=info.get("tokenizer_flags"),
               quant=quant, types=types)


def parse_types(text: str) -> dict[str, str]:
    """"wqkv=q8_0,classifier=q4_0" -> {"wqkv": "q8_0", "classifier": "q4_0"}; ValueError naming what is wrong."""
    types = {}
    for item in text.split(","):
        kind, _, qtype = item.partition("=")
        if kind not in model_bin.KINDS or qtype not in TYPES:
            raise ValueError(f"{item!r} is not KIND=TYPE with KIND one of {', '.join(model_bin.KINDS)} "
                             f"and TYPE one of {', '.join(TYPES)}")
        types[kind] = qtype
    return types


def export_gguf(model, info, source, out, mode, tokenizer_path, quant, types=None):
    """A GGUF needs the vocabulary: the tokenizer named, or tokenizer.model beside the source."""
    tokenizer = open_tokenizer(source, tokenizer_path, info.get("tokenizer"), model.args.vocab_size)
    mode = mode or ("instruct" if info.get("instruct") else "generate")
    save_model(model.cpu(), out, "gguf", mode=mode, tokenizer=tokenizer, quant=quant, types=types)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="any model the project loads: a .pt checkpoint or a model .bin")
    parser.add_argument("out", help="the model .bin to write, or a .gguf")
    parser.add_argument("--version", choices=tuple(VERSIONS), default="ours",
                        help="ours (default), or llama2.c's version 0 or 1")
    parser.add_argument("--mode", choices=("instruct", "generate"), default=None,
                        help="the mode run.c uses without -m (default: what the source was trained for)")
    parser.add_argument("--tokenizer", default=None,
                        help="the tokenizer .model the model was trained with, to record its identity "
                             "(default: tokenizer.model beside the source, if there)")
    parser.add_argument("--device", type=flag_type(pick_device), default="cpu",
                        help="where to load the model: auto, cpu, cuda or mps (default cpu)")
    parser.add_argument("--quant", choices=tuple(dict.fromkeys((*model_bin.DEFAULT_TYPES, *GGUF_QUANTS))),
                        default=None,
                        help="store the weight matrices quantized: q8_0, q4_0 or nf4 in our model.bin (its version "
                             "2; docs/run.md says which matrices get which type), f32, f16, q8_0 or q4_0 in a .gguf")
    parser.add_argument("--quant-types", type=flag_type(parse_types), default=None,
                        help="with --quant: KIND=TYPE,... overriding its defaults, KIND one of "
                             f"{', '.join(model_bin.KINDS)} (a tied classifier is the embedding), TYPE one of "
                             f"{', '.join(model_bin.TYPE_CODES)} in a model.bin, of {', '.join(GGUF_STORAGE)} "
                             "in a .gguf")
    args = parser.parse_args(argv)
    gguf_out = Path(args.out).suffix == ".gguf"
    if gguf_out:
        if args.version != "ours":
            parser.error("--version names a model.bin layout; a .gguf output takes --quant")
        if args.quant_types and args.quant not in ("q8_0", "q4_0"):
            parser.error("--quant-types needs --quant q8_0 or q4_0 in a .gguf")
        if args.quant and args.quant not in GGUF_QUANTS:
            parser.error(f"a .gguf output takes --quant {', '.join(GGUF_QUANTS)}, not {args.quant}")
    else:
        if args.version != "ours" and (args.mode or args.tokenizer or args.quant):
            parser.error("--mode, --tokenizer and --quant are recorded only by our format (--version ours)")
        if args.quant and args.quant not in model_bin.DEFAULT_TYPES:
            parser.error(f"a model.bin takes --quant {', '.join(model_bin.DEFAULT_TYPES)}, not {args.quant}")
        if args.quant_types and not args.quant:
            parser.error("--quant-types needs --quant")
    try:
        export(args.source, args.out, args.version, args.mode, args.tokenizer, args.device,
               args.quant or ("f32" if gguf_out else None), args.quant_types)
        print(f"wrote {args.out}")
    except (*USER_ERRORS, ValueError) as e:  # ValueError: a model llama2.c's formats cannot hold
        exit_with(e)


if __name__ == "__main__":
    main()
