"""Notebook 14, personal data (个人身份信息, PII) in text: a tested regular-expression detector and redactor for
e-mail addresses, phone numbers (Chinese mobile, North American, international), Chinese resident ID numbers
(with their ISO 7064 check digit) and US social security numbers; and a labelled, *generated* test set (Chinese
and English sentences, standard and disguised forms, and look-alikes that are not PII) to measure what the
regexes miss and what they flag wrongly. Every value in the set is synthetic.
"""
from __future__ import annotations

import random
import re
from typing import Iterable

from labutils.chapters.responsible.errors import ResponsibleError

_D = r"(?<![\d])"                 # no digit right before
_E = r"(?![\d])"                  # no digit right after
PATTERNS: dict[str, re.Pattern] = {
    "EMAIL": re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
                        r"(?![A-Za-z0-9-])"),
    "CN_ID": re.compile(_D + r"[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]" + _E),
    "PHONE": re.compile(
        _D + r"(?:(?:\+|00)86[-\s]?)?1[3-9]\d[-\s]?\d{4}[-\s]?\d{4}" + _E          # Chinese mobile
        + r"|" + _D + r"(?:\+1[-.\s]?)?\(?[2-9]\d{2}\)?[-.\s]?\d{3}[-.\s]\d{4}" + _E   # North American
        + r"|(?<![\w+])\+(?:[2-9]\d{0,2})[-\s]\d{1,4}(?:[-\s]\d{2,4}){2,3}" + _E),  # other international
    "SSN": re.compile(_D + r"(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}" + _E),
}
_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_ID_CHECK = "10X98765432"


def cn_id_check_digit(first17: str) -> str:
    """The 18th character of a Chinese resident ID (GB 11643, ISO 7064 MOD 11-2) from the first 17 digits."""
    if len(first17) != 17 or not first17.isdigit():
        raise ResponsibleError(f"A resident ID's check digit needs 17 digits, got {first17!r}.")
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS)) % 11]


def valid_cn_id(s: str) -> bool:
    """True when ``s`` has the 18-character ID layout and its check digit is right."""
    return bool(re.fullmatch(r"\d{17}[\dXx]", s)) and cn_id_check_digit(s[:17]) == s[17].upper()


def detect_pii(text: str, kinds: Iterable[str] | None = None) -> list[dict]:
    """Every PII span the regexes find: ``[{"type", "start", "end", "text"}]``, sorted, non-overlapping (the
    earlier, then the longer match wins). A CN_ID match whose check digit is wrong is dropped."""
    if not isinstance(text, str):
        raise ResponsibleError(f"detect_pii needs a string, got {type(text).__name__}.")
    kinds = list(PATTERNS) if kinds is None else list(kinds)
    unknown = [k for k in kinds if k not in PATTERNS]
    if unknown:
        raise ResponsibleError(f"Unknown PII type(s) {unknown}; choose from {', '.join(PATTERNS)}.")
    found = []
    for kind in kinds:
        for m in PATTERNS[kind].finditer(text):
            if kind == "CN_ID" and not valid_cn_id(m.group()):
                continue
            found.append({"type": kind, "start": m.start(), "end": m.end(), "text": m.group()})
    found.sort(key=lambda f: (f["start"], -(f["end"] - f["start"])))
    out, end = [], -1
    for f in found:
        if f["start"] >= end:
            out.append(f)
            end = f["end"]
    return out


def redact(text: str, kinds: Iterable[str] | None = None) -> str:
    """``text`` with every detected span replaced by its type in brackets: ``[EMAIL]``, ``[PHONE]`` ..."""
    out, last = [], 0
    for f in detect_pii(text, kinds):
        out += [text[last:f["start"]], f"[{f['type']}]"]
        last = f["end"]
    return "".join(out + [text[last:]])


# ----------------------------------------------------------------------------- the generated, labelled set
_USERS = ["alice", "bo.wang", "chen_li", "d.okafor", "emma+news", "zhangwei88", "li.na", "m.garcia"]
_DOMAINS = ["example.com", "mail.example.org", "example.cn", "uni.example.edu"]
_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_ZH_DIGITS = str.maketrans("0123456789", "〇一二三四五六七八九")


