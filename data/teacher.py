"""Distil stories from a teacher LLM behind any OpenAI-compatible server (Ollama, vLLM, llama.cpp, hosted APIs).

Two stages, each resumable on its own, each an append-only JSONL file in --out-dir:

    themes.txt  --(one request per theme)-->   topics.jsonl   {"key", "theme", "topics": [...], "teacher", "finish_reason"}
    topics      --(one request per topic)-->   stories.jsonl  {"key", "prompt", "story", "theme", "topic", "teacher", "finish_reason"}
    anything we will not keep (cut off, empty, refusal, duplicate, unparseable) --> rejects.jsonl {"key", "stage", "reason", ...}

stories.jsonl is in the layout the shard encoder reads (`prompt`, `story`, extra keys kept), so it trains as is:
    python train.py --instruct --dataset out/teacher/stories.jsonl

Every unit of work has a stable key (a hash of the theme, or of theme and topic). A rerun reads the three
files, skips every key already in one of them and does the rest, so a run can be stopped at any moment
(Ctrl-C, kill -9, a reboot) and restarted with the same command. Records are written one line per write
and flushed, so a killed run leaves at most one partial last line; the next run cuts it off and redoes it.

The server may misbehave for hours: 429 (rate limited), 5xx, timeouts, dropped connections, garbled JSON
and answers without choices are retried with exponential backoff and jitter (or exactly as long as a
Retry-After header asks). Answers that retrying cannot fix (401/403 bad key, 404 unknown model, 400 bad
request, 429 insufficient_quota) stop the run at once with one line; everything written so far is kept.

    python -m data.teacher --base-url http://localhost:11434/v1 --model llama3.1:8b --out-dir out/teacher
    python -m data.teacher ... --dry-run        # print the first prompts, call nothing
"""

from __future__ import annotations

import argparse
import email.utils
import hashlib
import json
import os
import random
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import requests
from tqdm import tqdm

from data.records import prompt_from_topic, strip_teacher_chatter
from data.words import ANIMALS
from errors import DataError, exit_with

HERE = Path(__file__).resolve().parent
DEFAULT_THEMES = HERE / "themes.txt"
DEFAULT_TOPIC_PROMPT = HERE / "prompts" / "topics.txt"  # placeholders: {theme} {n} {examples}
DEFAULT_STORY_PROMPT = HERE / "prompts" / "story.txt"  # placeholders: {theme} {topic}

RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
# A refusal is recognised by how the answer opens; a story that has a character say "I can't" later is fine.
_REFUSAL = re.compile(r"\s*(?:i'?m sorry|i am sorry|sorry, |i apologi[sz]e|i can(?:'|no)t|i cannot|i am unable|"
                      r"i'm unable|i won't|as an ai|i'm not able|i am not able)", re.I)
# One item of a numbered or bulleted list: "1. A fox who ...", "2) ...", "- ...", "* ..."
_LIST_ITEM = re.compile(r"^\s*(?:\d+\s*[.):]|[-*•])\s+(.+?)\s*$")


class TeacherError(Exception):
    """The run cannot go on (bad key, unknown model, server gone for good): one line for the user."""


class _Retry(Exception):
    """A failed request that is worth trying again; retry_after is the server's wish in seconds, if any."""

    def __init__(self, why: str, retry_after: float | None = None):
        super().__init__(why)
        self.retry_after = retry_after


# ----------------------------------------------------------------------------------------------
# small helpers


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After is either delay-seconds ("120") or an HTTP date ("Wed, 21 Oct 2015 07:28:00 GMT")."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def stable_key(*parts: str) -> str:
    """16 hex digits that name one unit of work across runs and machines."""
    return hashlib.sha1("\0".join(parts).encode()).hexdigest()[:16]


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def fill(template: str, **values) -> str:
    """Put values into a template's {name} placeholders; any other braces in the template are left alone."""
    for name, value in values.items():
        template = template.replace("{" + name + "}", str(value))
    return template


# A topic that arrives as a title: '"A Sunny Side Up" - A sunny day for a turtle ...', 'Brave Bella: a
# bunny who ...', '**The Lost Kite** – ...'. The title is what sits before a colon or a spaced dash; it is
# dropped when it was quoted, is in title case (every word of four letters or more capitalised) or is a
# short label before a colon, so a plain sentence with a dash in it ("A fox - who is shy - sings") keeps
# its words.
_TITLE_SPLIT = re.compile(r"^(?P<title>[^:]{1,80}?)\s*(?P<sep>:|\s[-–—]|[-–—]\s)\s+(?P<rest>\S.*)$")
MAX_LABEL_WORDS = 4  # "A lost duckling: a giraffe named Lucy who ...": a short label before a colon goes too
# Openings that make "Write a story about ..." read twice: "The story about a fox", "A tale of ...", "Idea: ..."
_TOPIC_OPENING = re.compile(r"^(?:(?:story\s+)?idea\s*\d*\s*:\s*|topic\s*:\s*|write\s+a\s+story\s+about\s+|"
                            r"(?:once\s+upon\s+a\s+time|one\s+day|once),?\s+there\s+(?:was|lived)\s+|"
                            r"(?:the|a|an|this|one)?\s*(?:short\s+)?(?:story|tale)\s+(?:about|of)\s+|about\s+)", re.I)
