"""Story records: read the data files this project trains on into plain dicts.

A record is a dict with
    "story"   the text the model learns to write (non-empty str, stripped)
    "prompt"  optional instruction (str); missing or empty means a completion-only example
and any other keys the file carried ("theme", "topic", ...), which are kept untouched.

Three file layouts, chosen by extension in open_records and read_records:
    .jsonl  one JSON object per line: {"prompt": "...", "story": "..."}
    .csv    the story-distillation layout: a header Theme,Topic,Story, then one story per row
    .txt    TinyStories' plain text: stories separated by <|endoftext|>, no prompts
read_records returns a list. open_records returns, for .jsonl and .txt, a RecordFile: the byte offsets of
the records, which are parsed only when read, so a 2 GB TinyStories file never sits in memory.

Every problem a user can cause (bad JSON, a missing column, an empty story) raises DataError with one
line that names the file and line, so the scripts can print it and exit without a traceback.
"""

import csv
import json
import re
from array import array
from pathlib import Path
from typing import Iterator

import numpy as np

from errors import DataError
from formats.atomic import atomic_write

END_OF_TEXT = "<|endoftext|>"  # TinyStories' separator between stories
CSV_HEADER = ["Theme", "Topic", "Story"]


# ----------------------------------------------------------------------------------------------
# cleaning teacher output

# The distillation teacher (Llama-2-70B-chat) often opens with a line of chatter before the story:
#     "Sure, here's a two-paragraph story about the rise of the swamp goddess:"
#     "My pleasure, here is a story about a daring penguin:"
# We drop that first line only when all of these hold, so a story whose first sentence happens to
# start with "Here is" survives: it opens with an acknowledgement (sure / certainly / of course /
# okay / absolutely / my pleasure) or with "here's" / "here is"; it mentions "story"; it ends with a
# colon or is a single sentence; and more text follows it. On story_distillation.csv this strips 1,173
# of 1,476 openings and keeps the one where the teacher started the story on the same line.
_CHATTER_OPENING = re.compile(r"(?:sure|certainly|of course|okay|absolutely|my pleasure|here['’]s|here is)\b", re.I)
_ACKNOWLEDGEMENT = re.compile(r"(?:sure|certainly|of course|okay|absolutely|my pleasure)\b[,!.]?\s*", re.I)
_SENTENCE_BREAK = re.compile(r"[.!?]\s+\S")
# ...and it sometimes closes with a paragraph of chatter: "I hope you enjoyed this story! Let me know
# if you have any other requests." We drop the last paragraph only when it opens with one of these.
_CHATTER_CLOSING = re.compile(r"(?:i hope you|how was that|how['’]s that|what do you think|was that the kind|"
                              r"is there anything else|would you like me|do you want me|let me know)\b", re.I)


def strip_teacher_chatter(story: str) -> str:
    """Remove a teacher's "Sure, here's a story about ...:" first line and "I hope you enjoyed it!"
    last paragraph (see the patterns above); anything that does not match is returned stripped."""
    story = story.strip()
    first, _, rest = story.partition("\n")
    first = first.strip()
    if _CHATTER_OPENING.match(first) and "story" in first.lower() and rest.strip():
        after_ack = _ACKNOWLEDGEMENT.sub("", first, count=1)
        if first.endswith(":") or not _SENTENCE_BREAK.search(after_ack):
            story = rest.strip()
    paragraphs = re.split(r"\n\s*\n", story)
    if len(paragraphs) > 1 and _CHATTER_CLOSING.match(paragraphs[-1].strip()):
        story = story[: story.rfind(paragraphs[-1])].strip()
    return story


def prompt_from_topic(topic: str) -> str:
    """The instruction for a distillation row: "Write a story about " + topic.

    The topic's first letter is lower-cased when it is an ordinary sentence start ("A mermaid who ..."
    -> "a mermaid who ...") and kept when the topic reads like a title or name, i.e. when its second
    word is capitalised too ("The Last Warlock: ...") or its first word has more capitals ("AI ...").
    A stray double quote left at either end by the teacher is dropped; a quoted title is kept.
    """
    topic = topic.strip()
    if topic.count('"') % 2 == 1:  # '"A ghost who ...' : an unmatched quote at one end
        topic = topic.strip('"').strip()
    words = topic.split()
    if len(words) >= 2 and words[0][:1].isupper() and words[0][1:] == words[0][1:].lower() and words[1][:1].islower():
        topic = topic[0].lower() + topic[1:]
    return "Write a story about " + topic


# ----------------------------------------------------------------------------------------------
# readers