def _email(rng, variant):
    u, d = rng.choice(_USERS), rng.choice(_DOMAINS)
    if variant == "disguised":
        return f"{u} at {d.replace('.', ' dot ')}"
    return f"{u}@{d}"


def _cn_mobile(rng, variant):
    digits = "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
    if variant == "disguised":
        return rng.choice([digits.translate(_FULLWIDTH), digits.translate(_ZH_DIGITS)])
    return rng.choice([digits, f"{digits[:3]}-{digits[3:7]}-{digits[7:]}", f"+86 {digits[:3]} {digits[3:7]} {digits[7:]}"])


def _us_phone(rng, variant):
    a, b, c = rng.randint(201, 989), rng.randint(200, 999), rng.randint(0, 9999)
    if variant == "disguised":
        return f"{a} {b} {c:04d}".replace(" ", " dash ", 1)
    return rng.choice([f"({a}) {b}-{c:04d}", f"{a}-{b}-{c:04d}", f"+1 {a} {b} {c:04d}", f"{a}.{b}.{c:04d}"])


def _cn_id(rng, variant):
    region = rng.choice(["110101", "310104", "440305", "510107"])
    birth = f"{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    first = region + birth + f"{rng.randint(0, 999):03d}"
    s = first + cn_id_check_digit(first)
    if variant == "disguised":
        return f"{s[:6]} {s[6:14]} {s[14:]}"
    return s


def _ssn(rng, variant):
    s = f"{rng.randint(100, 665)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}"
    return s.replace("-", " ") if variant == "disguised" else s


_MAKERS = {"EMAIL": _email, "PHONE_CN": _cn_mobile, "PHONE_US": _us_phone, "CN_ID": _cn_id, "SSN": _ssn}
_TYPE_OF = {"PHONE_CN": "PHONE", "PHONE_US": "PHONE"}
_TEMPLATES = {
    "EMAIL": [("en", "Please write to {} before Friday."), ("zh", "我的邮箱是{}，有事请联系。")],
    "PHONE_CN": [("zh", "请拨打{}联系客服。"), ("en", "My mobile in Shanghai is {}.")],
    "PHONE_US": [("en", "Call me at {} after six."), ("zh", "他在美国的电话是{}。")],
    "CN_ID": [("zh", "身份证号：{}，请核对。"), ("en", "The applicant's ID number is {}.")],
    "SSN": [("en", "Her social security number is {}."), ("zh", "社会安全号码 {} 已登记。")],
}
_NEGATIVES = [("zh", "订单号 {} 已发货。", lambda r: str(r.randint(10 ** 13, 10 ** 14 - 1))),
              ("en", "The meeting is on {} at room 204.", lambda r: f"2024-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"),
              ("en", "Read John {} again.", lambda r: f"{r.randint(1, 21)}:{r.randint(1, 40)}"),
              ("zh", "价格是 {} 元。", lambda r: f"{r.randint(1, 9999)}.{r.randint(0, 99):02d}"),
              ("en", "Tracking code {}.", lambda r: "".join(r.choice("0123456789") for _ in range(18))),
              ("en", "Version {} fixes the bug.", lambda r: f"{r.randint(1, 9)}.{r.randint(0, 20)}.{r.randint(0, 99)}")]