# ...and a title wrapped in a sentence: 'The hero of a story called "Courage" is a fox who ...', 'A story
# titled "The Lost Kite", about a boy who ...', 'The main character of this tale is ...'
_NAMED = r"""(?:called|named|titled)\s+(?:"[^"]*"|“[^”]*”|'[^']*'|‘[^’]*’)"""
_WRAPPED_TITLE = re.compile(
    r"^(?:(?:the\s+)?(?:hero|heroine|main\s+character|star)\s+of\s+(?:a|the|this|my|our)\s+(?:short\s+)?"
    rf"(?:story|tale)(?:\s*,?\s+{_NAMED}\s*,?)?\s+is\s+|"
    rf"(?:a|the|my|our)\s+(?:short\s+)?(?:story|tale)\s+{_NAMED}\s*(?:[,:]|\s[-–—])?\s*(?:(?:is\s+)?about|of)\s+)", re.I)
# ...and one that trails the teacher's comment on its own idea: "the lost duckling - This is a fun way to ..."
_COMMENT_SPLIT = re.compile(r"^(?P<idea>.+?)\s*(?::|\.|\s[-–—]|[-–—]\s)\s+(?:this|it|that)\s+(?:is|was|will|would|can|could)\b.*$",
                            re.I)
# Talk about the list instead of an idea: "The first character is the hungry bear, who is the main character
# of the first idea", "a bear who's the first character I think of"
_ABOUT_THE_LIST = re.compile(r"\b(?:main|first|second|third|fourth|fifth|next|last|other)\s+(?:characters?|ideas?)\b",
                             re.I)
# the end of an idea's first sentence, when more follow (not after Mr, Mrs, Ms, Dr or St)
_FIRST_SENTENCE = re.compile(r"^(.+?[a-z])(?<!\bMr)(?<!\bMrs)(?<!\bMs)(?<!\bDr)(?<!\bSt)[.!]\s+[A-Z]")
_QUOTES = "\"'“”‘’«»`"
_ENUMERATOR = re.compile(r"^\s*(?:\d+\s*[.):]\s*)+")  # "1. 1. A lost duckling": a list item numbered twice
# An idea names who the story is about. One that opens with these is a setting or a question ("In the heart
# of a forest", "How can a bear be brave?") and reads wrongly after "Write a story about".
_NOT_A_CHARACTER = {"in", "on", "at", "into", "inside", "under", "over", "near", "from", "during", "after",
                    "before", "when", "where", "while", "how", "why", "what", "there", "once", "if", "it", "is"}
MIN_TOPIC_WORDS, MAX_TOPIC_WORDS = 3, 40
_STORY_SENTENCE = re.compile(r"(?:another|the\s+next|one)\s+day\b", re.I)  # "Another day, he ...": not an idea
# An idea that stops at one of these is unfinished: "A lost duckling who" is the prompt's example opening
# ("A lost duckling who ...") echoed back
_DANGLING = {"who", "whom", "whose", "which", "that", "and", "or", "but", "with", "of", "to", "a", "an", "the", "is",
             "was", "his", "her", "their", "its", "in", "on", "at", "for", "by", "from", "named", "called"}


def _is_title(text: str) -> bool:
    long_words = [w for w in re.findall(r"[A-Za-z]+", text) if len(w) >= 4]
    return bool(long_words) and all(w[0].isupper() for w in long_words)


def clean_topic(item: str) -> str | None:
    """One list item as a topic that reads well after "Write a story about ": markdown, quotes, a title in
    front or wrapped in a sentence, and openings like "The story about" removed; None when what is left is
    no idea for a story (fewer than MIN_TOPIC_WORDS words or more than MAX_TOPIC_WORDS, a loop, a mix-up,
    or talk about the list itself)."""
    text = _ENUMERATOR.sub("", re.sub(r"[*_]{1,3}", "", item)).strip()
    if text.rstrip(_QUOTES + " ").endswith(":"):  # a heading ("The Three Branches:"), its idea on other lines
        return None
    comment = _COMMENT_SPLIT.match(text)
    if comment:
        text = comment.group("idea")
    first = _FIRST_SENTENCE.match(text)  # "Mia, who never lies. She refused to ..." -> the first sentence
    if first and len(first.group(1).split()) >= MIN_TOPIC_WORDS:
        text = first.group(1)
    m = _TITLE_SPLIT.match(text)
    if m:
        title = m.group("title").strip()
        quoted = title[:1] in _QUOTES or title[-1:] in _QUOTES
        label = m.group("sep") == ":" and len(title.split()) <= MAX_LABEL_WORDS
        if (quoted or label or _is_title(title.strip(_QUOTES))) and len(m.group("rest").split()) >= MIN_TOPIC_WORDS:
            text = m.group("rest")
    while True:  # "Idea 3: The story about ..." has two openings
        shorter = _TOPIC_OPENING.sub("", text.strip(_QUOTES + " ").lstrip(), count=1)
        shorter = _WRAPPED_TITLE.sub("", shorter, count=1)
        if shorter == text:
            break
        text = shorter
    text = text.strip(_QUOTES + " ").rstrip(".").strip(_QUOTES + " ")
    if text.count('"') % 2:  # a quote left open inside: drop them all rather than guess
        text = text.replace('"', "")
    text = _DOUBLED.sub(r"\1", text)  # "a brave and brave girl" -> "a brave girl"
    words = text.split()
    if not MIN_TOPIC_WORDS <= len(words) <= MAX_TOPIC_WORDS or words[0].lower().strip(",") in _NOT_A_CHARACTER:
        return None
    if words[-1].lower().strip(",.…") in _DANGLING:
        return None
    if _STORY_SENTENCE.match(text):
        return None
    if _IS_ITSELF.search(text) or _repeats_a_trigram(text) or _is_another_animal(text):  # a small teacher's
        return None  # loop or mix-up, not an idea
    if _ABOUT_THE_LIST.search(text):
        return None
    return text