def _check_record(obj, where) -> dict:
    """Validate one record and return it with its story (and prompt) stripped. where() names the file and
    line; it is called only for a message, since finding a line number means reading the file up to it."""
    if not isinstance(obj, dict):
        raise DataError(f"{where()}: expected a JSON object like {{\"story\": ...}}, got {type(obj).__name__}")
    story = obj.get("story")
    if story is None:
        raise DataError(f"{where()}: record has no \"story\"")
    if not isinstance(story, str):
        raise DataError(f"{where()}: \"story\" must be a string, got {type(story).__name__}")
    if not story.strip():
        raise DataError(f"{where()}: \"story\" is empty")
    prompt = obj.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise DataError(f"{where()}: \"prompt\" must be a string, got {type(prompt).__name__}")
    record = dict(obj, story=story.strip())
    if prompt is not None:
        record["prompt"] = prompt.strip()
    return record


# Finding records without decoding them. A record's bytes are blank (str.strip() would leave nothing) only
# if every byte is one of Python's whitespace characters or part of a multi-byte character; the first byte
# outside that set, almost always the first byte of the record, proves it is not blank.
_NOT_BLANK = re.compile(rb"[^\t\n\x0b\x0c\r\x1c-\x20\x80-\xff]")
_BOM = b"\xef\xbb\xbf"  # a UTF-8 byte-order mark, skipped as the utf-8-sig codec does
BLOCK_BYTES = 1 << 24  # the index pass reads 16 MiB at a time


class RecordFile:
    """The records of a .jsonl or .txt file, read by number without holding the file in memory.

    Opening the file makes one streaming pass that notes where each record's bytes start and end (16 bytes
    a record: about 45 MB for the 2.2 GB of ~800-byte stories in TinyStoriesV2-GPT4-train.txt); a record is
    decoded and checked only when it is read. Records and their numbering are exactly those of reading the file in Python's text mode
    (utf-8-sig, universal newlines: "\r\n" and a lone "\r" end a line as "\n" does):
        .jsonl  one record per line that is not blank
        .txt    one record per stretch of text between <|endoftext|> separators that is not blank

    subset(numbers) is the same file restricted to some records, in the order given: small enough to send
    to a worker process, which then reads those records itself.
    """

    def __init__(self, path, layout: str | None = None):
        self.path = Path(path)
        self.layout = layout or self.path.suffix.lower()
        if self.layout not in (".jsonl", ".txt"):
            raise ValueError(f"RecordFile reads .jsonl and .txt files, not {self.layout!r}")
        starts, ends = array("q"), array("q")
        with open(self.path, "rb") as f:
            offset = 3 if f.read(3) == _BOM else 0
            f.seek(offset)
            spans = _line_spans if self.layout == ".jsonl" else _text_spans
            for start, end in spans(f, offset, self._blank):
                starts.append(start)
                ends.append(end)
        self.starts = np.frombuffer(starts, dtype=np.int64)  # (n_records,) byte offsets in the file
        self.ends = np.frombuffer(ends, dtype=np.int64)  # (n_records,) one past each record's last byte

    def __len__(self) -> int:
        return len(self.starts)

    def subset(self, numbers) -> "RecordFile":
        part = object.__new__(RecordFile)
        part.path, part.layout = self.path, self.layout
        part.starts, part.ends = self.starts[numbers], self.ends[numbers]
        return part

    def __iter__(self) -> Iterator[dict]:
        with open(self.path, "rb") as f:
            for start, end in zip(self.starts.tolist(), self.ends.tolist()):
                f.seek(start)
                yield self._record(f.read(end - start), start)

    def _record(self, raw: bytes, start: int) -> dict:
        text = self._decode(raw, start)
        if self.layout == ".txt":  # completion-only; newlines as text mode reads them
            return {"story": text.replace("\r\n", "\n").replace("\r", "\n").strip()}
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            raise DataError(f"{self._where(start)}: invalid JSON ({e.msg} at column {e.colno})") from None
        return _check_record(obj, lambda: self._where(start))

    def _decode(self, raw: bytes, start: int) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DataError(f"{self.path}: not UTF-8 text (byte {start + e.start})") from None

    def _blank(self, buf: bytes, start: int, end: int, offset: int) -> bool:
        """Whether buf[start:end] (which begins at byte `offset` of the file) holds only whitespace."""
        if _NOT_BLANK.search(buf, start, end):
            return False
        return not self._decode(buf[start:end], offset).strip()

    def _where(self, offset: int) -> str:
        """"path:line" for the line that starts at byte `offset`, counting line ends as text mode does."""
        breaks, last = 0, b""
        with open(self.path, "rb") as f:
            while offset > 0 and (block := f.read(min(BLOCK_BYTES, offset))):
                offset -= len(block)
                breaks += block.count(b"\n") + block.count(b"\r") - block.count(b"\r\n")
                breaks -= last == b"\r" and block[:1] == b"\n"  # a "\r\n" cut by the block boundary
                last = block[-1:]
        return f"{self.path}:{breaks + 1}"


