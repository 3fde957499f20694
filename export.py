"""
Convert any model the project loads into a model file for run.c (or llama2.c's own run).

    python export.py out/ckpt.pt out/model.bin                  # our format (what train.py writes)
    python export.py out/ckpt.pt out/model-v0.bin --version 0   # llama2.c's legacy format, for its own run
    python export.py stories260K.bin stories260K-ours.bin --tokenizer tok512.model --mode generate
    python export.py out/ckpt.pt out/model.gguf --quant q8_0   # GGUF for llama.cpp, Ollama, LM Studio

The source may be our ckpt.pt or model.bin, llama2.c's ckpt.pt, or a llama2.c model.bin (version 0 or 1):
formats/loader.py recognises it by its content. The formats themselves live in formats/ (model_bin.py,
llama2c.py); docs/run.md documents every byte. An output named *.gguf is a GGUF (formats/gguf.py,
docs/gguf.md), with an Ollama Modelfile beside it.
"""

import argparse
from pathlib import Path

from errors import USER_ERRORS, exit_with, flag_type
from formats.gguf import QUANTS as GGUF_QUANTS
from formats.loader import load_model, save_model
from model import pick_device
from tokenizer import open_tokenizer

VERSIONS = {"ours": "ours", "0": "llama2c-v0", "1": "llama2c-v1"}


def export(source, out, version: str = "ours", mode: str | None = None, tokenizer_path: str | None = None,
           device: str = "cpu", quant: str = "f32"):
    """Load `source` and write it to `out` in `version` (a key of VERSIONS)."""
    model, info = load_model(source, device)
    if Path(out).suffix == ".gguf":
        return export_gguf(model, info, source, out, mode, tokenizer_path, quant)
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
               eos_id=info.get("eos_id", 2), identity=info.get("tokenizer"), flags=info.get("tokenizer_flags"))


def export_gguf(model, info, source, out, mode, tokenizer_path, quant):
    """A GGUF needs the vocabulary: the tokenizer named, or tokenizer.model beside the source."""
    tokenizer = open_tokenizer(source, tokenizer_path, info.get("tokenizer"), model.args.vocab_size)
    mode = mode or ("instruct" if info.get("instruct") else "generate")
    save_model(model.cpu(), out, "gguf", mode=mode, tokenizer=tokenizer, quant=quant)


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
    parser.add_argument("--quant", choices=GGUF_QUANTS, default=None,
                        help="how a .gguf stores its weight matrices (default f32; docs/gguf.md)")
    args = parser.parse_args(argv)
    gguf_out = Path(args.out).suffix == ".gguf"
    if args.quant and not gguf_out:
        parser.error("--quant applies to a .gguf output")
    if gguf_out and args.version != "ours":
        parser.error("--version names a model.bin layout; a .gguf output takes --quant")
    if args.version != "ours" and (args.mode or args.tokenizer):
        parser.error("--mode and --tokenizer are recorded only by our format (--version ours)")
    try:
        export(args.source, args.out, args.version, args.mode, args.tokenizer, args.device, args.quant or "f32")
        print(f"wrote {args.out}")
    except (*USER_ERRORS, ValueError) as e:  # ValueError: a model llama2.c's formats cannot hold
        exit_with(e)


if __name__ == "__main__":
    main()