_DOUBLED = re.compile(r"\b(\w+) and \1\b", re.I)
# "a lion who is a lion and ...": the character is said to be itself
_IS_ITSELF = re.compile(r"\b(?:an?|the)\s+(.+?)\s*,?\s+(?:who|which|that)\s+(?:is|was)\s+(?:an?|the)\s+\1\b", re.I)


# "a shy giraffe who's a donkey": an animal said to be another one (one optional word before the second)
_IS_A = re.compile(r"\b([a-z]+)\s+(?:who|which|that)(?:\s+is|\s+was|'s|’s)\s+(?:an?|the)\s+(?:[a-z]+\s+)?([a-z]+)\b", re.I)
_ANIMALS = frozenset(ANIMALS)


def _is_another_animal(text: str) -> bool:
    return any(a.lower() in _ANIMALS and b.lower() in _ANIMALS and a.lower() != b.lower()
               for a, b in _IS_A.findall(text))


def _repeats_a_trigram(text: str) -> bool:
    """'a baby owl who is a tiny ant who is a baby owl': some three words in a row come twice."""
    trigrams = _trigrams(text)
    return len(set(trigrams)) < len(trigrams)


def topic_key(topic: str) -> frozenset:
    """What makes two topics the same: their words, in any order and case."""
    return frozenset(re.findall(r"\w+", topic.lower()))


_PREDICATE = re.compile(r"\b(?:who|which|that)\b(.*)$", re.I)


def predicate_key(topic: str) -> str | None:
    """What happens to the character, when the topic says it after "who/which/that" in three words or more:
    "A dog who can't bear to leave" -> "can t bear to leave"."""
    m = _PREDICATE.search(topic)
    words = re.findall(r"\w+", m.group(1).lower()) if m else []
    return " ".join(words) if len(words) >= 3 else None


def same_topic_keys(topic: str) -> set:
    """What a topic repeats when another has any of these: its words in any order, or what happens after
    "who" (the same story for another character)."""
    return {topic_key(topic), predicate_key(topic)} - {None}


def parse_topics(answer: str, n: int, cut_off: bool = False) -> list[str]:
    """The items of the teacher's numbered list as clean topics (clean_topic), at most n, without
    duplicates: the same words in any order ("a bear with a duck", "a duck with a bear"), or the same story
    for another character (a small teacher's list of six "X who can't bear to leave" keeps the first).
    [] when there is no list. cut_off: the answer hit the token limit, so its last item may be half a
    sentence and is dropped."""
    items = [m.group(1) for m in map(_LIST_ITEM.match, answer.splitlines()) if m]
    if cut_off and items:
        items = items[:-1]
    topics, seen = [], set()
    for item in items:
        topic = clean_topic(item)
        if topic is None:
            continue
        keys = same_topic_keys(topic)
        if not keys & seen:
            seen |= keys
            topics.append(topic)
    return topics[:n]


# Main characters for the examples in the topic prompt, two per theme chosen by a hash of the theme. A small
# teacher copies whatever example it is shown into most of its ideas (SmolLM2-135M put "a shy turtle who"
# under courage, friendship and honesty alike when every theme showed that one example); with examples
# that differ from theme to theme, what it copies differs too.
EXAMPLE_CHARACTERS = ["A little rabbit", "A boy named Tom", "A shy giraffe", "A girl named Mia", "An old dog",
                      "A baby owl", "A grandmother", "A red kite", "A small robot", "Twin sisters", "A hungry bear",
                      "A girl named Sara", "A tiny ant", "A boy named Leo", "A lost duckling", "A farmer",
                      "A sleepy cat", "A girl named Ana", "A young dragon", "A teddy bear", "A brave mouse",
                      "A boy named Sam", "A kind whale", "A little bus"]


def topic_characters(theme: str, k: int = 6, attempt: int = 0) -> list[str]:
    """k different main characters for the topic prompt's examples, chosen by a hash of the theme (and of
    the attempt, after the first: a theme asked again is shown other examples)."""
    i = int(stable_key("examples", theme) if not attempt else stable_key("examples", theme, str(attempt)), 16)
    pool = list(EXAMPLE_CHARACTERS)
    chosen = []
    for _ in range(k):
        i, j = divmod(i, len(pool))
        chosen.append(pool.pop(j))
    return chosen