def generate_pii_set(n_per_type: int = 20, disguised_share: float = 0.25, n_negative: int = 20,
                     seed: int = 0) -> list[dict]:
    """A labelled set of synthetic sentences: ``{"text", "lang", "entities": [{"type", "start", "end",
    "variant"}]}``. Each PII kind appears ``n_per_type`` times in Chinese and English templates; a share are
    *disguised* (``at``/``dot`` e-mails, full-width or Chinese-numeral digits, spaced IDs) as people write to dodge
    filters. ``n_negative`` sentences hold look-alikes (order numbers, dates, prices, versions) and no PII.
    A random 18-digit tracking code passes the ID check digit about one time in eleven: then it is labelled CN_ID."""
    if n_per_type < 0 or n_negative < 0 or not 0 <= disguised_share <= 1:
        raise ResponsibleError("n_per_type and n_negative must be ≥ 0 and disguised_share in [0, 1].")
    rng = random.Random(seed)
    rows = []
    for kind, make in _MAKERS.items():
        for i in range(n_per_type):
            variant = "disguised" if rng.random() < disguised_share else "standard"
            value = make(rng, variant)
            lang, tmpl = _TEMPLATES[kind][i % len(_TEMPLATES[kind])]
            start = tmpl.index("{}")
            rows.append({"text": tmpl.format(value), "lang": lang, "entities": [
                {"type": _TYPE_OF.get(kind, kind), "kind": kind, "start": start, "end": start + len(value),
                 "variant": variant}]})
    for i in range(n_negative):
        lang, tmpl, make = _NEGATIVES[i % len(_NEGATIVES)]
        value = make(rng)
        ents = []
        if valid_cn_id(value):  # honest labels: a look-alike that happens to be a valid ID layout
            start = tmpl.index("{}")
            ents = [{"type": "CN_ID", "kind": "CN_ID", "start": start, "end": start + len(value), "variant": "standard"}]
        rows.append({"text": tmpl.format(value), "lang": lang, "entities": ents})
    rng.shuffle(rows)
    return rows


def evaluate_detector(rows: list[dict], detector=detect_pii) -> dict:
    """Precision and recall of ``detector`` on a labelled set; a gold span counts as found when a predicted span
    of the same type covers it exactly. Returns overall and per-type figures, recall per variant, and the lists of
    ``misses`` (gold spans not found) and ``false_positives`` (predicted spans matching no gold span)."""
    tp, misses, fps = 0, [], []
    by_type: dict[str, list[int]] = {}
    by_variant: dict[str, list[int]] = {}
    n_pred = 0
    for r in rows:
        pred = detector(r["text"])
        n_pred += len(pred)
        gold = {(e["type"], e["start"], e["end"]) for e in r["entities"]}
        for p in pred:
            if (p["type"], p["start"], p["end"]) not in gold:
                fps.append({"text": r["text"], "type": p["type"], "found": p["text"]})
        hits = {(p["type"], p["start"], p["end"]) for p in pred}
        for e in r["entities"]:
            ok = (e["type"], e["start"], e["end"]) in hits
            tp += ok
            by_type.setdefault(e["kind"], [0, 0])[0] += ok
            by_type[e["kind"]][1] += 1
            by_variant.setdefault(e["variant"], [0, 0])[0] += ok
            by_variant[e["variant"]][1] += 1
            if not ok:
                misses.append({"text": r["text"], "kind": e["kind"], "variant": e["variant"],
                               "value": r["text"][e["start"]:e["end"]]})
    n_gold = sum(len(r["entities"]) for r in rows)
    return {"precision": tp / n_pred if n_pred else 1.0, "recall": tp / n_gold if n_gold else 1.0,
            "n_gold": n_gold, "n_pred": n_pred, "n_missed": len(misses), "n_false_positive": len(fps),
            "recall_by_type": {k: v[0] / v[1] for k, v in by_type.items()},
            "recall_by_variant": {k: v[0] / v[1] for k, v in by_variant.items()},
            "misses": misses, "false_positives": fps}


def redaction_html(text: str, kinds: Iterable[str] | None = None) -> str:
    """The widget's view: the text with each detected span highlighted, and the redacted text below."""
    import html
    parts, last = [], 0
    for f in detect_pii(text, kinds):
        parts += [html.escape(text[last:f["start"]]),
                  f"<mark title='{f['type']}' style='background:#ffd8a8'>{html.escape(f['text'])}"
                  f"<sub>{f['type']}</sub></mark>"]
        last = f["end"]
    parts.append(html.escape(text[last:]))
    return (f"<div style='line-height:1.8'>{''.join(parts)}</div>"
            f"<div style='margin-top:6px'><b>redacted:</b> <code>{html.escape(redact(text, kinds))}</code></div>")
