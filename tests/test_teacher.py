"""data/teacher.py against a fake OpenAI-compatible server on 127.0.0.1 that misbehaves on purpose."""

import email.utils
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from data import teacher

ROOT = Path(__file__).resolve().parents[1]
THEMES = ["friendship", "courage", "honesty", "garbled", "flaky", "copycat", "stingy"]
N_TOPICS = 4
# copycat answers with friendship's topics (each then asked for once, under friendship); stingy lists only
# two ideas, however often it is asked
STINGY_TOPICS = 2
# the fault the server plays on the FIRST request for a story topic; later requests answer normally
TRANSIENT = {"friendship tale 0": "429-seconds", "friendship tale 1": "429-date", "friendship tale 2": "503",
             "courage tale 0": "500", "courage tale 1": "hang", "courage tale 2": "reset",
             "honesty tale 0": "bad-json", "honesty tale 1": "no-choices"}
# faults played on every request: the story ends up in rejects.jsonl with this reason
PERMANENT = {"honesty tale 2": "cut off", "honesty tale 3": "refusal", "flaky tale 1": "empty",
             "flaky tale 0": "cut off long"}
# unusable answers given to the FIRST request only: asked again (--story-retries), the teacher does better
ONCE = {"stingy tale 0": "loop", "stingy tale 1": "cut off"}
DUPLICATE = ("flaky tale 2", "flaky tale 3")  # the server writes the same story for both
HANG_SECONDS = 1.5


def story_for(topic: str) -> str:
    if topic in DUPLICATE:
        topic = DUPLICATE[0]
    return f"Once upon a time there was {topic}. It was a good day.\n\nThe end of {topic}."


# a story the token limit cut in the middle of a sentence, long enough to keep up to its last full stop
LONG_CUT = ("Once upon a time there was a small red fox who lived under an old oak tree at the edge of a quiet "
            "village. Every morning he ran across the meadow to visit his friend, a slow grey tortoise named Pip. "
            "One windy day the tortoise could not find his way home, because fallen leaves covered the path. The fox "
            "sniffed the ground, followed the smell of the river, and carried the leaves away one by one. Soon they "
            "saw the little pond where Pip lived with his sisters. Then he said, \"Look!\" And the fox")
LONG_CUT_KEPT = LONG_CUT[:LONG_CUT.rindex("!") + 2]


class FakeTeacher(BaseHTTPRequestHandler):
    """Answers /v1/chat/completions and /v1/completions; server.mode picks how it misbehaves."""

    def log_message(self, *args):
        pass

    def do_POST(self):
        server = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][0]["content"] if "messages" in body else body["prompt"]
        if server.mode != "ok":
            return self.reply(server.mode, {"error": {"message": "nope", "code": "insufficient_quota"
                                                      if server.mode == 429 else None}})
        time.sleep(server.delay)
        topic = re.search(r"about (\w+ tale \d+)\.", prompt)
        theme = re.search(r"theme for children's stories: (\w+)\.", prompt)
        if theme:  # stage 1: a numbered list of topics
            theme = theme.group(1)
            with server.lock:
                server.counts[theme] = attempt = server.counts.get(theme, 0) + 1
            if theme == "garbled" or (theme == "flaky" and attempt == 1):
                return self.answer("What a lovely theme! I would be glad to help with stories.", "stop")
            n = STINGY_TOPICS if theme == "stingy" else N_TOPICS
            title = "Friendship" if theme == "copycat" else theme.capitalize()
            return self.answer("Sure! Here are some ideas:\n" +
                               "\n".join(f"{i + 1}. {title} tale {i}" for i in range(n)), "stop")
        topic = topic.group(1)
        with server.lock:
            server.counts[topic] = attempt = server.counts.get(topic, 0) + 1
            server.story_requests.append(topic)
        fault = PERMANENT.get(topic) or ((TRANSIENT.get(topic) or ONCE.get(topic)) if attempt == 1 else None)
        if fault == "429-seconds":
            return self.reply(429, {"error": {"message": "slow down"}}, {"Retry-After": "1"})
        if fault == "429-date":
            return self.reply(429, {"error": {"message": "slow down"}},
                              {"Retry-After": email.utils.formatdate(time.time() + 1, usegmt=True)})
        if fault in ("503", "500"):
            return self.reply(int(fault), {"error": {"message": "overloaded"}})
        if fault == "hang":
            time.sleep(HANG_SECONDS)
            return self.answer(story_for(topic), "stop")
        if fault == "reset":  # close with RST, no answer at all
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            raise ConnectionAbortedError
        if fault == "bad-json":
            return self.reply(200, None, raw=b'{"choices": [{"message": {"content": "Once')
        if fault == "no-choices":
            return self.reply(200, {"id": "x", "object": "chat.completion"})
        if fault == "cut off":
            return self.answer("Once upon a time there was a", "length")
        if fault == "loop":
            return self.answer("He smiled and smiled, and the flowers smiled. " * 12, "stop")
        if fault == "cut off long":
            return self.answer(LONG_CUT, "length")
        if fault == "refusal":
            return self.answer("I'm sorry, but I can't write that story.", "stop")
        if fault == "empty":
            return self.answer("", "stop")
        return self.answer(story_for(topic), "stop")

    def answer(self, text, finish):
        if self.path.endswith("/chat/completions"):
            choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
        else:
            choice = {"index": 0, "text": text, "finish_reason": finish}
        self.reply(200, {"choices": [choice], "usage": {"total_tokens": 10}})

    def reply(self, status, obj, headers=None, raw=None):
        data = raw if raw is not None else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(data)
        except OSError:  # the client gave up (timeout) before we answered
            pass


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # resets and timed-out clients are part of the test