def topic_prompt(template: str, theme: str, n: int, attempt: int = 0) -> str:
    """The topic request for a theme: the template with {theme}, {n} and {examples}, two numbered openings
    whose characters depend on the theme and the attempt ("1. A baby owl who ...\n2. A farmer who ...").
    A small teacher that answered with no usable list often did so by echoing an example; asked again
    with the same prompt it tends to do the same."""
    first, second = topic_characters(theme, 2, attempt)
    return fill(template, theme=theme, n=n, examples=f"1. {first} who ...\n2. {second} who ...")


def is_refusal(text: str) -> bool:
    return bool(_REFUSAL.match(text))


def topic_phrase(topic: str) -> str:
    """'A shy turtle who sings' -> 'a shy turtle who sings', so it reads inside a sentence."""
    return prompt_from_topic(topic).removeprefix("Write a story about ")


def read_lines(path) -> list[str]:
    """Non-empty lines of a text file, stripped; lines starting with # are comments."""
    lines = [line.strip() for line in Path(path).read_text(encoding="utf-8-sig").splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


# ----------------------------------------------------------------------------------------------
# append-only JSONL, safe to kill


class AppendLog:
    """An append-only JSONL file shared by the worker threads.

    Opening it repairs what a killed run can leave behind, at most one partial last line (everything
    after the last newline is cut off), and reads the records already there.
    """

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.repaired = self._repair()
        self.records = []
        if self.path.exists():
            with open(self.path, encoding="utf-8") as f:
                for lineno, line in enumerate(f, 1):
                    if line.strip():
                        try:
                            self.records.append(json.loads(line))
                        except json.JSONDecodeError:
                            raise TeacherError(f"{self.path}:{lineno}: not JSON; fix or delete that line and rerun") from None
        self._file = open(self.path, "a", encoding="utf-8")
        self._lock = threading.Lock()

    def _repair(self) -> int:
        """Cut off a partial last line; return how many bytes were dropped."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return 0
        with open(self.path, "rb+") as f:
            data = f.read()
            if data.endswith(b"\n"):
                return 0
            keep = data.rfind(b"\n") + 1
            f.truncate(keep)
            return len(data) - keep

    def keys(self) -> set[str]:
        return {r["key"] for r in self.records if "key" in r}

    def append(self, record: dict):
        # one write per record, flushed at once: the OS keeps it even if this process is killed next
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()
            self.records.append(record)

    def close(self):
        self._file.close()


# ----------------------------------------------------------------------------------------------
# the client


class RateLimiter:
    """At most `per_second` request starts per second across all threads (None or 0: no limit)."""

    def __init__(self, per_second: float | None):
        self.interval = 1.0 / per_second if per_second else 0.0
        self.next_start = 0.0
        self.lock = threading.Lock()

    def wait(self):
        if not self.interval:
            return
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next_start)
            self.next_start = start + self.interval
        time.sleep(start - now)


class Stats:
    """Counters shown on the progress bar and in the summary; updated from worker threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.topic_lists = self.stories = self.rejected = self.retried = self.requests = self.tokens = 0

    def add(self, **counts):
        with self.lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)

    def postfix(self) -> dict:
        return {"done": self.topic_lists + self.stories, "rejected": self.rejected, "retried": self.retried,
                "tokens": self.tokens}


