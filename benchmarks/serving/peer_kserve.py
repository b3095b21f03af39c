"""KServe peers: a no-op model, a plain custom model on sklearn, and one on the same ONNX form Shipyard serves.

    python benchmarks/serving/peer_kserve.py --kind noop|sklearn|onnx --http_port P [--model PATH] [--quiet]

``--quiet`` turns KServe's per-request logging off (latency logging, the timing trace line and
uvicorn's access log): KServe's ceiling without the logging Shipyard also turns off.
"""

from __future__ import annotations

import argparse

import kserve
import pandas as pd


class NoOp(kserve.Model):
    """Answers without looking at the request: the framework's own ceiling."""

    def load(self) -> bool:
        self.ready = True
        return True

    def predict(self, payload, headers=None, response_headers=None):
        return {"predictions": [0.0]}


class SklearnPeer(kserve.Model):
    """What a user writes first: instances -> DataFrame -> predict_proba."""

    def __init__(self, name: str, path: str):
        super().__init__(name)
        self.path = path

    def load(self) -> bool:
        from threadpoolctl import threadpool_limits

        from components.train import load_model

        self.model = load_model(self.path)
        threadpool_limits(limits=1)  # fair to the peer: one-row HistGradientBoosting with OpenMP is ~10x slower
        self.ready = True
        return True

    def predict(self, payload, headers=None, response_headers=None):
        frame = pd.DataFrame(payload["instances"])
        return {"predictions": self.model.predict_proba(frame)[:, 1].tolist()}


class OnnxPeer(kserve.Model):
    """The registered pipeline in the ONNX form Shipyard's predictor uses; requests carry every feature."""

    def __init__(self, name: str, path: str):
        super().__init__(name)
        self.path = path

    def load(self) -> bool:
        from components.serving.model_runtime import ModelInputs, OnnxScorer, convert_to_onnx
        from components.train import load_model

        model = load_model(self.path)
        columns = list(model.feature_names_in_)
        categorical = frozenset(c for c in columns if c == "merchant_category")
        self.inputs = ModelInputs(columns, categorical)
        self.scorer = OnnxScorer(convert_to_onnx(model, self.inputs), self.inputs)
        self.ready = True
        return True

    def predict(self, payload, headers=None, response_headers=None):
        instances = payload["instances"]
        columns = {name: [row[name] for row in instances] for name in self.inputs.columns}
        return {"predictions": self.scorer.predict(columns).tolist()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kind", choices=["noop", "sklearn", "onnx"], required=True)
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--model", default="")
    parser.add_argument("--http_port", type=int, required=True)
    args, _ = parser.parse_known_args()
    kinds = {"noop": lambda: NoOp("fraud"), "sklearn": lambda: SklearnPeer("fraud", args.model),
             "onnx": lambda: OnnxPeer("fraud", args.model)}
    model = kinds[args.kind]()
    model.load()
    server = kserve.ModelServer(http_port=args.http_port, enable_grpc=False, workers=1,
                                enable_latency_logging=not args.quiet)
    if args.quiet:
        import logging

        logging.getLogger("uvicorn.access").disabled = True
        logging.getLogger("kserve.trace").disabled = True
    server.start([model])


if __name__ == "__main__":
    main()