@pytest.fixture
def server():
    def start(mode="ok", delay=0.0):
        srv = Server(("127.0.0.1", 0), FakeTeacher)
        srv.mode, srv.delay, srv.lock, srv.counts, srv.story_requests = mode, delay, threading.Lock(), {}, []
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        started.append(srv)
        return srv
    started = []
    yield start
    for srv in started:
        srv.shutdown()
        srv.server_close()


def cli_args(srv, tmp_path, *extra):
    themes = tmp_path / "themes.txt"
    themes.write_text("# test themes\n" + "\n".join(THEMES) + "\n")
    return ["--base-url", f"http://127.0.0.1:{srv.server_address[1]}/v1", "--model", "fake", "--themes", str(themes),
            "--topics-per-theme", str(N_TOPICS), "--out-dir", str(tmp_path / "out"), "--workers", "3",
            "--timeout", "0.5", "--max-backoff", "0.02", "--max-retries", "4", *extra]


def read(path):
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def expected_topics():
    """The topics asked for, each once (copycat's copies of friendship's are accounted for separately)."""
    return {f"{t.capitalize()} tale {i}" for t in THEMES if t not in ("garbled", "copycat")
            for i in range(STINGY_TOPICS if t == "stingy" else N_TOPICS)}


def check_final(out: Path):
    """Every topic is in stories.jsonl or rejects.jsonl exactly once, for the right reason, and the
    themes × N_TOPICS stories asked for all add up: kept + lost."""
    stories, rejects, topics = read(out / "stories.jsonl"), read(out / "rejects.jsonl"), read(out / "topics.jsonl")
    assert sorted(r["theme"] for r in topics) == sorted(t for t in THEMES if t != "garbled")
    topic_rejects = {r["theme"]: r for r in rejects if r["stage"] == "topics"}
    assert sorted(topic_rejects) == ["garbled", "stingy"]
    assert topic_rejects["garbled"]["reason"] == teacher.NO_TOPICS and topic_rejects["garbled"]["missing"] == N_TOPICS
    assert topic_rejects["stingy"]["reason"] == teacher.TOO_FEW_TOPICS
    assert topic_rejects["stingy"]["missing"] == N_TOPICS - STINGY_TOPICS and topic_rejects["stingy"]["answers"] == 3
    story_rejects = [r for r in rejects if r["stage"] == "stories"]
    repeats = [r for r in story_rejects if r["reason"] == teacher.REPEATED_TOPIC]
    assert sorted((r["theme"], r["topic"], r["first_theme"]) for r in repeats) == \
        [("copycat", f"Friendship tale {i}", "friendship") for i in range(N_TOPICS)]
    done = [r["topic"] for r in stories] + [r["topic"] for r in story_rejects if r not in repeats]
    assert sorted(done) == sorted(expected_topics())  # each exactly once: sorted lists, not sets
    keys = [r["key"] for r in stories + rejects]
    assert len(keys) == len(set(keys))
    reasons = {r["topic"]: r["reason"] for r in story_rejects if r not in repeats}
    assert reasons.pop("Honesty tale 2") == teacher.CUT_OFF  # too short up to its last sentence
    assert reasons.pop("Honesty tale 3") == "refusal"
    assert reasons.pop("Flaky tale 1") == "empty answer"
    dup = [t for t in reasons if t.lower() in DUPLICATE]
    assert len(dup) == 1 and reasons.pop(dup[0]) == "duplicate story"
    assert not reasons
    for r in stories:
        assert r["prompt"] == "Write a story about " + r["topic"].lower() and r["teacher"] == "fake"
        if r["topic"] == "Flaky tale 0":  # cut off, kept up to its last complete sentence
            assert r["story"] == LONG_CUT_KEPT and r["trimmed"] == teacher.TRIMMED_AT_LIMIT
            assert r["finish_reason"] == "length"
        else:
            assert r["story"].startswith("Once upon a time") and r["finish_reason"] == "stop" and "trimmed" not in r
    texts = [r["story"] for r in stories]
    assert len(texts) == len(set(texts))
    logs = {name: teacher.AppendLog(out / f"{name}.jsonl") for name in ("topics", "stories", "rejects")}
    counts = teacher.account(THEMES, N_TOPICS, logs)
    assert counts["asked"] == len(THEMES) * N_TOPICS == counts["kept"] + sum(counts["lost"].values())
    assert counts["kept"] == len(stories) and counts["trimmed"] == 1
    return sorted(texts), sorted(keys)


