"""End-to-end tests of train.py, sample.py and eval.py on tiny models (CPU, a few seconds each)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(os.environ.get("STORIES_FIXTURES", ROOT.parent / "shared" / "fixtures"))

# a model and run small enough for a test: ~50k parameters, 64-token windows
# (train.py refuses the shape flags with --init-from: a fine-tune or resume keeps its model's shape)
SHAPE = ["--dim", "32", "--n-layers", "2", "--n-heads", "4", "--n-kv-heads", "2", "--vocab-size", "320"]
RUN = ["--max-seq-len", "128", "--batch-size", "4", "--builtin-stories", "400", "--eval-iters", "2",
       "--log-interval", "1", "--learning-rate", "3e-3", "--warmup-iters", "5", "--no-sample"]
TINY = [*SHAPE, *RUN]


def run(args, check=True, env_extra=None, **kwargs):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", **(env_extra or {}))
    result = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def losses(out_dir: Path) -> dict[int, float]:
    """step -> training loss from log.jsonl; a step logged twice (before a kill and after resume) keeps the last."""
    out = {}
    for line in (out_dir / "log.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "loss" in record:
            out[record["step"]] = record["loss"]
    return out


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """Prepare the built-in tiny dataset once (stories, vocab, shards) for every test here."""
    d = tmp_path_factory.mktemp("data")
    run(["train.py", *TINY, "--instruct", "--data-dir", str(d), "--out-dir", str(d / "warmup"), "--max-iters", "1"])
    return d


def test_instruct_run_writes_every_artifact(data_dir, tmp_path):
    out = tmp_path / "out"
    run(["train.py", *TINY, "--instruct", "--data-dir", str(data_dir), "--out-dir", str(out),
         "--max-iters", "30", "--eval-interval", "10"])
    for name in ("ckpt.pt", "model.bin", "tokenizer.model", "tokenizer.bin", "log.jsonl"):
        assert (out / name).stat().st_size > 0, name
    curve = losses(out)
    assert sorted(curve) == list(range(1, 31))
    assert curve[30] < curve[1] - 0.5, "loss did not go down"
    val = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines() if "val_loss" in line]
    assert [v["step"] for v in val] == [10, 20, 30]

    # sample.py reads both the checkpoint and the llama2.c export, and they agree (greedy)
    prompt = "Write a story about a fox."
    pt = run(["sample.py", str(out / "ckpt.pt"), "-t", "0", "-n", "64", "-i", prompt]).stdout
    bin_ = run(["sample.py", str(out / "model.bin"), "-m", "instruct", "-t", "0", "-n", "64", "-i", prompt]).stdout
    assert len(pt) > 1 and pt == bin_  # 30 steps teach little; what matters is that both files give the same tokens
    assert prompt not in pt  # instruct mode prints only the story

    # eval.py reports both numbers
    res = run(["eval.py", str(out / "ckpt.pt"), "--data-dir", str(data_dir), "--batches", "2", "--prompts", "3",
               "--freeform", "4", "--json", str(tmp_path / "eval.json")])
    report = json.loads((tmp_path / "eval.json").read_text())
    assert report["val_loss"] > 0
    for key, label, n in (("heldout", "held-out combinations", 3), ("heldout_words", "held-out words", 3),
                          ("freeform", "free-form", 4)):
        assert report[key]["prompts"] == n and 0.0 <= report[key]["word_rate"] <= 1.0
        assert 0.0 <= report[key]["all_words_rate"] <= 1.0
        assert re.search(rf"{label} +{n} prompts: +[0-9.]+% of required words", res.stdout), res.stdout


def test_resume_after_kill_reproduces_the_loss_curve(data_dir, tmp_path, kill_train_run):
    # dropout on: the random masks after the resume must be the ones the uninterrupted run drew
    common = [*TINY, "--instruct", "--data-dir", str(data_dir), "--max-iters", "150", "--eval-interval", "10",
              "--dropout", "0.1"]
    ref = tmp_path / "ref"
    run(["train.py", *common, "--out-dir", str(ref)])

    out = tmp_path / "killed"
    kill_train_run(["train.py", *common], out)
    killed_at = max(losses(out))
    assert killed_at < 150

    resume = [*RUN, "--instruct", "--data-dir", str(data_dir), "--max-iters", "150", "--eval-interval", "10",
              "--dropout", "0.1"]
    run(["train.py", *resume, "--out-dir", str(out), "--init-from", "resume"])
    got, want = losses(out), losses(ref)
    assert sorted(got) == sorted(want)
    for step in want:
        assert abs(got[step] - want[step]) < 1e-6, f"step {step}: resumed {got[step]} vs uninterrupted {want[step]}"


def test_two_process_torchrun_matches_one_process(data_dir, tmp_path):
    common = [*TINY, "--instruct", "--data-dir", str(data_dir), "--max-iters", "12", "--eval-interval", "6"]
    run(["train.py", *common, "--grad-accum", "2", "--out-dir", str(tmp_path / "one")])
    torchrun = [ "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    run([*torchrun, "train.py", *common, "--grad-accum", "1", "--out-dir", str(tmp_path / "two")])
    one, two = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert sorted(one) == sorted(two) == list(range(1, 13))
    for step in one:
        assert two[step] == pytest.approx(one[step], rel=1e-4, abs=1e-5), step


@pytest.mark.skipif(not (FIXTURES / "distillation" / "story_distillation.csv").exists(),
                    reason="fixture distillation/story_distillation.csv not found (set STORIES_FIXTURES)")
def test_teacher_csv_and_jsonl_train(tmp_path):
    csv = FIXTURES / "distillation" / "story_distillation.csv"
    jsonl = tmp_path / "teacher.jsonl"
    # the teacher's JSONL layout (data/teacher.py writes it): prompt, story and extra keys
    from data.records import read_csv
    jsonl.write_text("".join(json.dumps({"prompt": r["prompt"], "story": r["story"], "theme": r["theme"],
                                         "teacher": "llama-2-70b-chat", "finish_reason": "stop"}) + "\n"
                             for r in read_csv(csv)[:400]))
    for dataset in (csv, jsonl):
        out = tmp_path / f"out-{dataset.suffix[1:]}"
        run(["train.py", *TINY, "--vocab-size", "512", "--instruct", "--dataset", str(dataset), "--data-dir", str(tmp_path / "cache"),
             "--out-dir", str(out), "--max-iters", "3", "--eval-interval", "3"])
        assert (out / "ckpt.pt").exists()


def test_eval_scores_the_validation_prompts_that_ask_for_words(tmp_path):
    """A dataset whose records carry "words" (as TinyStories all_data's do): eval.py scores the prompts of
    its validation split, which training never saw, and a --follow-file of the user's."""
    from data import storyteller
    from data.prepare import validation_records
    records = storyteller.make_records(300, seed=5)
    for r in records[::3]:
        r.pop("words")  # some records ask for no words, as in all_data
    data = tmp_path / "worded.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = tmp_path / "out"
    run(["train.py", *TINY, "--instruct", "--dataset", str(data), "--data-dir", str(tmp_path / "cache"),
         "--out-dir", str(out), "--max-iters", "2", "--eval-interval", "2"])
    mine = tmp_path / "mine.jsonl"
    mine.write_text(json.dumps({"prompt": "Write a story about a fox", "words": ["fox"]}) + "\n")
    run(["eval.py", str(out / "ckpt.pt"), "--batches", "1", "--prompts", "5", "--freeform", "2",
         "--follow-file", str(mine), "--json", str(tmp_path / "eval.json")])
    report = json.loads((tmp_path / "eval.json").read_text())
    val = validation_records(str(data), str(tmp_path / "cache"), seed=1337)
    worded = [r["prompt"] for r in val if "words" in r]
    assert len(val) == 15 and 0 < len(worded) < 15  # 5% of 300; a third of them ask for nothing
    assert [p["prompt"] for p in report["validation"]["per_prompt"]] == worded[:5]
    assert set(worded) & {r["prompt"] for r in records[:300]} and "heldout" not in report
    assert report[str(mine)]["prompts"] == 1 and report["freeform"]["prompts"] == 2


@pytest.mark.parametrize("args, message", [
    (["--dataset", "no/such/file.jsonl"], "no such file"),
    (["--dim", "30", "--n-heads", "4"], "not divisible"),
    (["--max-iters", "0"], "must be positive"),
    (["--bogus-flag"], "unrecognized arguments"),
    (["--init-from", "resume"], "no checkpoint"),
    (["--init-from", "x.pt", "--dim", "64"], "--dim set the shape of a new model"),
    (["--init-from", "resume", "--vocab-size", "512"], "--vocab-size set the shape"),
    (["--tokenizer", "tok.model"], "--tokenizer names the tokenizer of an --init-from PATH model"),
    (["--init-from", "no/such/model.bin"], "no such file"),
    (["--device", "bogus"], "--device must be auto, cpu"),
])
def test_bad_input_gets_one_clear_line(tmp_path, args, message):
    result = run(["train.py", *RUN, "--out-dir", str(tmp_path / "o"), "--data-dir", str(tmp_path / "d"), *args], check=False)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_malformed_jsonl_names_the_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "story": "fine story"}\n{"prompt": "b", "story": \n')
    result = run(["train.py", *TINY, "--dataset", str(bad), "--out-dir", str(tmp_path / "o"),
                  "--data-dir", str(tmp_path / "d")], check=False)
    assert result.returncode != 0 and "bad.jsonl:2" in result.stderr and "Traceback" not in result.stderr


def test_sample_cli_errors(tmp_path):
    result = run(["sample.py", str(tmp_path / "missing.bin"), "-i", "hi"], check=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr and "missing.bin" in result.stderr
    result = run(["sample.py", "x.bin", "-t", "-1"], check=False)
    assert result.returncode != 0 and "-t" in result.stderr


@pytest.mark.skipif(not (FIXTURES / "llama2c-260K" / "stories260K.bin").exists(),
                    reason="fixture llama2c-260K/stories260K.bin not found (set STORIES_FIXTURES)")
def test_sample_cli_prints_llama2c_golden_output():
    d = FIXTURES / "llama2c-260K"
    result = run(["sample.py", str(d / "stories260K.bin"), "-z", str(d / "tok512.model"), "-t", "0", "-n", "200"])
    assert result.stdout == (d / "expected_greedy_200.txt").read_text()


@pytest.mark.skipif(not (FIXTURES / "llama2c-260K" / "stories260K.bin").exists()
                    or not (FIXTURES / "distillation" / "story_distillation.csv").exists(),
                    reason="fixtures llama2c-260K/ and distillation/ not found (set STORIES_FIXTURES)")
def test_qlora_finetune_of_llama2c_stories260K_from_its_bin_and_its_pt(tmp_path, binaries):
    """The instruct-fork workflow: llama2.c's pretrained stories260K, fine-tuned with QLoRA on real teacher
    stories, from its model.bin and from a ckpt.pt laid out as llama2.c's train.py saves it; then sampled
    in Python and C."""
    from test_formats import save_like_llama2c  # tests/ is on sys.path under pytest
    from formats.loader import load_model
    d, csv = FIXTURES / "llama2c-260K", FIXTURES / "distillation" / "story_distillation.csv"
    save_like_llama2c(load_model(d / "stories260K.bin")[0], tmp_path / "ckpt.pt", multiple_of=4)
    common = ["train.py", "--instruct", "--dataset", str(csv), "--data-dir", str(tmp_path / "cache"),
              "--batch-size", "8", "--eval-iters", "2", "--log-interval", "1", "--learning-rate", "1e-2",
              "--warmup-iters", "3", "--lora-rank", "8", "--lora-targets", "wq,wk,wv,wo,w1,w2,w3,tok_embeddings",
              "--quantize", "nf4", "--double-quant", "--no-sample"]
    for name, base in (("bin", d / "stories260K.bin"), ("pt", tmp_path / "ckpt.pt")):
        run([*common, "--init-from", str(base), "--tokenizer", str(d / "tok512.model"), "--max-iters", "30",
             "--eval-interval", "15", "--out-dir", str(tmp_path / name)])
    from_bin, from_pt = losses(tmp_path / "bin"), losses(tmp_path / "pt")
    assert sorted(from_bin) == list(range(1, 31))
    for step in from_bin:  # the same weights in two files: the same run
        assert from_pt[step] == pytest.approx(from_bin[step], abs=1e-6), step
    first, last = [sum(from_bin[s] for s in steps) / 5 for steps in (range(1, 6), range(26, 31))]
    assert last < first - 0.3, (first, last)

    # an adapter run over a llama2.c base resumes through the same loader
    run([*common, "--init-from", "resume", "--max-iters", "33", "--eval-interval", "3", "--out-dir", str(tmp_path / "bin")])
    assert max(losses(tmp_path / "bin")) == 33

    out, prompt = tmp_path / "bin", "Write a story about a brave knight who is afraid of the dark."
    python = run(["sample.py", str(out / "ckpt.pt"), "-t", "0", "-n", "150", "-i", prompt]).stdout
    c = subprocess.run([str(binaries["run"]), str(out / "model.bin"), "-t", "0", "-n", "150", "-i", prompt],
                       capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert c.returncode == 0, c.stderr
    assert c.stdout == python and len(python) > 100
    # the adapter alone, applied unmerged to llama2.c's own file
    adapted = run(["sample.py", str(d / "stories260K.bin"), "-z", str(d / "tok512.model"), "--adapter",
                   str(out / "adapter.pt"), "-t", "0", "-n", "150", "-i", prompt]).stdout
    assert len(adapted) > 100
