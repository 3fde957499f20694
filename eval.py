"""
Evaluate a checkpoint: validation loss and perplexity, and how well the model follows instructions it
has never seen.

    python eval.py out/ckpt.pt                       # loss + instruction following on three prompt sets
    python eval.py out/ckpt.pt --dataset stories.jsonl --no-follow
    python eval.py out/ckpt.pt --follow-file my_prompts.jsonl   # also your own {"prompt", "words"} records

Instruction following: for each prompt the model writes a story (greedy by default, many prompts at a
time), and data/scoring.py checks which of the words the prompt asked for the story contains (whole
words; plurals, possessives and verb forms count). The sets, side by side:
  held-out combinations  storyteller prompts pairing a character with a word it never meets in training
  held-out words         storyteller prompts made only of words that never occur in training
  validation prompts     for a dataset other than the built-in one: its validation records that carry
                         "words" (TinyStories all_data's prompts built from its word lists do)
  free-form              data/freeform.jsonl: prompts written by hand in ordinary words, not by the storyteller
For each: the share of required words present, the share of prompts with every word present, and the
share of stories that ended at EOS rather than at the edge of the context.
"""

import argparse
import json
import math

import torch

from data import storyteller
from data.prepare import VAL_FRACTION, validation_records, validation_shards
from data.shards import Batches
from errors import USER_ERRORS, exit_with, flag_type
from formats.atomic import write_text
from model import pick_device
from data.scoring import read_freeform, score, scorable_words
from sample import load_for_sampling, prompt_ids
from tokenizer import Tokenizer

# what a run records in its checkpoint's config that decides its validation split, and train.py's
# defaults for a model that records none (llama2.c's files)
SPLIT_DEFAULTS = {"dataset": "builtin", "data_dir": "data/cache", "seed": 1337, "val_fraction": VAL_FRACTION,
                  "builtin_stories": 30000, "max_seq_len": None}


@torch.no_grad()
def validation_loss(model, tokenizer: Tokenizer, split: dict, instruct: bool, batches: int, batch_size: int) -> float:
    """Mean loss over `batches` fixed windows of the validation split the model was trained beside
    (split: SPLIT_DEFAULTS' fields), the same windows train.py evaluates on."""
    seq_len = min(split["max_seq_len"] or model.args.max_seq_len, model.args.max_seq_len)
    with validation_shards(split["dataset"], split["data_dir"], tokenizer, instruct=instruct, seed=split["seed"],
                           val_fraction=split["val_fraction"], builtin_stories=split["builtin_stories"]) as shards:
        val = Batches(shards, seq_len, batch_size, tokenizer, mask_prompt=instruct, seed=split["seed"] + 1)
        model.eval()
        device = model.norm.weight.device
        losses = [model(x.to(device), y.to(device))[1].item() for x, y in (val.get(i, 0) for i in range(batches))]
    return sum(losses) / len(losses)


FOLLOW_SETS = {"heldout": "held-out combinations", "heldout_words": "held-out words", "freeform": "free-form",
               "validation": "validation prompts"}


def follow_records(split: dict, n_prompts: int, seed: int, n_freeform: int | None = None,
                   files: list[str] = ()) -> dict[str, list[dict]]:
    """The prompt sets to score. For the built-in stories: n storyteller prompts of each held-out split;
    for another dataset: the first n prompts of its validation split that ask for words (TinyStories'
    all_data records built from its word lists do). Then the free-form set (all of it, or its first
    n_freeform prompts), and the first n prompts with words of each --follow-file."""
    sets = {}
    if split["dataset"] == "builtin":
        sets["heldout"] = storyteller.make_records(n_prompts, seed=seed, split="heldout")
        sets["heldout_words"] = storyteller.make_records(n_prompts, seed=seed, split="heldout-words")
    else:
        val = validation_records(split["dataset"], split["data_dir"], seed=split["seed"],
                                 val_fraction=split["val_fraction"], builtin_stories=split["builtin_stories"])
        asked = [dict(r, words=scorable_words(r["words"])) for r in val if r.get("prompt") and r.get("words")]
        asked = [r for r in asked if r["words"]][:n_prompts]
        if asked:
            sets["validation"] = asked
    sets["freeform"] = read_freeform()[:n_freeform]
    for path in files:
        sets[str(path)] = read_freeform(path, only_with_words=True)[:n_prompts]
    return sets