def test_misbehaving_server_loses_and_duplicates_nothing(server, tmp_path, capsys):
    srv = server()
    t0 = time.time()
    assert teacher.main(cli_args(srv, tmp_path)) == 0
    assert time.time() - t0 < 20
    check_final(tmp_path / "out")
    kept = len(read(tmp_path / "out" / "stories.jsonl"))
    asked = len(THEMES) * N_TOPICS
    printed = capsys.readouterr().out
    topic_lists = len(read(tmp_path / "out" / "topics.jsonl"))
    assert f"{topic_lists} topic lists and {kept} stories written" in printed
    assert f"kept {kept} of {asked} stories asked for ({100 * kept / asked:.0f}%, 1 of them trimmed" in printed
    for topic in TRANSIENT:  # each transient fault was met once and retried
        assert srv.counts[topic] == 2, topic
    for topic in [*ONCE, *PERMANENT]:  # an unusable story is asked for once more (--story-retries 1)
        assert srv.counts[topic] == (2 if topic != "flaky tale 0" else 1), topic  # tale 0 is kept, trimmed
    assert srv.counts["flaky"] == 2 and srv.counts["garbled"] == 3  # parse retries: 1 + 2

    # a rerun finds nothing to do and sends no story request
    before = len(srv.story_requests)
    assert teacher.main(cli_args(srv, tmp_path)) == 0
    assert len(srv.story_requests) == before
    check_final(tmp_path / "out")

    # the shard encoder's reader takes the output as it is
    from data.records import read_records
    assert len(read_records(tmp_path / "out" / "stories.jsonl")) == len(read(tmp_path / "out" / "stories.jsonl"))


def test_completions_endpoint_and_partial_line_repair(server, tmp_path):
    srv = server()
    args = cli_args(srv, tmp_path, "--endpoint", "completions")
    assert teacher.main(args) == 0
    out = tmp_path / "out"
    reference = check_final(out)
    # a killed writer's partial last line is cut off and the record it held is written again, once
    lines = (out / "stories.jsonl").read_text().splitlines(keepends=True)
    (out / "stories.jsonl").write_text("".join(lines[:-1]) + lines[-1][:25])
    assert teacher.main(args) == 0
    assert check_final(out) == reference


