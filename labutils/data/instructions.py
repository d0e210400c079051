"""The generated instruction data set (notebook 09): eight tasks with answers a program can check
(arithmetic, unit conversion, word order, field extraction, sentiment ...), in English and Chinese, seeded."""
from __future__ import annotations

import random
import re

from labutils.core.errors import DataError
from labutils.data.packages import SEED
from labutils.data.splits import _dd, _features, _split_items

# ------------------------------------------------------------------------------ instructions
INSTRUCTION_TASKS = ("arithmetic", "unit_conversion", "reverse_words", "sort_words", "extract_field",
                     "sentiment", "uppercase", "count_words")

_WORDS = ("apple river green quick cat dog bread house music light winter garden paper stone blue "
          "happy small window doctor teacher city market water orange silver yellow table yellow road "
          "morning forest bird coffee story simple quiet bright train cloud letter friend little "
          "mountain ocean purple sunny chair pencil rabbit summer tiger violin wooden zebra honey "
          "island jacket kitten lemon mirror night olive planet queen rocket tomato umbrella valley").split()
_WORDS = list(dict.fromkeys(_WORDS))

# unit: (English symbol, Chinese name, dimension, size in the base unit)
_UNITS = {
    "km": ("km", "千米", "length", 1000.0), "m": ("m", "米", "length", 1.0), "cm": ("cm", "厘米", "length", 0.01),
    "kg": ("kg", "千克", "mass", 1000.0), "g": ("g", "克", "mass", 1.0),
    "h": ("h", "小时", "time", 3600.0), "min": ("min", "分钟", "time", 60.0), "s": ("s", "秒", "time", 1.0),
    "l": ("L", "升", "volume", 1.0), "ml": ("mL", "毫升", "volume", 0.001),
}
_CONVERSIONS = [("km", "m"), ("m", "km"), ("m", "cm"), ("cm", "m"), ("kg", "g"), ("g", "kg"),
                ("h", "min"), ("min", "h"), ("min", "s"), ("s", "min"), ("l", "ml"), ("ml", "l")]
_UNIT_BY_TEXT = {v[0].casefold(): k for k, v in _UNITS.items()} | {v[1]: k for k, v in _UNITS.items()}

_POS_EN = ["good", "great", "wonderful", "excellent", "delightful", "lovely", "fantastic", "pleasant"]
_NEG_EN = ["bad", "awful", "terrible", "boring", "disappointing", "horrible", "dreadful", "poor"]
_POS_ZH = ["好", "棒", "出色", "满意", "精彩", "舒服", "漂亮", "可爱"]
_NEG_ZH = ["差", "糟糕", "失望", "无聊", "难吃", "难看", "吵", "贵"]
_NOUNS_EN = ["movie", "book", "meal", "hotel", "concert", "phone", "game", "service", "trip", "song"]
_NOUNS_ZH = ["电影", "书", "饭菜", "酒店", "音乐会", "手机", "游戏", "服务", "旅行", "歌"]

_RECORD_EN = {"name": ["Alice", "Bob", "Carmen", "Dmitri", "Emeka", "Fatima", "Guo", "Hana", "Ivan", "Julia"],
              "age": [str(a) for a in range(18, 80)],
              "city": ["Paris", "Lagos", "Lima", "Osaka", "Cairo", "Oslo", "Quito", "Hanoi", "Perth", "Porto"],
              "job": ["nurse", "pilot", "baker", "farmer", "lawyer", "chemist", "plumber", "editor"],
              "colour": ["red", "green", "blue", "black", "white", "orange", "purple", "grey"]}
_RECORD_ZH = {"姓名": ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨帆", "赵磊", "黄敏"],
              "年龄": [str(a) for a in range(18, 80)],
              "城市": ["北京", "上海", "广州", "成都", "西安", "杭州", "南京", "武汉"],
              "职业": ["医生", "教师", "工程师", "厨师", "律师", "司机", "记者", "农民"]}

