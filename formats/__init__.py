"""Every file format the project reads or writes, one module per family.

    atomic.py      atomic_write: how every file here is written (temporary name, then rename)
    layout.py      the table of per-block weight shapes, and the float32 tensor streams every .bin is built on
    checkpoint.py  PyTorch checkpoints: ours (train.py's ckpt.pt, resumable) and llama2.c's .pt
    llama2c.py     llama2.c's model.bin, version 0 ("legacy") and version 1
    model_bin.py   our model.bin (magic "tsll"): what run.c runs by default; version 2 holds quantized matrices
    quants.py      the block formats Q8_0, Q4_0 (ggml's, byte for byte) and NF4 (lora.py's): quantize, dequantize
    adapter.py     LoRA adapter files (adapter.pt) and the identity of the base they belong to
    loader.py      load_model(path): recognises any of the above by its content; save_model(model, path, format)

A new format is one new module with a reader and a writer, and one line in each table of loader.py.
model.py and lora.py know nothing of files: they build modules from tensors and hand tensors back.
This __init__ imports nothing, so `formats.atomic` stays cheap to import for tokenizer.py and data/.
"""
