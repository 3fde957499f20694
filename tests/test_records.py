"""Tests of data/records.py: the three file layouts, teacher-chatter cleaning, and the error messages."""

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest

from data.records import (DataError, RecordFile, prompt_from_topic, read_csv, read_jsonl, read_records, read_text,
                          strip_teacher_chatter)

FIXTURES = Path(os.environ.get("STORIES_FIXTURES", Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"))
DISTILLATION_CSV = FIXTURES / "distillation" / "story_distillation.csv"
VALID100 = FIXTURES / "tinystories" / "valid100.txt"


def fixture(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"fixture {path} not found (set STORIES_FIXTURES to the shared fixtures directory)")
    return path


# ----------------------------------------------------------------------------------------------
# JSONL


def test_jsonl_reads_prompts_stories_and_extra_keys(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text('{"prompt": "Write about a dog", "story": " The dog ran.\\n", "id": 7}\n'
                    "\n"
                    '{"story": "Tom sat."}\n'
                    '   \n'
                    '{"prompt": "", "story": "Ann hid."}\n')
    assert read_jsonl(path) == [
        {"prompt": "Write about a dog", "story": "The dog ran.", "id": 7},
        {"story": "Tom sat."},
        {"prompt": "", "story": "Ann hid."},
    ]


@pytest.mark.parametrize("bad_line, message", [
    ('{"story": "Tom sat."', "invalid JSON"),
    ('{"prompt": "Hi"}', 'no "story"'),
    ('{"story": "   "}', '"story" is empty'),
    ('{"story": 3}', '"story" must be a string'),
    ('{"story": "Tom sat.", "prompt": ["Hi"]}', '"prompt" must be a string'),
    ('["Tom sat."]', "expected a JSON object"),
])
def test_jsonl_errors_name_the_file_and_line(tmp_path, bad_line, message):
    path = tmp_path / "s.jsonl"
    path.write_text('{"story": "Ann hid."}\n\n' + bad_line + "\n")
    with pytest.raises(DataError) as e:
        read_records(path)
    assert f"{path}:3: " in str(e.value)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


# ----------------------------------------------------------------------------------------------
# teacher chatter and prompts


def test_strips_a_leading_line_of_teacher_chatter():
    story = "Sure, here's a two-paragraph story about the rise of the swamp goddess:\n\nIn the bayou...\n\nThe end."
    assert strip_teacher_chatter(story) == "In the bayou...\n\nThe end."
    assert strip_teacher_chatter("My pleasure, here is a story about a penguin:\nPenny swam.") == "Penny swam."
    assert strip_teacher_chatter("Sure, I can do that! Here is a story about a ghost:\n\nBoo.") == "Boo."
    assert strip_teacher_chatter("Sure, here's a story based on your request.\n\nTom ran.") == "Tom ran."
    assert strip_teacher_chatter("Here's a story that fits your requirements:\n\nTom ran.") == "Tom ran."


@pytest.mark.parametrize("story", [
    # the teacher began the story on the chatter line itself: keep everything
    "Sure! Here's a story about Lily who grants wishes. At first, she is scared.\n\nThen she is brave.",
    # a first line that only looks like chatter
    "Here is the dog, said Tom.\n\nThe dog barked.",
    "Certainly not, said the king to the knight.\n\nThe knight left.",
    # nothing follows it: that line is all there is
    "Sure, here's a story about a cat:",
    "Once upon a time there was a cat.\n\nThe end.",
])
def test_keeps_first_lines_that_are_story(story):
    assert strip_teacher_chatter(story) == story.strip()


def test_strips_a_closing_paragraph_of_teacher_chatter():
    assert strip_teacher_chatter("Tom ran.\n\nHe won.\n\nI hope you enjoyed this story! Let me know.") == "Tom ran.\n\nHe won."
    assert strip_teacher_chatter("Tom ran.\n\nHow was that? I'd be happy to make changes.") == "Tom ran."
    assert strip_teacher_chatter("Tom ran.\n\nThe end.") == "Tom ran.\n\nThe end."
    assert strip_teacher_chatter("I hope you like cake, said Tom.") == "I hope you like cake, said Tom."


@pytest.mark.parametrize("topic, prompt", [
    ("A married fairy who desires an affair with a human", "Write a story about a married fairy who desires an affair with a human"),
    ("The Last Warlock: A warlock who becomes the last hope", "Write a story about The Last Warlock: A warlock who becomes the last hope"),
    ("In a world where time is currency, a man", "Write a story about in a world where time is currency, a man"),
    ('"The Great Debate": In a world where opinions are currency', 'Write a story about "The Great Debate": In a world where opinions are currency'),
    ('"A phoenix and a unicorn form a bond', "Write a story about a phoenix and a unicorn form a bond"),
    ("AI robots who paint", "Write a story about AI robots who paint"),
    ("Dragons", "Write a story about Dragons"),
])
def test_prompt_from_topic(topic, prompt):
    assert prompt_from_topic(topic) == prompt


# ----------------------------------------------------------------------------------------------
# CSV


def test_distillation_csv_fixture():
    path = fixture(DISTILLATION_CSV)
    records = read_records(path)
    with open(path, encoding="utf-8", newline="") as f:
        raw = list(csv.DictReader(f))
    assert len(records) == len(raw) == 1476

    # multi-line stories come through whole: the first row, which has no chatter, is unchanged
    first = records[0]
    assert first["story"] == raw[0]["Story"].strip()
    assert "\n\nAs the pyramid grew taller, the empire crumbled around it." in first["story"]
    assert first["theme"] == "Abuse of power"
    assert first["topic"].startswith("The Last Days of the Solar Empire: A tale of a dying empire")
    assert first["prompt"] == "Write a story about " + first["topic"]

    # the second opens with "Sure, here's a two-paragraph story about the rise of the swamp goddess:"
    assert raw[1]["Story"].startswith("Sure, here's a two-paragraph story about the rise of the swamp goddess:\n\n")
    assert records[1]["story"].startswith("In the heart of the bayou, a young swamp witch named Adeline")
    assert records[1]["story"] == raw[1]["Story"].split("\n", 1)[1].strip()

    # most rows open with chatter; after cleaning only the row whose story starts on that line does
    assert sum(r["Story"].lstrip().startswith("Sure") for r in raw) > 1100
    opening_sure = [r for r in records if r["story"].startswith("Sure")]
    assert len(opening_sure) == 1 and "At first, she is terrified" in opening_sure[0]["story"].split("\n")[0]
    assert not any(r["story"].startswith(("Here's a story", "Here is a story", "My pleasure")) for r in records)
    assert all(r["prompt"].startswith("Write a story about ") and r["story"] for r in records)
    assert sum(r["prompt"].startswith("Write a story about a ") for r in records) > 1000


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_keeps_quoted_newlines(tmp_path):
    path = write_csv(tmp_path / "s.csv", 'Theme,Topic,Story\nLove,A cat,"Tom ran.\n\nHe, too, won."\n')
    assert read_csv(path) == [{"prompt": "Write a story about a cat", "story": "Tom ran.\n\nHe, too, won.",
                               "theme": "Love", "topic": "A cat"}]


def test_csv_wrong_header(tmp_path):
    path = write_csv(tmp_path / "s.csv", "theme,topic,story\nLove,A cat,Tom ran.\n")
    with pytest.raises(DataError, match=r"s\.csv:1: expected the header Theme,Topic,Story"):
        read_records(path)


def test_csv_errors_give_the_line_the_row_starts_on(tmp_path):
    # the first row spans lines 2-4, so the bad second row starts on line 5
    path = write_csv(tmp_path / "s.csv", 'Theme,Topic,Story\nLove,A cat,"Tom ran.\n\nHe won."\nLove,A dog\n')
    with pytest.raises(DataError, match=r"s\.csv:5: expected 3 columns .* got 2"):
        read_records(path)
    path = write_csv(tmp_path / "s.csv", 'Theme,Topic,Story\nLove,A cat,"Tom ran.\n\nHe won."\nLove,A dog,"  "\n')
    with pytest.raises(DataError, match=r"s\.csv:5: the Story column is empty"):
        read_records(path)


# ----------------------------------------------------------------------------------------------
# plain text


def test_valid100_fixture():
    records = read_records(fixture(VALID100))
    assert len(records) == 100
    assert all(set(r) == {"story"} for r in records)
    assert records[0]["story"].startswith("u don't have to be scared of the loud dog")  # a partial first story
    assert records[1]["story"].startswith("Once upon a time, in a warm and sunny place, there was a big pit.")
    assert records[-1]["story"].endswith("The cat never gave Max his gear back, and Max stayed sad.")
    assert not any("<|endoftext|>" in r["story"] or r["story"] != r["story"].strip() for r in records)


def test_text_skips_empty_chunks(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text("<|endoftext|>\nTom ran.\nHe won.\n<|endoftext|>\n  \n<|endoftext|>Ann hid.<|endoftext|>\n")
    assert read_text(path) == [{"story": "Tom ran.\nHe won."}, {"story": "Ann hid."}]


# ----------------------------------------------------------------------------------------------
# read_records


def test_unknown_extension(tmp_path):
    path = tmp_path / "s.parquet"
    path.write_text("x")
    with pytest.raises(DataError, match=r"unknown data file type '\.parquet'; expected one of \.jsonl, \.csv, \.txt"):
        read_records(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="nope.jsonl: no such file"):
        read_records(tmp_path / "nope.jsonl")


@pytest.mark.parametrize("name, text", [("s.jsonl", "\n\n"), ("s.txt", "<|endoftext|>\n"),
                                        ("s.csv", "Theme,Topic,Story\n")])
def test_file_without_stories(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(DataError, match="no stories found"):
        read_records(path)


def test_not_utf8(tmp_path):
    path = tmp_path / "s.txt"
    path.write_bytes(b"Tom ran \xff\xfe.")
    with pytest.raises(DataError, match="not UTF-8"):
        read_records(path)


def test_read_records_round_trips_jsonl(tmp_path):
    records = [{"prompt": "Write about a dog", "story": "The dog ran.\n\nIt won."}, {"story": "Tom sat.", "k": [1]}]
    path = tmp_path / "s.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert read_records(path) == records


# ----------------------------------------------------------------------------------------------
# RecordFile: records by byte offset, as text mode reads them

# pieces of text that text mode treats specially: line ends of three kinds, a byte-order mark, whitespace
# that only str.strip() knows (ideographic space, no-break space, file separator), separators whole and cut
PIECES = ["Tom ran.", " ", "\n", "\r\n", "\r", "\u3000", "\xa0", "\x1c", "<|endoftext|>", "<|endof", "text|>",
          "é", "😀", "\t", "\ufeff"]


def text_mode_stories(path) -> list[str]:
    """The reference: Python's text mode reading the whole file, split at the separator."""
    with open(path, encoding="utf-8-sig") as f:
        return [s.strip() for s in f.read().split("<|endoftext|>") if s.strip()]


def text_mode_jsonl(path) -> list[dict]:
    with open(path, encoding="utf-8-sig") as f:
        objs = [json.loads(line) for line in f if line.strip()]
    return [dict(o, story=o["story"].strip(), **({"prompt": o["prompt"].strip()} if "prompt" in o else {}))
            for o in objs]


@pytest.mark.parametrize("block", [1, 5, 1 << 24])
def test_record_file_reads_what_text_mode_reads(tmp_path, monkeypatch, block):
    import random
    monkeypatch.setattr("data.records.BLOCK_BYTES", block)  # separators and "\r\n" cut by block boundaries
    rng = random.Random(block)
    for trial in range(150):
        bom = b"\xef\xbb\xbf" if trial % 4 == 0 else b""
        text = "".join(rng.choice(PIECES) for _ in range(rng.randrange(40)))
        path = tmp_path / "s.txt"
        path.write_bytes(bom + text.encode())
        expected = text_mode_stories(path)
        assert [r["story"] for r in RecordFile(path)] == expected, repr(text)
        assert len(RecordFile(path)) == len(expected)

        lines = [rng.choice([json.dumps({"story": rng.choice(PIECES[:8]) + "x", "prompt": " hi "}, ensure_ascii=False),
                             json.dumps({"story": "é\\n"}), "", " \t", "\u3000", "\xa0\x0c"])
                 for _ in range(rng.randrange(8))]
        path = tmp_path / "s.jsonl"
        path.write_bytes(bom + "".join(line + rng.choice(["\n", "\r\n", "\r"]) for line in lines).encode())
        assert list(RecordFile(path)) == text_mode_jsonl(path), repr(lines)


def test_record_file_subset_is_small_and_reads_only_its_records(tmp_path):
    import pickle
    path = tmp_path / "s.txt"
    path.write_text("".join(f"Story number {i}. " * 20 + "\n<|endoftext|>\n" for i in range(500)))
    records = RecordFile(path)
    assert len(records) == 500
    part = records.subset(np.array([7, 3, 499]))
    assert [r["story"].split(".")[0] for r in part] == ["Story number 7", "Story number 3", "Story number 499"]
    assert len(pickle.dumps(part)) < 1000 < path.stat().st_size // 100  # what travels to a worker process


def test_jsonl_line_numbers_count_every_kind_of_line_end(tmp_path, monkeypatch):
    monkeypatch.setattr("data.records.BLOCK_BYTES", 3)  # "\r\n" cut by a block boundary while counting
    path = tmp_path / "s.jsonl"
    path.write_bytes(b'{"story": "a"}\r\n\r\n{"story": "b"}\r{"story": "c"}\n\n{"story": 4}\n')
    with pytest.raises(DataError, match=r"s\.jsonl:6: \"story\" must be a string"):
        read_records(path)
    path.write_bytes(b'{"story": "a"}\r\n{"story": "b"\r\n')
    with pytest.raises(DataError, match=r"s\.jsonl:2: invalid JSON \(Expecting ',' delimiter at column 14\)"):
        read_records(path)


def test_not_utf8_names_the_byte(tmp_path):
    path = tmp_path / "s.txt"
    path.write_bytes(b"Tom ran.<|endoftext|>Ann \xff hid.")
    with pytest.raises(DataError, match=r"s\.txt: not UTF-8 text \(byte 25\)"):
        read_records(path)