_TEMPLATES = {
    ("arithmetic", "en"): ["Compute the result.", "What is the value of this expression?",
                           "Solve the arithmetic problem and give only the number.", "Calculate:"],
    ("arithmetic", "zh"): ["计算下面的算式。", "请给出结果，只写数字。", "这道算术题的答案是多少？"],
    ("unit_conversion", "en"): ["Convert the quantity to the requested unit.", "Do the unit conversion.",
                                "How much is this in the target unit? Answer with a number."],
    ("unit_conversion", "zh"): ["请进行单位换算，只写数字。", "换算下面的量。"],
    ("reverse_words", "en"): ["Reverse the order of the words.", "Write the words in reverse order.",
                              "Say these words backwards, last word first."],
    ("sort_words", "en"): ["Sort the words alphabetically.", "Put these words in alphabetical order.",
                           "Arrange the words from A to Z."],
    ("extract_field", "en"): ["From the record, return the value of the field named on the last line.",
                              "Extract the requested field from the record."],
    ("extract_field", "zh"): ["从记录中取出最后一行指定的字段的值。", "提取记录中要求的字段。"],
    ("sentiment", "en"): ["Is the sentiment of this sentence positive or negative?",
                          "Classify the sentiment as positive or negative.",
                          "Label the review: positive or negative."],
    ("sentiment", "zh"): ["判断这句话的情感是正面还是负面。", "这条评价是正面的还是负面的？"],
    ("uppercase", "en"): ["Convert the text to uppercase.", "Rewrite the sentence in capital letters.",
                          "Make every letter uppercase."],
    ("count_words", "en"): ["How many words are in the text?", "Count the words.",
                            "Give the number of words in the sentence."],
}


def _fmt_num(x: float) -> str:
    if abs(x - round(x)) < 1e-9:
        return str(int(round(x)))
    return f"{x:.4f}".rstrip("0").rstrip(".")


def _make_input(task: str, lang: str, rng: random.Random) -> str:
    if task == "arithmetic":
        op = rng.choice("+-*")
        if op == "*":
            a, b = rng.randint(0, 20), rng.randint(0, 20)
        else:
            a, b = rng.randint(0, 99), rng.randint(0, 99)
            if op == "-" and b > a:
                a, b = b, a
        return f"{a} {op} {b}"
    if task == "unit_conversion":
        src, dst = rng.choice(_CONVERSIONS)
        k = rng.randint(1, 40) / 2                       # 0.5 .. 20 in steps of 0.5
        factor = _UNITS[src][3] / _UNITS[dst][3]
        value = k if factor >= 1 else k / factor        # the bigger-to-smaller direction stays round
        if lang == "zh":
            return f"{_fmt_num(value)} {_UNITS[src][1]}换算成{_UNITS[dst][1]}"
        return f"{_fmt_num(value)} {_UNITS[src][0]} to {_UNITS[dst][0]}"
    if task in ("reverse_words", "sort_words", "count_words", "uppercase"):
        n = rng.randint(3, 8)
        return " ".join(rng.sample(_WORDS, n))
    if task == "extract_field":
        pool = _RECORD_ZH if lang == "zh" else _RECORD_EN
        keys = rng.sample(sorted(pool), rng.randint(2, len(pool)))
        lines = [f"{k}: {rng.choice(pool[k])}" for k in keys]
        ask = rng.choice(keys)
        return "\n".join(lines + [f"要提取的字段：{ask}" if lang == "zh" else f"Field to extract: {ask}"])
    if task == "sentiment":
        positive, negated = rng.random() < 0.5, rng.random() < 0.25
        if lang == "zh":
            adj = rng.choice(_POS_ZH if positive else _NEG_ZH)
            noun = rng.choice(_NOUNS_ZH)
            return f"这个{noun}{'不' if negated else rng.choice(['很', '非常', '真', '太'])}{adj}。"
        adj = rng.choice(_POS_EN if positive else _NEG_EN)
        noun = rng.choice(_NOUNS_EN)
        if negated:
            return rng.choice([f"The {noun} was not {adj}.", f"This {noun} is not {adj} at all."])
        article = "an" if adj[0] in "aeiou" else "a"
        return rng.choice([f"The {noun} was {adj}.", f"What {article} {adj} {noun}!",
                           f"I found the {noun} {adj}.", f"This {noun} is really {adj}."])
    raise DataError(f"Unknown instruction task {task!r}; valid tasks: {', '.join(INSTRUCTION_TASKS)}.")


_NUM = r"-?\d+(?:\.\d+)?"


