"""KServe peers with the framework's default settings: a no-op model, and a plain custom model on sklearn.

    python benchmarks/serving/peer_kserve.py --kind noop|sklearn --port P --model PATH
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kind", choices=["noop", "sklearn"], required=True)
    parser.add_argument("--model", default="")
    parser.add_argument("--http_port", type=int, required=True)
    args, _ = parser.parse_known_args()
    model = NoOp("fraud") if args.kind == "noop" else SklearnPeer("fraud", args.model)
    model.load()
    kserve.ModelServer(http_port=args.http_port, enable_grpc=False, workers=1).start([model])


if __name__ == "__main__":
    main()