def instruction_following(model, tokenizer: Tokenizer, records: list[dict], seed: int, temperature: float,
                          max_new_tokens: int | None = None, batch_size: int = 64) -> dict:
    """Generate a story for each record ({"prompt", "words"}) and score the words it asked for. Prompts go
    through the model batch_size at a time (Transformer.generate_batch), each with the seed it would get
    alone (seed + i + 1), so the stories are the ones sample.py writes for the same prompts."""
    stories, ended = [], 0
    for first in range(0, len(records), batch_size):
        chunk = records[first:first + batch_size]
        prompts = [prompt_ids(tokenizer, r["prompt"], "instruct") for r in chunk]
        stop = prompts[0][1]
        outputs = model.generate_batch([ids for ids, _ in prompts], max_new_tokens or model.args.max_seq_len,
                                       temperature=temperature, stop_tokens=stop,
                                       seeds=[seed + i + 1 for i in range(first, first + len(chunk))])
        for (ids, _), generated in zip(prompts, outputs):
            stories.append(tokenizer.decode(generated))
            room = model.args.max_seq_len - len(ids)
            ended += len(generated) < min(room, max_new_tokens or room)  # stopped by EOS, not by the budget
    result = score(records, stories)
    by_plot = {}
    for record, hits in zip(records, result["per_prompt"]):
        by_plot.setdefault(record.get("plot", "freeform"), []).append(hits["all_words"])
    result.update(ended_at_eos=ended / len(records),
                  all_words_rate_by_plot={k: sum(v) / len(v) for k, v in by_plot.items()},
                  examples=[{"prompt": r["prompt"], "story": s, "words": h["words"]}
                            for r, s, h in list(zip(records, stories, result["per_prompt"]))[:3]])
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="any model the project loads (our ckpt.pt or model.bin, llama2.c's files)")
    parser.add_argument("--dataset", default=None,
                        help="dataset for validation loss (default: the one the checkpoint was trained on)")
    parser.add_argument("--data-dir", default=None, help="prepared-data cache (default: the checkpoint's)")
    parser.add_argument("-z", "--tokenizer", default=None,
                        help="tokenizer .model (default: tokenizer.model beside the checkpoint)")
    parser.add_argument("--adapter", default=None, help="a LoRA adapter.pt to apply, unmerged, to the checkpoint")
    parser.add_argument("--device", type=flag_type(pick_device), default="cpu",
                        help="auto, cpu, cuda or mps (default cpu)")
    parser.add_argument("--batches", type=int, default=50, help="validation batches (default 50)")
    parser.add_argument("--batch-size", type=int, default=16, help="validation batch size (default 16)")
    parser.add_argument("--prompts", type=int, default=100,
                        help="prompts of each set: the held-out storyteller splits, or the validation prompts with words "
                             "of another dataset, and each --follow-file (default 100; the free-form set is always whole)")
    parser.add_argument("--freeform", type=int, default=0,
                        help="the first N prompts of the free-form set (default 0: all of them)")
    parser.add_argument("--follow-file", action="append", default=[], metavar="JSONL",
                        help="also score the first --prompts records of this file that carry \"words\" (repeatable)")
    parser.add_argument("--temperature", type=float, default=0.0, help="sampling temperature for stories (default 0: greedy)")
    parser.add_argument("--seed", type=int, default=1234, help="which held-out prompts, and the sampling seed")
    parser.add_argument("--no-loss", action="store_true", help="skip validation loss")
    parser.add_argument("--no-follow", action="store_true", help="skip instruction following")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.batches <= 0 or args.batch_size <= 0 or args.prompts <= 0 or args.freeform < 0:
        parser.error("--batches, --batch-size and --prompts must be positive, --freeform not negative")
    if args.temperature < 0:
        parser.error("--temperature must not be negative")


    try:
        model, info, tokenizer = load_for_sampling(args.checkpoint, args.adapter, args.tokenizer, args.device)
        trained = info.get("config") or {}
        split = {k: trained.get(k, default) for k, default in SPLIT_DEFAULTS.items()}
        split.update({k: v for k, v in (("dataset", args.dataset), ("data_dir", args.data_dir)) if v})
        instruct = bool(info.get("instruct"))
        results = {"checkpoint": args.checkpoint, "dataset": split["dataset"]}
        if not args.no_loss:
            loss = validation_loss(model, tokenizer, split, instruct, args.batches, args.batch_size)
            results.update(val_loss=loss, perplexity=math.exp(loss))
            print(f"validation loss {loss:.4f}, perplexity {math.exp(loss):.2f} "
                  f"({args.batches} x {args.batch_size} windows of {split['dataset']})")
        if not args.no_follow:
            print(f"instruction following ({'greedy' if args.temperature == 0 else f't={args.temperature}'}):")
            for key, records in follow_records(split, args.prompts, args.seed, args.freeform or None,
                                               args.follow_file).items():
                follow = instruction_following(model, tokenizer, records, args.seed, args.temperature)
                results[key] = follow
                print(f"  {FOLLOW_SETS.get(key, key):<22} {follow['prompts']:>4} prompts: {100 * follow['word_rate']:5.1f}% of "
                      f"required words, {100 * follow['all_words_rate']:5.1f}% of prompts fully followed, "
                      f"{100 * follow['ended_at_eos']:5.1f}% ended at EOS")
        if args.json:
            write_text(args.json, json.dumps(results, indent=2) + "\n")
    except USER_ERRORS as e:
        exit_with(e)
    return results


if __name__ == "__main__":
    main()
