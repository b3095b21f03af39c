"""The registered sklearn model in its fastest form that gives the same predictions.

A classifier's prediction is the positive class's probability; a regressor's (``regression=True``,
from the use case's contract) its predicted value. At start-up the pipeline is converted to ONNX
(skl2onnx) and served with ONNX Runtime only when it matches sklearn within ``TOLERANCE`` on the
registered reference rows; otherwise sklearn serves it, with a log line saying why. The tolerance is
relative to the value's size once it exceeds 1: a probability must match within 1e-6, a regressor's
value (minutes, euros) within 1e-6 of itself, which float32 arithmetic in ONNX Runtime's tree
ensembles can meet while an absolute 1e-6 on a value near 100 cannot. Both run single-threaded:
one-row predictions pay for thread start-up (HistGradientBoosting's OpenMP threads made one-row
predict ~10x slower), not for arithmetic.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

TOLERANCE = 1e-6
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelInputs:
    """Model input columns (signature order) and which of them are strings (categories)."""

    columns: list[str]
    categorical: frozenset[str]


def frame_from_columns(inputs: ModelInputs, columns: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame({name: columns[name] for name in inputs.columns})


class SklearnScorer:
    kind = "sklearn"

    def __init__(self, model, inputs: ModelInputs, regression: bool = False):
        self.model, self.inputs, self.regression = model, inputs, regression

    def predict(self, columns: dict[str, Any]) -> np.ndarray:
        frame = frame_from_columns(self.inputs, columns)
        if self.regression:
            return np.asarray(self.model.predict(frame), dtype=np.float64)
        return self.model.predict_proba(frame)[:, 1]


class OnnxScorer:
    kind = "onnx"

    def __init__(self, onnx_bytes: bytes, inputs: ModelInputs, regression: bool = False):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        self.session = onnxruntime.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
        self.inputs, self.regression = inputs, regression
        outputs = [o.name for o in self.session.get_outputs()]
        # skl2onnx names a classifier's probabilities "probabilities" and a regressor's single
        # output "variable" (shape [n, 1]).
        wanted = "variable" if regression else "probabilities"
        self.output = wanted if wanted in outputs else outputs[-1]
        self.column = 0 if regression else 1

    def predict(self, columns: dict[str, Any]) -> np.ndarray:
        feed = {}
        for name in self.inputs.columns:
            dtype = object if name in self.inputs.categorical else np.float32
            feed[name] = np.asarray(columns[name], dtype=dtype).reshape(-1, 1)
        result = self.session.run([self.output], feed)[0]
        return (result.reshape(-1) if result.ndim == 1 else result[:, self.column]).astype(np.float64)


def convert_to_onnx(model, inputs: ModelInputs, regression: bool = False) -> bytes:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    initial_types = [(name, StringTensorType([None, 1]) if name in inputs.categorical else FloatTensorType([None, 1]))
                     for name in inputs.columns]
    # zipmap=False: a classifier's probabilities as one tensor (a regressor has no such option). ONNX
    # Runtime's tree ensembles take float32 inputs, so the conversion is accepted only after
    # fastest_scorer compares it with sklearn.
    onnx_model = to_onnx(model, initial_types=initial_types, options={} if regression else {"zipmap": False},
                         target_opset={"": 17, "ai.onnx.ml": 3})
    return onnx_model.SerializeToString()


def scaled_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Largest ``|a - b|``, divided by ``|a|`` where ``|a|`` exceeds 1 (see the module docstring)."""
    return float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(a))))


def max_difference(a: SklearnScorer | OnnxScorer, b: SklearnScorer | OnnxScorer, rows: pd.DataFrame) -> float:
    """Largest (scaled) prediction difference on ``rows``, scored in batches and one row at a time."""
    columns = {name: rows[name].tolist() for name in a.inputs.columns}
    batch = scaled_difference(a.predict(columns), b.predict(columns))
    single = max(scaled_difference(a.predict({k: [v[i]] for k, v in columns.items()}),
                                   b.predict({k: [v[i]] for k, v in columns.items()}))
                 for i in range(min(len(rows), 50)))
    return max(batch, single)


def fastest_scorer(model, inputs: ModelInputs, reference_rows: pd.DataFrame,
                   regression: bool = False) -> SklearnScorer | OnnxScorer:
    """ONNX Runtime when it reproduces sklearn on the reference rows, else sklearn itself."""
    sklearn_scorer = SklearnScorer(model, inputs, regression)
    if reference_rows.empty:
        logger.warning("no reference rows to verify an ONNX conversion against: serving with sklearn")
        return sklearn_scorer
    try:
        onnx_scorer = OnnxScorer(convert_to_onnx(model, inputs, regression), inputs, regression)
        difference = max_difference(sklearn_scorer, onnx_scorer, reference_rows)
    except Exception as exc:  # any converter gap (an unsupported estimator) means: keep sklearn
        logger.warning("ONNX conversion failed (%s: %s): serving with sklearn", type(exc).__name__, exc)
        return sklearn_scorer
    if not difference <= TOLERANCE:
        logger.warning("ONNX predictions differ from sklearn by %.3g > %g: serving with sklearn",
                       difference, TOLERANCE)
        return sklearn_scorer
    logger.info("serving with ONNX Runtime (max difference from sklearn %.3g on %d rows)",
                difference, len(reference_rows))
    return onnx_scorer