class TeacherClient:
    """One OpenAI-compatible endpoint: complete(prompt) -> (text, finish_reason), retrying what can be retried."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, *, endpoint: str = "chat",
                 temperature: float = 1.0, max_tokens: int = 600, seed: int | None = None, timeout: float = 120.0,
                 max_retries: int = 8, max_backoff: float = 60.0, rate: float | None = None, stats: Stats | None = None):
        self.url = base_url.rstrip("/") + ("/chat/completions" if endpoint == "chat" else "/completions")
        self.model, self.endpoint = model, endpoint
        self._api_key = api_key  # sent as a header, never printed
        self.temperature, self.max_tokens, self.seed, self.timeout = temperature, max_tokens, seed, timeout
        self.max_retries, self.max_backoff = max_retries, max_backoff
        self.limiter = RateLimiter(rate)
        self.stats = stats or Stats()
        self._local = threading.local()  # a requests.Session per thread: sessions are not thread-safe

    def payload(self, prompt: str, attempt: int = 0) -> dict:
        """The request body; attempt: how often this item was asked for before, so that a fixed --seed
        still gives a different answer when a bad one is asked again."""
        body = {"model": self.model, "temperature": self.temperature, "max_tokens": self.max_tokens}
        if self.seed is not None:
            body["seed"] = self.seed + attempt
        if self.endpoint == "chat":
            body["messages"] = [{"role": "user", "content": prompt}]
        else:
            body["prompt"] = prompt
        return body

    def complete(self, prompt: str, attempt: int = 0) -> tuple[str, str | None]:
        """(text, finish_reason) of the teacher's answer, retrying what the server got wrong (not what it
        wrote); attempt: see payload."""
        for retry in range(self.max_retries + 1):
            try:
                return self._request(prompt, attempt)
            except _Retry as e:
                if retry == self.max_retries:
                    raise TeacherError(f"{self.url}: gave up after {self.max_retries} retries ({e}); "
                                       f"is the server up? rerun the same command to resume") from None
                self.stats.add(retried=1)
                if e.retry_after is not None:
                    delay = e.retry_after  # the server said how long; honour it exactly
                else:  # exponential backoff with jitter, so many workers do not retry in lockstep
                    delay = min(self.max_backoff, 2.0**retry) * random.uniform(0.5, 1.0)
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _request(self, prompt: str, attempt: int = 0) -> tuple[str, str | None]:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        self.limiter.wait()
        self.stats.add(requests=1)
        try:
            r = session.post(self.url, json=self.payload(prompt, attempt), headers=headers, timeout=self.timeout)
        except requests.Timeout:
            raise _Retry(f"no answer within {self.timeout:g} s") from None
        except requests.ConnectionError as e:
            raise _Retry(f"connection failed ({type(e).__name__})") from None
        if r.status_code != 200:
            self._raise_for_status(r)
        try:
            body = r.json()
            choice = body["choices"][0]
            text = choice["message"]["content"] if self.endpoint == "chat" else choice["text"]
        except ValueError:
            raise _Retry("malformed JSON in the answer") from None
        except (KeyError, IndexError, TypeError):
            raise _Retry("answer without choices") from None
        usage = body.get("usage") or {}
        self.stats.add(tokens=int(usage.get("total_tokens") or 0))
        return (text or ""), choice.get("finish_reason")

    def _raise_for_status(self, r: requests.Response):
        try:
            error = r.json().get("error")
            message = error.get("message", "") if isinstance(error, dict) else str(error or "")
            code = (error.get("code") or error.get("type") or "") if isinstance(error, dict) else ""
        except (ValueError, AttributeError):
            message, code = r.text[:200], ""
        message = " ".join(str(message).split())[:200]
        if r.status_code == 429 and ("insufficient_quota" in str(code) or "insufficient_quota" in r.text[:2000]):
            raise TeacherError(f"{self.url}: 429 insufficient_quota: the account has no credit left ({message})")
        if r.status_code in RETRYABLE_STATUS or r.status_code >= 500:
            raise _Retry(f"HTTP {r.status_code}", parse_retry_after(r.headers.get("Retry-After")))
        hint = {401: "check the API key (--api-key-env)", 403: "the key may not use this model",
                404: "check --base-url and --model", 400: "the server rejected the request"}.get(r.status_code, "")
        raise TeacherError(f"{self.url}: HTTP {r.status_code} {message or r.reason}" + (f"; {hint}" if hint else ""))


# ----------------------------------------------------------------------------------------------
# the two stages


def run_pool(jobs: list, do_job, workers: int, desc: str, stats: Stats):
    """Run do_job over jobs on a thread pool with a progress bar; stop at the first TeacherError or Ctrl-C
    (jobs already running finish and are written; the rest are left for the next run)."""
    stop = threading.Event()
    bar = tqdm(total=len(jobs), desc=desc, unit="req", dynamic_ncols=True, file=sys.stderr)

    def guarded(job):
        if stop.is_set():
            return
        do_job(job)
        bar.update(1)
        bar.set_postfix(stats.postfix(), refresh=False)

    error = None
    pool = ThreadPoolExecutor(max_workers=workers)
    futures = [pool.submit(guarded, job) for job in jobs]
    try:
        for future in as_completed(futures):
            if future.cancelled():
                continue
            if future.exception() is not None and error is None:
                error = future.exception()
                stop.set()
                for f in futures:
                    f.cancel()
    except KeyboardInterrupt:
        stop.set()
        for f in futures:
            f.cancel()
        error = KeyboardInterrupt()
    finally:
        pool.shutdown(wait=True)
        bar.close()
    if error is not None:
        raise error


# Why a unit of work went to rejects.jsonl ("reason"); details ride in other keys. account() counts by these.
NO_TOPICS = "no numbered list"                           # + "answers": how many were asked for
TOO_FEW_TOPICS = "too few usable topics"                 # + "missing": how many of the n
REPEATED_TOPIC = "topic already asked for under another theme"  # + "first_theme"
CUT_OFF = "cut off by the token limit (finish_reason: length)"  # and too short up to its last sentence
EMPTY, REFUSAL, DUPLICATE = "empty answer", "refusal", "duplicate story"  # DUPLICATE + "duplicate_of": key
REPETITIVE = "repetitive (the teacher looped)"  # and under min_words words before the loop
# a kept story's "trimmed": where it was cut (a story as the teacher finished it has no such key)
TRIMMED_AT_LIMIT, TRIMMED_BEFORE_LOOP = "at its last sentence before the token limit", "before the teacher looped"


TOPIC_MARGIN = 2  # ideas asked for beyond the n needed: a small teacher's list loses some to the cleaning


def topic_stage(client: TeacherClient, themes: list[str], n: int, template: str, topics: AppendLog,
                rejects: AppendLog, workers: int, parse_retries: int = 2):
    """themes -> topics.jsonl: one request per theme not done yet, for n + TOPIC_MARGIN ideas of which the
    first n usable ones are kept. A theme is asked again (up to parse_retries more times) while its answers
    hold fewer than n usable topics, keeping the new ones. A theme left with none goes to rejects.jsonl;
    one left short is written with what it has and the shortfall recorded in rejects.jsonl, so each of the
    n topics asked for is accounted for."""
    finished = topics.keys() | rejects.keys()
    jobs = [t for t in dict.fromkeys(themes) if stable_key("topics", t) not in finished]

    def do(theme):
        key = stable_key("topics", theme)
        found, seen = [], set()
        for attempt in range(parse_retries + 1):
            if attempt:
                client.stats.add(retried=1)
            text, finish = client.complete(topic_prompt(template, theme, n + TOPIC_MARGIN, attempt), attempt)
            for topic in parse_topics(text, n + TOPIC_MARGIN, cut_off=finish == "length"):
                if not same_topic_keys(topic) & seen:  # nor one an earlier answer for this theme gave
                    seen |= same_topic_keys(topic)
                    found.append(topic)
            if len(found) >= n:
                break
        found, asked = found[:n], attempt + 1
        reject = {"stage": "topics", "theme": theme, "teacher": client.model, "answers": asked, "answer": text[:1000]}
        if not found:
            rejects.append({"key": key, "reason": NO_TOPICS, "missing": n, **reject})
            client.stats.add(rejected=1)
            return
        if len(found) < n:
            rejects.append({"key": stable_key("topics-short", theme), "reason": TOO_FEW_TOPICS,
                            "missing": n - len(found), **reject})
        topics.append({"key": key, "theme": theme, "topics": found, "teacher": client.model, "finish_reason": finish})
        client.stats.add(topic_lists=1)

    run_pool(jobs, do, workers, "topics", client.stats)


def story_jobs(topics: AppendLog) -> tuple[list[tuple[str, str, str]], list[dict]]:
    """(jobs, repeats). jobs: (key, theme, topic) for every topic in topics.jsonl, in file order. A topic
    that a different theme also produced (the same words: topic_key) is asked for once, under the first theme;
    repeats holds a rejects.jsonl record for each later copy, so that every topic asked for is accounted for."""
    jobs, repeats, first = [], [], {}
    for record in topics.records:
        theme = record["theme"]
        for topic in record.get("topics", []):
            earlier = first.setdefault(topic_key(topic), theme)
            key = stable_key("story", theme, topic)
            if earlier != theme:
                repeats.append({"key": key, "stage": "stories", "reason": REPEATED_TOPIC, "first_theme": earlier,
                                "theme": theme, "topic": topic, "teacher": record.get("teacher")})
            elif all(key != k for k, _, _ in jobs):
                jobs.append((key, theme, topic))
    return jobs, repeats


# A sentence ends at . ! or ? (then perhaps a closing quote or bracket) before a space or the end of the text.
_SENTENCE_END = re.compile(r"[.!?][\"'”’)]*(?=\s|$)")
MIN_KEPT_WORDS = 80  # a story cut at the token limit is kept up to its last sentence if this long (~half a story)


def trim_to_sentence(story: str, min_words: int = MIN_KEPT_WORDS) -> str | None:
    """A story cut off by the token limit, up to the end of its last complete sentence; None when that
    leaves fewer than min_words words (or there is no complete sentence)."""
    ends = [m.end() for m in _SENTENCE_END.finditer(story)]
    kept = story[:ends[-1]].strip() if ends else ""
    return kept if len(kept.split()) >= min_words else None


MIN_DISTINCT_TRIGRAMS = 0.5  # below this share of distinct word trigrams a story is a loop, not a story


def _trigrams(text: str) -> list[tuple[str, str, str]]:
    words = re.findall(r"\w+", text.lower())
    return list(zip(words, words[1:], words[2:]))


def is_repetitive(story: str) -> bool:
    """A teacher stuck in a loop ("he smiled, he smiled, he smiled ..."), which small teachers fall into
    and a student would learn: fewer than half of the story's word trigrams are distinct. Real stories,
    refrains and all, stay far above (story_distillation.csv's 1,476 Llama-2 stories: all above 0.8)."""
    trigrams = _trigrams(story)
    return len(trigrams) >= 20 and len(set(trigrams)) < MIN_DISTINCT_TRIGRAMS * len(trigrams)


def trim_before_loop(story: str, min_words: int = MIN_KEPT_WORDS) -> str | None:
    """A looping story up to the sentence before the loop: the first sentence most of whose word trigrams
    the story has said already. None when that leaves fewer than min_words words or is still repetitive."""
    seen, start = set(), 0
    for end in [m.end() for m in _SENTENCE_END.finditer(story)]:
        trigrams = _trigrams(story[start:end])
        if len(trigrams) >= 3 and sum(t in seen for t in trigrams) > len(trigrams) / 2:
            break
        seen.update(trigrams)
        start = end
    kept = story[:start].strip()
    return kept if len(kept.split()) >= min_words and not is_repetitive(kept) else None


def judge_story(text: str, finish: str | None, min_words: int = MIN_KEPT_WORDS) -> tuple[str, str | None, dict]:
    """(story, trimmed, reject) for a teacher's answer: the story with the teacher's chatter stripped (and
    perhaps trimmed: at its last sentence when cut off by the token limit, before a loop, each when at
    least min_words words remain; trimmed then says which), or a reject record's reason (empty when kept)."""
    story, trimmed = strip_teacher_chatter(text), None
    if not story:
        return story, None, {"reason": EMPTY}
    if is_refusal(story):
        return story, None, {"reason": REFUSAL}
    if finish == "length":
        story, trimmed = trim_to_sentence(story, min_words), TRIMMED_AT_LIMIT
        if story is None:
            return text, None, {"reason": CUT_OFF, "min_words": min_words}
    if is_repetitive(story):
        story, trimmed = trim_before_loop(story, min_words), TRIMMED_BEFORE_LOOP
        if story is None:
            return text, None, {"reason": REPETITIVE, "min_words": min_words}
    return story, trimmed, {}


def story_stage(client: TeacherClient, jobs: list, template: str, stories: AppendLog, rejects: AppendLog,
                workers: int, repeats: list[dict] = (), min_words: int = MIN_KEPT_WORDS, story_retries: int = 1):
    """topics -> stories.jsonl: one request per topic not done yet (judge_story decides what is kept), and
    up to story_retries more for a topic whose answer was unusable: a small teacher that looped or ran
    past the token limit often writes a good story when asked again. What is still unusable goes to
    rejects.jsonl with its last answer, and so do the repeats story_jobs found."""
    finished = stories.keys() | rejects.keys()
    for record in repeats:
        if record["key"] not in finished:
            rejects.append(record)
    seen = {_normalise(r["story"]): r["key"] for r in stories.records}  # duplicate detection across runs
    seen_lock = threading.Lock()
    todo = [job for job in jobs if job[0] not in finished]

    def do(job):
        key, theme, topic = job
        for attempt in range(story_retries + 1):
            if attempt:
                client.stats.add(retried=1)
            text, finish = client.complete(fill(template, theme=theme, topic=topic_phrase(topic)), attempt)
            story, trimmed, reject = judge_story(text, finish, min_words)
            if not reject:
                with seen_lock:
                    first = seen.setdefault(_normalise(story), key)
                if first != key:
                    reject = {"reason": DUPLICATE, "duplicate_of": first}
            if not reject:
                break
        if reject:
            rejects.append({"key": key, "stage": "stories", **reject, "theme": theme, "topic": topic,
                            "teacher": client.model, "answers": attempt + 1, "answer": text[:1000]})
            client.stats.add(rejected=1)
            return
        record = {"key": key, "prompt": prompt_from_topic(topic), "story": story, "theme": theme, "topic": topic,
                  "teacher": client.model, "finish_reason": finish}
        if trimmed:
            record["trimmed"] = trimmed
        stories.append(record)
        client.stats.add(stories=1)

    run_pool(todo, do, workers, "stories", client.stats)


def account(themes: list[str], n: int, logs: dict) -> dict:
    """What became of the len(themes) × n stories asked for, read from the three files (this run and the
    earlier ones it resumed): stories kept (and how many of them trimmed), and the stories lost, by reason."""
    themes = set(themes)
    kept = [r for r in logs["stories"].records if r.get("theme") in themes]
    lost = {}
    for r in logs["rejects"].records:
        if r.get("theme") in themes:
            lost[r["reason"]] = lost.get(r["reason"], 0) + (r.get("missing", n) if r["stage"] == "topics" else 1)
    return {"asked": len(themes) * n, "kept": len(kept), "trimmed": sum(bool(r.get("trimmed")) for r in kept),
            "lost": lost}


# ----------------------------------------------------------------------------------------------
# CLI


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m data.teacher", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--base-url", default="http://localhost:11434/v1", help="OpenAI-compatible API root (Ollama's here)")
    p.add_argument("--model", default="llama3.1:8b", help="teacher model name as the server knows it")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key (unset: none sent)")
    p.add_argument("--endpoint", choices=["chat", "completions"], default="chat", help="/chat/completions or /completions")
    p.add_argument("--out-dir", default="out/teacher", help="topics.jsonl, stories.jsonl and rejects.jsonl go here")
    p.add_argument("--stage", choices=["topics", "stories", "all"], default="all")
    p.add_argument("--themes", default=str(DEFAULT_THEMES), help="one theme per line")
    p.add_argument("--max-themes", type=int, default=None, help="use only the first N themes")
    p.add_argument("--topics-per-theme", type=int, default=10)
    p.add_argument("--topic-prompt", default=str(DEFAULT_TOPIC_PROMPT), help="template file with {theme} and {n}")
    p.add_argument("--story-prompt", default=str(DEFAULT_STORY_PROMPT), help="template file with {topic} and {theme}")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--max-tokens", type=int, default=600)
    p.add_argument("--seed", type=int, default=None, help="sent to the server when given")
    p.add_argument("--workers", type=int, default=4, help="requests in flight at once")
    p.add_argument("--rate", type=float, default=None, help="at most this many requests per second")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for one answer")
    p.add_argument("--max-retries", type=int, default=8, help="retries of one request before the run stops")
    p.add_argument("--max-backoff", type=float, default=60.0, help="longest wait between retries, seconds")
    p.add_argument("--parse-retries", type=int, default=2,
                   help="extra asks when a topic answer has fewer usable topics than asked for")
    p.add_argument("--story-retries", type=int, default=1,
                   help="extra asks when a story answer is unusable (cut off, looping, empty, a refusal)")
    p.add_argument("--min-words", type=int, default=MIN_KEPT_WORDS,
                   help="a story cut off by --max-tokens is kept up to its last sentence if that is this many words")
    p.add_argument("--dry-run", action="store_true", help="print the first prompts and exit")
    args = p.parse_args(argv)
    least = {"topics_per_theme": 1, "max_tokens": 1, "workers": 1, "max_retries": 0, "parse_retries": 0,
             "story_retries": 0, "min_words": 0}
    for name, minimum in least.items():
        if getattr(args, name) < minimum:
            p.error(f"--{name.replace('_', '-')} must be at least {minimum}, got {getattr(args, name)}")
    return args