def test_sigkill_mid_run_then_resume(server, tmp_path):
    reference_dir = tmp_path / "reference"
    reference_dir.mkdir()
    assert teacher.main(cli_args(server(), reference_dir)) == 0
    reference = check_final(reference_dir / "out")

    srv = server(delay=0.05)
    cmd = [sys.executable, "-m", "data.teacher", *cli_args(srv, tmp_path)]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stories = tmp_path / "out" / "stories.jsonl"
    deadline = time.time() + 20
    while time.time() < deadline and (not stories.exists() or stories.read_text().count("\n") < 3):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert stories.read_text().count("\n") < len(expected_topics()) - 4, "the run finished before it was killed"

    srv.delay = 0.0
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert check_final(tmp_path / "out") == reference


@pytest.mark.parametrize("status, words", [(401, "API key"), (404, "--model"), (429, "insufficient_quota")])
def test_fatal_answers_stop_at_once(server, tmp_path, status, words):
    srv = server(mode=status)
    t0 = time.time()
    result = subprocess.run([sys.executable, "-m", "data.teacher", *cli_args(srv, tmp_path), "--max-backoff", "5"],
                            cwd=ROOT, capture_output=True, text=True, timeout=30, env=dict(os.environ, OPENAI_API_KEY="sk-secret-123"))
    assert result.returncode == 1
    assert time.time() - t0 < 10  # no backoff: it stopped at the first answer
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and str(status) in last and words in last
    assert "Traceback" not in result.stderr and "sk-secret-123" not in result.stderr + result.stdout


def test_an_item_asked_again_gets_another_seed_and_bad_counts_are_refused(tmp_path, capsys):
    client = teacher.TeacherClient("http://127.0.0.1:9/v1", "m", seed=5)
    assert [client.payload("x", attempt).get("seed") for attempt in range(3)] == [5, 6, 7]
    assert "seed" not in teacher.TeacherClient("http://127.0.0.1:9/v1", "m").payload("x", 1)
    for flag in ("--story-retries", "--parse-retries", "--topics-per-theme", "--workers"):
        with pytest.raises(SystemExit) as e:
            teacher.parse_args([flag, "-1"])
        assert e.value.code == 2 and f"{flag} must be at least" in capsys.readouterr().err


def test_dry_run_calls_nothing(server, tmp_path, capsys):
    srv = server(mode=500)
    assert teacher.main(cli_args(srv, tmp_path, "--dry-run")) == 0
    printed = capsys.readouterr().out
    assert "theme for children's stories: friendship." in printed and "Write a very short story" in printed
    assert not (tmp_path / "out").exists()


def test_topics_repeated_by_another_theme_are_written_once(tmp_path):
    log = teacher.AppendLog(tmp_path / "topics.jsonl")
    log.append({"key": "a", "theme": "x", "topics": ["A fox", "A cat"]})
    log.append({"key": "b", "theme": "y", "topics": ["a  FOX", "A dog"]})
    log.close()
    jobs, repeats = teacher.story_jobs(teacher.AppendLog(tmp_path / "topics.jsonl"))
    assert [(theme, topic) for _, theme, topic in jobs] == [("x", "A fox"), ("x", "A cat"), ("y", "A dog")]
    assert len({key for key, _, _ in jobs}) == 3
    # the copy under y is accounted for: a rejects.jsonl record naming the theme that asked first
    assert [(r["theme"], r["topic"], r["reason"], r["first_theme"]) for r in repeats] == \
        [("y", "a  FOX", teacher.REPEATED_TOPIC, "x")]