def solve_instruction(task: str, input: str) -> str:  # noqa: A002 - the column is called input
    """The reference answer of a generated instruction example, computed from its ``input`` alone."""
    text = input.strip()
    try:
        if task == "arithmetic":
            a, op, b = re.fullmatch(rf"({_NUM}) ([-+*]) ({_NUM})", text).groups()
            a, b = float(a), float(b)
            return _fmt_num(a + b if op == "+" else a - b if op == "-" else a * b)
        if task == "unit_conversion":
            m = (re.fullmatch(rf"({_NUM}) (\S+) to (\S+)", text)
                 or re.fullmatch(rf"({_NUM}) (\S+?)换算成(\S+)", text))
            value, src, dst = float(m.group(1)), _UNIT_BY_TEXT[m.group(2).casefold()], \
                _UNIT_BY_TEXT[m.group(3).casefold()]
            if _UNITS[src][2] != _UNITS[dst][2]:
                raise ValueError("different dimensions")
            return _fmt_num(value * _UNITS[src][3] / _UNITS[dst][3])
        if task == "reverse_words":
            return " ".join(reversed(text.split()))
        if task == "sort_words":
            return " ".join(sorted(text.split(), key=str.casefold))
        if task == "uppercase":
            return text.upper()
        if task == "count_words":
            return str(len(text.split()))
        if task == "extract_field":
            *record, ask = text.split("\n")
            field = re.split(r"[:：]", ask, maxsplit=1)[1].strip()
            values = {k.strip(): v.strip() for k, v in (ln.split(":", 1) for ln in record)}
            return values[field]
        if task == "sentiment":
            zh = bool(re.search(r"[\u4e00-\u9fff]", text))
            if zh:
                word = max((w for w in _POS_ZH + _NEG_ZH if w in text), key=len)
                positive = word in _POS_ZH
                negated = f"不{word}" in text
                return ("正面" if positive != negated else "负面")
            words = re.findall(r"[a-z]+", text.casefold())
            hit = [w for w in words if w in _POS_EN or w in _NEG_EN]
            positive = hit[0] in _POS_EN
            negated = "not" in words
            return "positive" if positive != negated else "negative"
    except (AttributeError, KeyError, IndexError, ValueError, StopIteration) as err:
        raise DataError(f"Input {input!r} is not a well-formed {task!r} example ({type(err).__name__}).") from None
    raise DataError(f"Unknown instruction task {task!r}; valid tasks: {', '.join(INSTRUCTION_TASKS)}.")


_LABEL_WORDS = {"positive": 1, "pos": 1, "正面": 1, "积极": 1, "正向": 1,
                "negative": 0, "neg": 0, "负面": 0, "消极": 0, "负向": 0}


def _clean(text: str) -> str:
    text = re.sub(r"\s+", " ", str(text)).strip()
    text = text.strip("\"'“”‘’`")
    return text.rstrip(".。!！").strip()


def check_instruction_answer(task: str, input: str, output: str) -> bool:  # noqa: A002
    """True when ``output`` answers the generated example ``(task, input)`` correctly.

    Lenient in form, strict in substance, so it can score what a small model writes:
    surrounding spaces, quotes and a final full stop are ignored; numeric tasks accept an output
    that contains exactly one number equal to the answer (``"42"``, ``"= 42"``, ``"2500 m"``);
    word tasks compare the word sequence case-insensitively (``uppercase`` is case-sensitive);
    ``sentiment`` accepts positive/negative or 正面/负面 (积极/消极).
    """
    expected = solve_instruction(task, input)
    got = _clean(output)
    if task in ("arithmetic", "unit_conversion", "count_words"):
        numbers = re.findall(r"-?\d+(?:,\d{3})*(?:\.\d+)?", got)
        if len(numbers) != 1:
            return False
        value = float(numbers[0].replace(",", ""))
        return abs(value - float(expected)) <= 1e-6 * max(1.0, abs(float(expected)))
    if task == "sentiment":
        return _LABEL_WORDS.get(got.casefold()) == _LABEL_WORDS[expected]
    if task == "uppercase":
        return got.split() == expected.split()
    if task == "extract_field":
        return got.casefold() == expected.casefold()
    return got.casefold().split() == expected.casefold().split()


def generate_instructions(n: int = 3000, seed: int = SEED) -> list[dict]:
    """``n`` synthetic instruction examples, deterministic in ``seed``; unique by (task, input)."""
    if not isinstance(n, int) or n < 1 or n > 50_000:
        raise DataError(f"n must be an int between 1 and 50000, not {n!r}.")
    rng = random.Random(seed)
    rows, seen = [], set()
    tries = 0
    while len(rows) < n:
        tries += 1
        if tries > 50 * n:
            raise DataError(f"Could not make {n} distinct instruction examples; ask for fewer.")
        task = INSTRUCTION_TASKS[len(rows) % len(INSTRUCTION_TASKS)]      # round robin: balanced tasks
        lang = "zh" if (task, "zh") in _TEMPLATES and rng.random() < 0.3 else "en"
        inp = _make_input(task, lang, rng)
        if (task, inp) in seen:
            continue
        seen.add((task, inp))
        rows.append({"instruction": rng.choice(_TEMPLATES[(task, lang)]), "input": inp,
                     "output": solve_instruction(task, inp), "task": task})
    return rows


def _instructions_dd(n: int = 3000, seed: int = SEED):
    import datasets
    rows = generate_instructions(n, seed)
    parts = _split_items(rows, (0.8, 0.1, 0.1), seed)
    feats = _features(instruction=datasets.Value("string"), input=datasets.Value("string"),
                      output=datasets.Value("string"), task=datasets.Value("string"))
    return _dd(dict(zip(("train", "validation", "test"), parts)), feats)
