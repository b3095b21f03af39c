"""The registered sklearn model in its fastest form that gives the same probabilities.

At start-up the pipeline is converted to ONNX (skl2onnx) and served with ONNX Runtime only when it
matches sklearn within ``TOLERANCE`` on the registered reference rows; otherwise sklearn serves it,
with a log line saying why. Both run single-threaded: one-row predictions pay for thread start-up
(HistGradientBoosting's OpenMP threads made one-row predict ~10x slower), not for arithmetic.
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

    def __init__(self, model, inputs: ModelInputs):
        self.model, self.inputs = model, inputs

    def predict(self, columns: dict[str, Any]) -> np.ndarray:
        return self.model.predict_proba(frame_from_columns(self.inputs, columns))[:, 1]


class OnnxScorer:
    kind = "onnx"

    def __init__(self, onnx_bytes: bytes, inputs: ModelInputs):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        self.session = onnxruntime.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
        self.inputs = inputs
        outputs = [o.name for o in self.session.get_outputs()]
        self.output = "probabilities" if "probabilities" in outputs else outputs[-1]

    def predict(self, columns: dict[str, Any]) -> np.ndarray:
        feed = {}
        for name in self.inputs.columns:
            dtype = object if name in self.inputs.categorical else np.float32
            feed[name] = np.asarray(columns[name], dtype=dtype).reshape(-1, 1)
        return self.session.run([self.output], feed)[0][:, 1].astype(np.float64)


def convert_to_onnx(model, inputs: ModelInputs) -> bytes:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    initial_types = [(name, StringTensorType([None, 1]) if name in inputs.categorical else FloatTensorType([None, 1]))
                     for name in inputs.columns]
    # zipmap=False: probabilities as one tensor. ONNX Runtime's tree ensembles take float32 inputs, so
    # the conversion is accepted only after fastest_scorer compares it with sklearn.
    onnx_model = to_onnx(model, initial_types=initial_types, options={"zipmap": False},
                         target_opset={"": 17, "ai.onnx.ml": 3})
    return onnx_model.SerializeToString()


def max_difference(a: SklearnScorer | OnnxScorer, b: SklearnScorer | OnnxScorer, rows: pd.DataFrame) -> float:
    """Largest probability difference on ``rows``, scored in batches and one row at a time."""
    columns = {name: rows[name].tolist() for name in a.inputs.columns}
    batch = float(np.max(np.abs(a.predict(columns) - b.predict(columns))))
    single = max(float(abs(a.predict({k: [v[i]] for k, v in columns.items()})[0] -
                           b.predict({k: [v[i]] for k, v in columns.items()})[0]))
                 for i in range(min(len(rows), 50)))
    return max(batch, single)


def fastest_scorer(model, inputs: ModelInputs, reference_rows: pd.DataFrame) -> SklearnScorer | OnnxScorer:
    """ONNX Runtime when it reproduces sklearn on the reference rows, else sklearn itself."""
    sklearn_scorer = SklearnScorer(model, inputs)
    if reference_rows.empty:
        logger.warning("no reference rows to verify an ONNX conversion against: serving with sklearn")
        return sklearn_scorer
    try:
        onnx_scorer = OnnxScorer(convert_to_onnx(model, inputs), inputs)
        difference = max_difference(sklearn_scorer, onnx_scorer, reference_rows)
    except Exception as exc:  # any converter gap (an unsupported estimator) means: keep sklearn
        logger.warning("ONNX conversion failed (%s: %s): serving with sklearn", type(exc).__name__, exc)
        return sklearn_scorer
    if not difference <= TOLERANCE:
        logger.warning("ONNX probabilities differ from sklearn by %.3g > %g: serving with sklearn",
                       difference, TOLERANCE)
        return sklearn_scorer
    logger.info("serving with ONNX Runtime (max difference from sklearn %.3g on %d rows)",
                difference, len(reference_rows))
    return onnx_scorer