def test_helpers():
    assert teacher.parse_retry_after("7") == 7
    assert teacher.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0  # in the past
    future = email.utils.formatdate(1_000_030, usegmt=True)
    assert teacher.parse_retry_after(future, now=1_000_000) == pytest.approx(30)
    assert teacher.parse_retry_after("soon") is None
    answer = "Here you go:\n1. A fox who sings\n2) **A brave owl**\n- \"A lost kite\"\n3. a fox who SINGS\n4. A half"
    assert teacher.parse_topics(answer, 10, cut_off=True) == ["A fox who sings", "A brave owl", "A lost kite"]
    assert teacher.parse_topics(answer, 2) == ["A fox who sings", "A brave owl"]
    assert teacher.parse_topics("No list here, sorry.", 5) == []
    assert teacher.parse_topics("1. A teddy bear with a lost duck\n2. A lost duck with a teddy bear", 5) == \
        ["A teddy bear with a lost duck"]
    # the same story for six characters (SmolLM2-135M under "courage"): the first is kept, the theme asked again
    same = "".join(f"{i}. A {who} who can't bear to leave\n" for i, who in enumerate(["dog", "spider", "woman"], 1))
    assert teacher.parse_topics(same + "4. A fox who learns to swim", 5) == ["A dog who can't bear to leave",
                                                                             "A fox who learns to swim"]
    assert teacher.parse_topics("1. A cat who sings\n2. A dog who sings", 5) == ["A cat who sings", "A dog who sings"]
    assert teacher.is_refusal("I cannot help with that.") and teacher.is_refusal("As an AI, I ...")
    assert not teacher.is_refusal('Once upon a time, Tom said "I can\'t" and cried.')
    assert len(list(map(str.strip, teacher.read_lines(teacher.DEFAULT_THEMES)))) >= 180


@pytest.mark.parametrize("item, topic", [
    # what SmolLM2-135M-Instruct wrote when asked for topics (issue 13), and what becomes of it
    ('A Sunny Side Up" - A sunny day for a turtle who learns to share', "A sunny day for a turtle who learns to share"),
    ('In the Sunshine of Honesty" - A little bear tells the truth about a broken vase',
     "A little bear tells the truth about a broken vase"),
    ("The story about a shy turtle who sings for her friends.", "a shy turtle who sings for her friends"),
    ("**Brave Bella**: a bunny who crosses the river alone", "a bunny who crosses the river alone"),
    ("Idea 3: The story of a girl who finds a lost puppy", "a girl who finds a lost puppy"),
    ("Courage: A lion who is afraid of mice learns to be brave", "A lion who is afraid of mice learns to be brave"),
    # a dash inside a plain sentence, and a hyphenated word, are not titles
    ("A fox - who is shy - sings at the fair", "A fox - who is shy - sings at the fair"),
    ("A well-known owl helps a lost mouse find home", "A well-known owl helps a lost mouse find home"),
    ("Sam, a boy who likes trucks: he builds a bridge for his toy cars", "Sam, a boy who likes trucks: he builds a bridge for his toy cars"),
    ("A brave owl", "A brave owl"),
    ("the lost duckling - This is a simple but relatable idea that everyone can relate to", "the lost duckling"),
    ("A fox", None),  # too short to be an idea
    ("In the heart of a forest", None),  # a setting, not who the story is about
    ("How can a lazy dog be brave?", None),
    ("1. A lost duckling who survived the storm", "A lost duckling who survived the storm"),
    ("A lost duckling: a giraffe named Lucy who wandered to a meadow", "a giraffe named Lucy who wandered to a meadow"),
    ('"Friends"', None),
    # a small teacher's loops (SmolLM2-135M wrote all of these): a character that is itself, a phrase twice
    ("A tiny ant who is a tiny ant who is a tiny ant", None),
    ("A lion who is a lion and a human", None),
    ("A wise old elephant who helps a giraffe who is a giraffe", None),
    ("A tree, which is a tree with a happy face", None),
    ("A baby owl who is a tiny ant who is a baby owl", None),
    ("A shy giraffe who's a donkey", None),  # an animal that is another animal: a mix-up
    ("A little fox who is a little bear in disguise", None),
    ("A cat who is a detective in the big city", "A cat who is a detective in the big city"),
    ("A dog who is a good friend to everyone", "A dog who is a good friend to everyone"),
    ("A brave and brave girl named Luna with a special shield", "A brave girl named Luna with a special shield"),
    ("A hungry bear who eats apples and eats more apples", "A hungry bear who eats apples and eats more apples"),
    # a title wrapped in a sentence
    ('The hero of a story called "Courage" is a little fox who crosses the river', "a little fox who crosses the river"),
    ("The main character of this tale is a baker who loses her spoon", "a baker who loses her spoon"),
    ('A story titled "The Lost Kite", about a boy who climbs a tree', "a boy who climbs a tree"),
    ("A short story called ‘Snow’ is about a penguin who cannot swim", "a penguin who cannot swim"),
    ("A girl who writes a story about her cat", "A girl who writes a story about her cat"),
    # the teacher talking about its own list (SmolLM2-135M again)
    ("The first character is the hungry bear, who is the main character of the first idea", None),
    ("A hungry bear who's the first character I think of first when I think about kindness", None),
    ("A hungry bear who is the main character. This is a short story about a hungry bear", None),
    ("A farmer who helps his neighbour. This is a story about kindness", "A farmer who helps his neighbour"),
    ("A boy with a bright idea for a kite", "A boy with a bright idea for a kite"),
    ("A girl named Luna who tells the truth. She would always lie to get what she needed",
     "A girl named Luna who tells the truth"),
    ("Mr. Brown, a baker who loses his hat. He finds it", "Mr. Brown, a baker who loses his hat"),
    # the prompt's example openings echoed back unfinished (SmolLM2-135M, 2026-12-03)
    ("A lost duckling who ...", None),
    ("The Three Branches:", None),
    ("One day, there was a man who was very careful", "a man who was very careful"),
    ("Another day, he was careful to hide his kindness", None),  # a heading, its idea (if any) on the lines after it
    ("A shy giraffe who", None),
    ("A curious animal named…", None),
])
def test_topics_are_cleaned_into_phrases_that_follow_write_a_story_about(item, topic):
    assert teacher.clean_topic(item) == topic
    if topic:
        from data.records import prompt_from_topic
        prompt = prompt_from_topic(topic)
        assert "story about the story" not in prompt.lower() and '"' not in prompt