def summary(stats: Stats, out_dir: Path, elapsed: float, counts: dict | None = None) -> str:
    """The run's requests and time; with counts (account()), a second line on how much of what was asked
    for was kept: "kept 14 of 15 stories asked for (93%, 2 trimmed ...); lost: refusal 1"."""
    line = (f"{stats.topic_lists} topic lists and {stats.stories} stories written, {stats.rejected} answers rejected, "
            f"{stats.retried} retried, {stats.requests} requests, "
            f"{stats.tokens:,} tokens in {elapsed:.0f} s -> {out_dir}/{{topics,stories,rejects}}.jsonl")
    if counts and counts["asked"]:
        lost = ", ".join(f"{why} {n}" for why, n in sorted(counts["lost"].items(), key=lambda kv: -kv[1]))
        line += (f"\nkept {counts['kept']} of {counts['asked']} stories asked for "
                 f"({100 * counts['kept'] / counts['asked']:.0f}%, {counts['trimmed']} of them trimmed at the "
                 f"token limit or before a loop)" + (f"; lost: {lost}" if lost else ""))
    return line


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        themes = read_lines(args.themes)[: args.max_themes]
        topic_template = Path(args.topic_prompt).read_text(encoding="utf-8").strip()
        story_template = Path(args.story_prompt).read_text(encoding="utf-8").strip()
    except OSError as e:
        exit_with(e)
    if not themes:
        exit_with(DataError(f"{args.themes}: no themes in it"))
    out = Path(args.out_dir)
    if args.dry_run:
        print(f"# {args.endpoint} endpoint {args.base_url}, model {args.model}, {len(themes)} themes")
        for theme in themes[:2]:
            print(f"--- topics prompt ({theme})\n"
                  f"{topic_prompt(topic_template, theme, args.topics_per_theme + TOPIC_MARGIN)}")
        example = [(theme, "a little fox who is afraid of the dark") for theme in themes[:1]]
        if (out / "topics.jsonl").exists():
            example = [(t, topic) for _, t, topic in story_jobs(AppendLog(out / "topics.jsonl"))[0][:2]] or example
        for theme, topic in example:
            print(f"--- story prompt ({topic})\n{fill(story_template, theme=theme, topic=topic_phrase(topic))}")
        return 0

    stats, start = Stats(), time.time()
    client = TeacherClient(args.base_url, args.model, os.environ.get(args.api_key_env) or None, endpoint=args.endpoint,
                           temperature=args.temperature, max_tokens=args.max_tokens, seed=args.seed,
                           timeout=args.timeout, max_retries=args.max_retries, max_backoff=args.max_backoff,
                           rate=args.rate, stats=stats)
    logs = {}

    def counts(logs):
        return account(themes, args.topics_per_theme, logs) if len(logs) == 3 and args.stage != "topics" else None
    try:
        logs = {name: AppendLog(out / f"{name}.jsonl") for name in ("topics", "stories", "rejects")}
        for log in logs.values():
            if log.repaired:
                print(f"repaired {log.path}: dropped a partial last line ({log.repaired} bytes) left by a killed run",
                      file=sys.stderr)
        if args.stage in ("topics", "all"):
            topic_stage(client, themes, args.topics_per_theme, topic_template, logs["topics"], logs["rejects"],
                        args.workers, args.parse_retries)
        if args.stage in ("stories", "all"):
            jobs, repeats = story_jobs(logs["topics"])
            story_stage(client, jobs, story_template, logs["stories"], logs["rejects"], args.workers, repeats,
                        args.min_words, args.story_retries)
    except TeacherError as e:
        print(summary(stats, out, time.time() - start, counts(logs)), file=sys.stderr)
        exit_with(e)
    except KeyboardInterrupt:
        print(summary(stats, out, time.time() - start, counts(logs)), file=sys.stderr)
        print("interrupted; everything finished is saved, rerun the same command to resume", file=sys.stderr)
        return 130
    finally:
        for log in logs.values():
            log.close()
    print(summary(stats, out, time.time() - start, counts(logs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