def _line_spans(f, offset: int, blank) -> Iterator[tuple[int, int]]:
    """(start, end) of each line that is not blank, end excluding the line break."""
    for line in f:  # a binary file splits at "\n" only; a lone "\r" ends a line too in text mode
        if b"\r" not in line:
            if not blank(line, 0, len(line), offset):
                yield offset, offset + len(line) - line.endswith(b"\n")
        else:
            for m in re.finditer(rb"[^\r\n]+", line):
                if not blank(line, m.start(), m.end(), offset + m.start()):
                    yield offset + m.start(), offset + m.end()
        offset += len(line)


def _text_spans(f, offset: int, blank) -> Iterator[tuple[int, int]]:
    """(start, end) of the text between END_OF_TEXT separators, where it is not blank. The separator is
    ASCII, which never occurs inside a multi-byte UTF-8 character, so it can be searched for in bytes."""
    sep = END_OF_TEXT.encode()
    buf = b""  # the file's bytes from `offset` that are not yet accounted for
    while True:
        block = f.read(BLOCK_BYTES)
        buf += block
        start = 0
        while (j := buf.find(sep, start)) >= 0:
            if not blank(buf, start, j, offset + start):
                yield offset + start, offset + j
            start = j + len(sep)
        if not block:
            if not blank(buf, start, len(buf), offset + start):
                yield offset + start, offset + len(buf)
            return
        buf, offset = buf[start:], offset + start


def read_jsonl(path) -> list[dict]:
    """One JSON object per line; blank lines are skipped."""
    return list(RecordFile(path, ".jsonl"))


def read_csv(path) -> list[dict]:
    """The distillation layout: header Theme,Topic,Story; quoted fields may span lines.

    Each row becomes {"prompt": prompt_from_topic(topic), "story": strip_teacher_chatter(story),
    "theme": theme, "topic": topic}. Errors name the line where the offending row starts.
    """
    records = []
    with open(path, encoding="utf-8-sig", newline="") as f:  # -sig: tolerate a byte-order mark
        reader = csv.reader(f, strict=True)
        try:
            header = next(reader, None)
            if header != CSV_HEADER:
                got = ",".join(header or []) or "nothing"
                raise DataError(f"{path}:1: expected the header {','.join(CSV_HEADER)}, got {got}")
            start = reader.line_num + 1  # a row can span lines; report the line it starts on
            for row in reader:
                where, start = f"{path}:{start}", reader.line_num + 1
                if not any(field.strip() for field in row):
                    continue  # a blank line
                if len(row) != len(CSV_HEADER):
                    raise DataError(f"{where}: expected 3 columns (Theme,Topic,Story), got {len(row)}")
                theme, topic, story = row
                story = strip_teacher_chatter(story)
                if not story:
                    raise DataError(f"{where}: the Story column is empty")
                prompt = prompt_from_topic(topic) if topic.strip() else ""
                records.append({"prompt": prompt, "story": story, "theme": theme.strip(), "topic": topic.strip()})
        except csv.Error as e:
            raise DataError(f"{path}:{reader.line_num}: malformed CSV ({e})") from None
    return records


def iter_text_stories(path) -> Iterator[str]:
    """Yield the stories of a text file in which they are separated by <|endoftext|>, stripped.
    Streams: TinyStoriesV2-GPT4-train.txt is 2 GB."""
    for record in RecordFile(path, ".txt"):
        yield record["story"]


def read_text(path) -> list[dict]:
    """Stories separated by <|endoftext|>; completion-only records {"story": ...}."""
    return list(RecordFile(path, ".txt"))


LAYOUTS = (".jsonl", ".csv", ".txt")


def open_records(path) -> "RecordFile | list[dict]":
    """The records of a .jsonl, .csv or .txt file (layouts in the module docstring), for reading once
    each: a RecordFile for .jsonl and .txt, which can be any size, and a list for .csv, which is read
    whole (the distillation files are a few MB)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    layout = path.suffix.lower()
    if layout not in LAYOUTS:
        raise DataError(f"{path}: unknown data file type {path.suffix or '(no extension)'!r}; "
                        f"expected one of {', '.join(LAYOUTS)}")
    try:
        records = read_csv(path) if layout == ".csv" else RecordFile(path)
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (byte {e.start})") from None
    if not len(records):
        raise DataError(f"{path}: no stories found")
    return records


def read_records(path) -> list[dict]:
    """Read a .jsonl, .csv or .txt file of stories into memory; see the module docstring for the layouts."""
    return list(open_records(path))


def write_jsonl(records, path) -> None:
    """One JSON object per line, the layout read_jsonl reads; written atomically."""
    with atomic_write(path, "w") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
