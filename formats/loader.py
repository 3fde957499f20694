"""One loader for every model file the project reads, recognised by its content, not its name.

    model, info = load_model("out/ckpt.pt")          # or model.bin, stories260K.bin, llama2.c's ckpt.pt
    save_model(model, "out/model.bin", "ours", tokenizer=tok, mode="instruct")

info is what the file knows beyond the weights:
    format           one of FORMATS below
    instruct         the mode it was trained for (False when the file does not say)
    tokenizer        sha256 of the SentencePiece .model it was trained with, or None when not recorded
    bos_id, eos_id   the special ids it expects (1 and 2 unless the file records others)
    tokenizer_flags  the SentencePiece normalizer settings our model.bin records, or None
    config, step     train.py's settings and step (our checkpoints only, else None; llama2.c's step too)
"""

from pathlib import Path

from errors import CheckpointError
from formats import checkpoint, gguf, llama2c, model_bin

ZIP_MAGIC = b"PK\x03\x04"  # torch.save writes a zip archive
GGUF_MAGIC = b"GGUF"

# format name -> reader(path) -> (Transformer, info). A new format is one line here and one in WRITERS.
READERS = {
    "checkpoint": checkpoint.read_model,  # both kinds of .pt; info["format"] then says which
    "ours": model_bin.read,
    "llama2c-v1": llama2c.read_v1,
    "llama2c-v0": llama2c.read_v0,
    "gguf": gguf.read,
}
# format name -> writer(model, path, **options)
WRITERS = {
    "ours": model_bin.write,
    "llama2c-v0": llama2c.write_v0,
    "llama2c-v1": llama2c.write_v1,
    "gguf": gguf.write,
}


def detect(path) -> str:
    """The format of the file or directory at path, from its first bytes; CheckpointError for what no
    reader here takes. llama2.c's version 0 has no magic, so it is what remains; its reader then checks
    that the header is plausible and the size matches it exactly."""
    path = Path(path)
    if path.is_dir():
        if (path / "config.json").is_file():
            raise CheckpointError(f"{path}: a Hugging Face model directory (config.json); not readable here yet")
        raise CheckpointError(f"{path}: not a regular file but a directory; name the model file in it")
    if not path.exists():
        raise CheckpointError(f"{path}: no such file")
    if not path.is_file():
        raise CheckpointError(f"{path}: not a regular file")
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read: {e.strerror or e}") from None
    if head[:4] == ZIP_MAGIC:
        return "checkpoint"
    if head[:4] == model_bin.MAGIC:
        return "ours"
    if head[:4] == GGUF_MAGIC:
        return "gguf"
    if len(head) >= 8 and int.from_bytes(head[:4], "little") == llama2c.VERSION_MAGIC:
        version = int.from_bytes(head[4:8], "little", signed=True)
        if version != 1:
            raise CheckpointError(f"{path}: llama2.c format version {version}; this code reads versions 0 and 1")
        return "llama2c-v1"
    return "llama2c-v0"


def load_model(path, device="cpu"):
    """(model in eval mode on device, info) for any file detect() recognises; CheckpointError otherwise."""
    path = Path(path)
    model, info = READERS[detect(path)](path)
    return model.to(device).eval(), info


def save_model(model, path, format: str, **options):
    """Write model in `format` (a key of WRITERS); options go to that writer (ours: mode, tokenizer, ...)."""
    if format not in WRITERS:
        raise ValueError(f"unknown model format {format!r}; one of {', '.join(WRITERS)}")
    WRITERS[format](model, path, **options)
