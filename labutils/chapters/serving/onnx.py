"""ONNX export, parity and ONNX Runtime sessions (notebooks 11 and 12).

* :func:`export_onnx` — ``torch.onnx.export(..., dynamo=True)`` with dynamic batch / sequence axes; the
  only exporter that works with transformers 5 models. Works for the MiniLM classifier
  (``input_ids`` + ``attention_mask`` → ``logits``) and for the course GPT (``input_ids`` → ``logits``).
* :func:`parity` — max absolute difference between eager PyTorch and ONNX Runtime on the same inputs.
* :func:`ort_session` — an ``InferenceSession`` with thread counts and graph optimisation level set.
* :func:`quantize_dynamic_int8` — ONNX Runtime dynamic int8 that works on the dynamo graph: the graph's stale
  ``value_info`` is cleared (else ``ShapeInferenceError … (384) vs (2)``) and the external weights are inlined.
* :func:`ort_classifier` — an ORT session wrapped so it is called like a transformers classifier.
* :func:`quantize_static_int8` — ONNX Runtime static int8 (QDQ) with activation ranges from a calibration set.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from labutils.core.errors import LabError


class ServingError(LabError):
    """An export, runtime or serving setting that cannot work (notebook 12); one sentence."""


OPT_LEVELS = ("disable", "basic", "extended", "all")


class _LogitsOnly:
    """Wrap a transformers model so that ``forward(*tensors)`` returns the logits tensor only."""

    def __new__(cls, model, input_names):
        import torch

        class Wrapper(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.model = model

            def forward(self, input_ids, attention_mask=None):
                kw = {"input_ids": input_ids}
                if attention_mask is not None:
                    kw["attention_mask"] = attention_mask
                out = self.model(**kw)
                return out.logits if hasattr(out, "logits") else (out[0] if isinstance(out, (tuple, list)) else out)

        return Wrapper()


def _as_inputs(example_inputs: Any) -> dict:
    if hasattr(example_inputs, "keys"):
        return {k: example_inputs[k] for k in example_inputs.keys()}
    if isinstance(example_inputs, (tuple, list)):
        names = ["input_ids", "attention_mask", "token_type_ids"][: len(example_inputs)]
        return dict(zip(names, example_inputs))
    return {"input_ids": example_inputs}


def export_onnx(model, example_inputs: Any, path: str | Path, input_names: Sequence[str] | None = None,
                dynamic_batch: bool = True, dynamic_seq: bool = True, opset: int | None = None,
                external_data: bool = True) -> Path:
    """Export ``model`` (a transformers classifier or causal LM) to ``path`` with the dynamo exporter.

    ``example_inputs``: a dict (e.g. a tokenizer's output) or a tensor of ``input_ids``; only the names in
    ``input_names`` (default: ``input_ids`` and, when given, ``attention_mask``) become graph inputs. The output is
    named ``logits``; batch and sequence axes are dynamic unless switched off. Returns the ``.onnx`` path
    (the weights go into ``<path>.data`` next to it unless ``external_data=False``).
    """
    import torch

    path = Path(path)
    feeds = _as_inputs(example_inputs)
    if input_names is None:
        input_names = [n for n in ("input_ids", "attention_mask") if n in feeds]
    if list(input_names) not in (["input_ids"], ["input_ids", "attention_mask"]):
        raise ServingError("input_names must be ['input_ids'] or ['input_ids', 'attention_mask'].")
    missing = [n for n in input_names if n not in feeds]
    if missing:
        raise ServingError(f"The example inputs lack {missing}; pass a dict with keys {list(input_names)}.")
    args = tuple(feeds[n] for n in input_names)
    wrapper = _LogitsOnly(model, list(input_names)).eval()
    B, S = torch.export.Dim("batch", min=1, max=1024), torch.export.Dim("seq", min=1, max=4096)
    dims = {}
    if dynamic_batch:
        dims[0] = B
    if dynamic_seq:
        dims[1] = S
    dynamic_shapes = {n: dict(dims) for n in input_names} if dims else None
    path.parent.mkdir(parents=True, exist_ok=True)
    kw: dict[str, Any] = {}
    if opset is not None:
        kw["opset_version"] = opset
    was_training = model.training
    model.eval()
    import logging
    import warnings
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(wrapper, args, str(path), dynamo=True, input_names=list(input_names),
                              output_names=["logits"], dynamic_shapes=dynamic_shapes,
                              external_data=external_data, verbose=False, **kw)
    finally:
        model.train(was_training)
    return path


def onnx_size_mb(path: str | Path) -> float:
    """Size on disk of an ONNX model including its external ``.data`` file, in MB (10^6 bytes)."""
    path = Path(path)
    total = path.stat().st_size
    data = path.with_name(path.name + ".data")
    if data.exists():
        total += data.stat().st_size
    return total / 1e6


def ort_session(path: str | Path, intra_threads: int | None = None, inter_threads: int = 1,
                opt_level: str = "all", sequential: bool = True, spin: bool | None = None):
    """An ONNX Runtime CPU ``InferenceSession`` with thread counts and graph optimisation level set.

    ``opt_level``: one of ``disable``, ``basic``, ``extended``, ``all``. ``intra_threads=None`` lets ORT pick
    (one per physical core). ``spin=False`` stops idle threads from spinning (kinder on a shared machine).
    """
    import onnxruntime as ort

    if opt_level not in OPT_LEVELS:
        raise ServingError(f"Unknown graph optimisation level {opt_level!r}; choose one of: {', '.join(OPT_LEVELS)}.")
    path = Path(path)
    if not path.exists():
        raise ServingError(f"No ONNX model at {path}; export one first with export_onnx(...).")
    so = ort.SessionOptions()
    so.graph_optimization_level = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[opt_level]
    if intra_threads:
        so.intra_op_num_threads = int(intra_threads)
    so.inter_op_num_threads = int(inter_threads)
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL if sequential else ort.ExecutionMode.ORT_PARALLEL
    if spin is not None:
        so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])


def ort_feeds(session, inputs: Mapping[str, Any]) -> dict:
    """The numpy int64 feed dict for ``session`` from a tokenizer output (torch tensors or arrays)."""
    import numpy as np

    names = [i.name for i in session.get_inputs()]
    feeds = {}
    for n in names:
        if n not in inputs:
            raise ServingError(f"The session needs input {n!r}; the inputs have {sorted(inputs)}.")
        v = inputs[n]
        v = v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)
        feeds[n] = v.astype(np.int64, copy=False)
    return feeds


def ort_run(session, inputs: Mapping[str, Any]):
    """Run ``session`` on a tokenizer output; returns the logits as a numpy array."""
    return session.run(["logits"], ort_feeds(session, inputs))[0]


def eager_logits(model, inputs: Mapping[str, Any], input_names: Sequence[str] | None = None):
    """Eager PyTorch logits (numpy) for the same inputs an exported graph takes."""
    import torch

    feeds = _as_inputs(inputs)
    names = input_names or [n for n in ("input_ids", "attention_mask") if n in feeds]
    with torch.no_grad():
        out = model(**{n: feeds[n] for n in names})
    return (out.logits if hasattr(out, "logits") else out[0]).float().cpu().numpy()


def parity(model, session, inputs: Mapping[str, Any]) -> float:
    """Max absolute difference between eager and ONNX Runtime logits on ``inputs`` (masked positions included)."""
    import numpy as np

    names = [i.name for i in session.get_inputs()]
    a = eager_logits(model, inputs, names)
    b = ort_run(session, _as_inputs(inputs))
    if a.shape != b.shape:
        raise ServingError(f"Eager logits have shape {a.shape} but ONNX Runtime gives {b.shape}.")
    return float(np.max(np.abs(a - b)))


def inline_and_clean(src: str | Path, dst: str | Path) -> Path:
    """Load ``src`` with its external weights, clear the stale ``graph.value_info`` that the dynamo exporter
    leaves, and save one self-contained file at ``dst`` (the form ONNX Runtime's quantizer accepts)."""
    import onnx

    m = onnx.load(str(src), load_external_data=True)
    del m.graph.value_info[:]
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(m, str(dst), save_as_external_data=False)
    return dst


def quantize_dynamic_int8(src: str | Path, dst: str | Path, per_channel: bool = False,
                          op_types: Sequence[str] | None = ("MatMul", "Gemm"), embeddings: bool = True) -> Path:
    """ONNX Runtime dynamic int8 (weights int8 offline, activations quantized on the fly) of ``src`` into ``dst``.

    Works on the dynamo-exported graph: the stale ``value_info`` is cleared and the weights inlined first
    (:func:`inline_and_clean`). ``embeddings=True`` also quantizes ``Gather`` (the token embedding, most of
    MiniLM's bytes). Returns ``dst``, a single self-contained ``.onnx`` file.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src, dst = Path(src), Path(dst)
    if not src.exists():
        raise ServingError(f"No ONNX model at {src}; export one first with export_onnx(...).")
    dst.parent.mkdir(parents=True, exist_ok=True)
    clean = dst.with_name(dst.stem + ".clean.onnx")
    inline_and_clean(src, clean)
    ops = list(op_types) if op_types else None
    if ops is not None and embeddings and "Gather" not in ops:
        ops.append("Gather")
    with _quiet_quantizer(clean):
        quantize_dynamic(str(clean), str(dst), weight_type=QuantType.QInt8, per_channel=per_channel,
                         op_types_to_quantize=ops, extra_options={"DefaultTensorType": 1})
    return dst


@contextlib.contextmanager
def _quiet_quantizer(clean: Path):
    """ORT's quantizers log every node at INFO on the root logger: raise it to ERROR for the call, then restore
    it and remove the temporary inlined copy ``clean`` (and its ``.data``), also when the quantizer fails."""
    import logging
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)
        for p in (clean, clean.with_name(clean.name + ".data")):
            if p.exists():
                os.remove(p)


class _FeedReader:
    """ONNX Runtime's ``CalibrationDataReader`` protocol over a list of feed dicts."""

    def __init__(self, feeds):
        self._it = iter(list(feeds))

    def get_next(self):
        return next(self._it, None)

    def rewind(self):  # pragma: no cover - ORT calls it only for some calibrators
        pass


def quantize_static_int8(src: str | Path, dst: str | Path, calibration: Sequence[Mapping[str, Any]],
                         per_channel: bool = True, op_types: Sequence[str] = ("MatMul", "Gemm")) -> Path:
    """ONNX Runtime *static* int8 (QDQ format): weights int8 offline and the activations' scales fixed in advance
    from a calibration set (min/max of each activation over ``calibration``, a list of tokenizer outputs).

    Static quantization saves the run-time min/max of dynamic quantization but is only as good as the calibration
    set is typical of real inputs. Returns ``dst`` (one self-contained file)."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    src, dst = Path(src), Path(dst)
    if not src.exists():
        raise ServingError(f"No ONNX model at {src}; export one first with export_onnx(...).")
    if not calibration:
        raise ServingError("Static quantization needs a non-empty calibration set (a list of tokenized batches).")
    dst.parent.mkdir(parents=True, exist_ok=True)
    clean = dst.with_name(dst.stem + ".clean.onnx")
    inline_and_clean(src, clean)
    import onnxruntime as ort
    names = [i.name for i in ort.InferenceSession(str(clean), providers=["CPUExecutionProvider"]).get_inputs()]
    feeds = []
    for batch in calibration:
        missing = [n for n in names if n not in batch]
        if missing:
            raise ServingError(f"A calibration batch lacks {missing}; the model needs {names}.")
        feeds.append({n: (batch[n].detach().cpu().numpy() if hasattr(batch[n], "detach") else batch[n]).astype("int64")
                      for n in names})
    with _quiet_quantizer(clean):
        quantize_static(str(clean), str(dst), _FeedReader(feeds), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=per_channel,
                        op_types_to_quantize=list(op_types), calibrate_method=CalibrationMethod.MinMax,
                        extra_options={"DefaultTensorType": 1})
    return dst


def ort_classifier(session_or_path, config=None, **session_kw):
    """Wrap an ONNX Runtime classifier so it is called like a transformers one: ``m(input_ids=..., attention_mask=...)``
    returns an object with ``.logits`` (a torch tensor). It has ``config`` (for label names and the pad id), an empty
    parameter (so code asking for the model's device works) and ``onnx_path`` (for its size on disk); the
    course's evaluation and timing helpers then treat eager and ORT models alike (notebooks 11, 12)."""
    import torch
    from transformers.modeling_outputs import SequenceClassifierOutput

    session = ort_session(session_or_path, **session_kw) if isinstance(session_or_path, (str, Path)) else session_or_path

    class OrtClassifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.session, self.config = session, config
            self.onnx_path = Path(session_or_path) if isinstance(session_or_path, (str, Path)) else None
            self._device_anchor = torch.nn.Parameter(torch.zeros(0), requires_grad=False)

        def forward(self, input_ids=None, attention_mask=None, **unused):
            feeds = {"input_ids": input_ids}
            if attention_mask is not None:
                feeds["attention_mask"] = attention_mask
            return SequenceClassifierOutput(logits=torch.from_numpy(ort_run(self.session, feeds)))

    return OrtClassifier().eval()


def tiny_classifier(num_labels: int = 2, seed: int = 0):
    """A tiny random BERT classifier + the MiniLM tokenizer (for tests and smoke runs): seconds to build."""
    import torch
    from transformers import BertForSequenceClassification

    from labutils.models.configs import tiny_bert_config
    from labutils.models.encoder import load_tokenizer

    tok = load_tokenizer()
    torch.manual_seed(seed)
    cfg = tiny_bert_config("nano", vocab_size=tok.vocab_size, pad_token_id=tok.pad_token_id or 0, dropout=0.0,
                           max_position_embeddings=512, num_labels=num_labels)
    return BertForSequenceClassification(cfg).eval(), tok
