"""Story records: read the data files this project trains on into plain dicts.

A record is a dict with
    "story"   the text the model learns to write (non-empty str, stripped)
    "prompt"  optional instruction (str); missing or empty means a completion-only example
and any other keys the file carried ("theme", "topic", ...), which are kept untouched.

Three file layouts, chosen by extension in read_records:
    .jsonl  one JSON object per line: {"prompt": "...", "story": "..."}
    .csv    the story-distillation layout: a header Theme,Topic,Story, then one story per row
    .txt    TinyStories' plain text: stories separated by <|endoftext|>, no prompts

Every problem a user can cause (bad JSON, a missing column, an empty story) raises DataError with one
line that names the file and line, so the scripts can print it and exit without a traceback.
"""

import csv
import json
import re
from pathlib import Path
from typing import Iterator

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


def _check_record(obj, where: str) -> dict:
    """Validate one record and return it with its story (and prompt) stripped."""
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object like {{\"story\": ...}}, got {type(obj).__name__}")
    story = obj.get("story")
    if story is None:
        raise DataError(f"{where}: record has no \"story\"")
    if not isinstance(story, str):
        raise DataError(f"{where}: \"story\" must be a string, got {type(story).__name__}")
    if not story.strip():
        raise DataError(f"{where}: \"story\" is empty")
    prompt = obj.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise DataError(f"{where}: \"prompt\" must be a string, got {type(prompt).__name__}")
    record = dict(obj, story=story.strip())
    if prompt is not None:
        record["prompt"] = prompt.strip()
    return record


def read_jsonl(path) -> list[dict]:
    """One JSON object per line; blank lines are skipped."""
    records = []
    with open(path, encoding="utf-8-sig") as f:  # -sig: tolerate a byte-order mark
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{path}:{lineno}: invalid JSON ({e.msg} at column {e.colno})") from None
            records.append(_check_record(obj, f"{path}:{lineno}"))
    return records


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
    Streams line by line: TinyStoriesV2-GPT4-train.txt is 2 GB."""
    story = []
    with open(path, encoding="utf-8-sig") as f:  # -sig: a byte-order mark is not story text
        for line in f:
            *finished, rest = line.split(END_OF_TEXT)
            for part in finished:
                text = ("".join(story) + part).strip()
                if text:
                    yield text
                story = []
            story.append(rest)
    text = "".join(story).strip()
    if text:
        yield text


def read_text(path) -> list[dict]:
    """Stories separated by <|endoftext|>; completion-only records {"story": ...}."""
    return [{"story": story} for story in iter_text_stories(path)]


READERS = {".jsonl": read_jsonl, ".csv": read_csv, ".txt": read_text}


def read_records(path) -> list[dict]:
    """Read a .jsonl, .csv or .txt file of stories; see the module docstring for the layouts."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise DataError(f"{path}: unknown data file type {path.suffix or '(no extension)'!r}; "
                        f"expected one of {', '.join(READERS)}")
    try:
        records = reader(path)
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (byte {e.start})") from None
    if not records:
        raise DataError(f"{path}: no stories found")
    return records


def write_jsonl(records, path) -> None:
    """One JSON object per line, the layout read_jsonl reads; written atomically."""
    with atomic_write(path, "w") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