def test_a_looping_story_is_repetitive_and_a_story_with_a_refrain_is_not():
    loop = "The farmer waited for rain. " + "He smiled and smiled, and the flowers smiled. " * 12
    assert teacher.is_repetitive(loop)
    refrain = ("Once upon a time a little hen found a seed. 'Who will help me plant it?' she asked. 'Not I,' said the "
               "dog. 'Not I,' said the cat. So she planted it herself. 'Who will help me cut it?' she asked. 'Not I,' "
               "said the dog. 'Not I,' said the cat. So she cut it herself, and she ate the bread herself too.")
    assert not teacher.is_repetitive(refrain)


def test_a_loop_is_cut_off_when_enough_story_comes_before_it():
    story = LONG_CUT_KEPT + " " + "He smiled and smiled, and the flowers smiled. " * 30
    assert teacher.is_repetitive(story)
    assert teacher.trim_before_loop(story, min_words=60) == LONG_CUT_KEPT + " He smiled and smiled, and the flowers smiled."
    assert teacher.trim_before_loop(story, min_words=200) is None
    assert teacher.trim_before_loop("The farmer waited. " + "He smiled and smiled. " * 30, min_words=10) is None


def test_a_cut_off_story_is_kept_to_its_last_sentence_only_when_long_enough():
    story = "Once upon a time " + "a fox ran. " * 30 + 'He said, "Stop!" Then the'
    assert teacher.trim_to_sentence(story, min_words=60).endswith('He said, "Stop!"')
    assert teacher.trim_to_sentence(story, min_words=200) is None
    assert teacher.trim_to_sentence("no full stop at all " * 30, min_words=10) is None


def test_a_theme_asked_again_is_shown_other_examples():
    """The topic prompt's two example openings depend on the theme, and change when a theme is asked again
    (a small teacher that echoed an example instead of listing ideas would echo the same one again)."""
    template = (ROOT / "data" / "prompts" / "topics.txt").read_text()
    examples = [re.findall(r"^\d\. (.+) who \.\.\.$", teacher.topic_prompt(template, "friendship", 6, attempt), re.M)
                for attempt in range(3)]
    assert all(len(e) == 2 and set(e) <= set(teacher.EXAMPLE_CHARACTERS) for e in examples), examples
    assert examples[0] != examples[1] != examples[2]
    assert teacher.topic_prompt(template, "friendship", 6) == teacher.topic_prompt(template, "friendship", 6, 0)
