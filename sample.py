"""
Sample stories from a trained model, with the flags of llama2.c's `run`.

    python sample.py out/model.bin -i "Write a story about a brave fox who finds a key"
    python sample.py out/ckpt.pt -m generate -i "Once upon a time" -t 0.8 -p 0.9
    python sample.py stories260K.bin -z tok512.model -t 0 -n 200
    python sample.py out/ckpt.pt --adapter out-lora/adapter.pt -i "Write a story about ..."   # base + LoRA

Modes:
  instruct   the input is an instruction: the model sees EOS + prompt + BOS (exactly how instruction
             examples sit in the packed training data) and writes the story; stops at EOS.
  generate   completion: the model sees BOS + text and continues it; stops at EOS or BOS.
The default mode is the one the checkpoint was trained for.
"""

import argparse
import sys
import time
from typing import Iterator


from errors import USER_ERRORS, exit_with, flag_type
from formats import adapter
from formats.loader import load_model
from model import Transformer, pick_device
from tokenizer import Tokenizer, open_tokenizer


def prompt_ids(tokenizer: Tokenizer, text: str, mode: str) -> tuple[list[int], tuple[int, ...]]:
    """The token ids the model is fed for `text` in `mode`, and the ids that end generation."""
    if mode == "instruct":
        return [tokenizer.eos_id] + tokenizer.encode(text) + [tokenizer.bos_id], (tokenizer.eos_id,)
    return [tokenizer.bos_id] + tokenizer.encode(text), (tokenizer.eos_id, tokenizer.bos_id)


def generate_text(model: Transformer, tokenizer: Tokenizer, prompt: str, mode: str, temperature: float = 1.0,
                  top_k: int | None = None, top_p: float | None = None, max_new_tokens: int | None = None,
                  steps: int | None = None, seed: int = 1, generated: list[int] | None = None,
                  compile: bool = False) -> Iterator[str]:
    """Yield the text as it is generated: the story (instruct), or the prompt and its continuation (generate).

    steps: llama2.c's -n, the total number of positions including the prompt; max_new_tokens instead
    counts generated tokens only. With neither, generate until the context is full. generated: a list
    the new token ids are appended to (text pieces and tokens are not one to one). compile: decode through
    model.generate's compiled step.
    """
    ids, stop = prompt_ids(tokenizer, prompt, mode)
    if len(ids) >= model.args.max_seq_len:
        raise ValueError(f"the prompt is {len(ids)} tokens; the model's context is {model.args.max_seq_len}")
    budget = model.args.max_seq_len - len(ids)  # generate() stops at a full context anyway
    if steps:  # llama2.c runs `steps` positions; the token sampled at the last one is printed, not fed
        budget = min(budget, steps - len(ids) + 1)
    if max_new_tokens:
        budget = min(budget, max_new_tokens)
    # decode the whole sequence each time and emit what is new: SentencePiece joins byte-fallback
    # pieces into characters only when it sees all of them, and drops the leading space of the text
    shown = ids[1:] if mode == "generate" else []
    emitted = ""
    if shown:
        emitted = tokenizer.decode(shown)
        yield emitted
    for token in model.generate(ids, max(budget, 0), temperature=temperature, top_k=top_k, top_p=top_p,
                                stop_tokens=stop, seed=seed, compile=compile):
        shown.append(token)
        if generated is not None:
            generated.append(token)
        text = tokenizer.decode(shown)
        if text.endswith("\ufffd"):  # an incomplete UTF-8 character: wait for its other bytes
            continue
        yield text[len(emitted):]
        emitted = text
    text = tokenizer.decode(shown)
    if len(text) > len(emitted):
        yield text[len(emitted):]


def load_for_sampling(model_path, adapter_path=None, tokenizer_path=None, device="cpu"):
    """(model in eval mode on device, what its file knows, its tokenizer) for sample.py and eval.py: any
    model the loader reads, with an adapter applied unmerged when one is given, and the tokenizer -z names
    (or the one beside the model) checked against what the model file records."""
    model, info = load_model(model_path)
    if adapter_path:
        state = adapter.load(model, adapter_path)
        info = {**info, "instruct": state.get("instruct", info.get("instruct"))}
    tokenizer = open_tokenizer(model_path, tokenizer_path, info["tokenizer"], model.args.vocab_size)
    return model.to(device).eval(), info, tokenizer


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="any model the project loads: our ckpt.pt or model.bin, llama2.c's "
                                           "ckpt.pt or model.bin")
    parser.add_argument("-t", dest="temperature", type=float, default=1.0, help="temperature, 0 = greedy (default 1.0)")
    parser.add_argument("-p", dest="top_p", type=float, default=0.9, help="top-p (nucleus) sampling, 1.0 = off (default 0.9)")
    parser.add_argument("-k", dest="top_k", type=int, default=0, help="top-k sampling, 0 = off (default 0)")
    parser.add_argument("-s", dest="seed", type=int, default=0, help="random seed, 0 = from the clock (default 0)")
    parser.add_argument("-n", dest="steps", type=int, default=256,
                        help="positions to run, prompt included; 0 = the model's context (default 256)")
    parser.add_argument("-i", dest="input", default="", help="input text: the instruction, or the start of the story; - reads stdin")
    parser.add_argument("-z", dest="tokenizer", default=None,
                        help="tokenizer .model, or llama2.c's tokenizer.bin with its .model beside it "
                             "(default: tokenizer.model beside the checkpoint)")
    parser.add_argument("--device", type=flag_type(pick_device), default="cpu",
                        help="auto, cpu, cuda or mps (default cpu)")
    parser.add_argument("--adapter", default=None,
                        help="a LoRA adapter (adapter.pt from train.py --lora-rank) to apply, unmerged, to the base checkpoint")
    parser.add_argument("--compile", action="store_true",
                        help="decode through a torch.compile'd step: ~3x the tokens/s on CPU after ~30 s of "
                             "compiling, so worth it for long or many generations")
    parser.add_argument("-m", dest="mode", choices=("instruct", "generate"), default=None,
                        help="instruct or generate (default: what the checkpoint was trained for)")
    args = parser.parse_args(argv)
    if args.temperature < 0:
        parser.error("-t must not be negative")
    if not 0.0 <= args.top_p <= 1.0:
        parser.error("-p must be in [0, 1]")
    if args.top_k < 0 or args.steps < 0:
        parser.error("-k and -n must not be negative")

    try:
        text = sys.stdin.read() if args.input == "-" else args.input
        model, info, tokenizer = load_for_sampling(args.checkpoint, args.adapter, args.tokenizer, args.device)
        mode = args.mode or ("instruct" if info.get("instruct") else "generate")
        if mode == "instruct" and not text.strip():
            raise ValueError("instruct mode needs an instruction: -i \"Write a story about ...\"")
        seed = args.seed or int(time.time())
        start, generated = time.time(), []
        for piece in generate_text(model, tokenizer, text, mode, temperature=args.temperature,
                                   top_k=args.top_k or None, top_p=args.top_p if 0 < args.top_p < 1 else None,
                                   steps=args.steps or None, seed=seed, generated=generated,
                                   compile=args.compile):
            print(piece, end="", flush=True)
        print()
        print(f"achieved tok/s: {len(generated) / max(time.time() - start, 1e-9):.1f}", file=sys.stderr)
    except (*USER_ERRORS, ValueError) as e:  # ValueError: a prompt the model cannot take
        exit_with(e)


if __name__ == "__main__":
    main()
