import numpy as np
import pandas as pd
import pytest

from monitoring.drift import DriftResult, compute_drift

pytestmark = pytest.mark.unit


def sample(rows: int, seed: int, amount_scale: float = 1.0, mix=(0.5, 0.3, 0.2)) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "amount": rng.lognormal(3, 0.6, rows) * amount_scale,
        "hour": rng.integers(0, 24, rows),
        "merchant_category": rng.choice(["grocery", "fuel", "online"], rows, p=list(mix)),
    })


def test_shifted_columns_drift_and_the_others_do_not(tmp_path):
    reference = sample(3_000, 1)
    current = sample(1_500, 2, amount_scale=1.7, mix=(0.2, 0.2, 0.6))
    report = tmp_path / "report.html"
    features, share, dataset_drift = compute_drift(reference, current, ["amount", "hour"],
                                                   ["merchant_category"], report)
    drifted = {f.feature: f.drifted for f in features}
    assert drifted == {"amount": True, "hour": False, "merchant_category": True}
    assert share == pytest.approx(2 / 3)
    assert dataset_drift
    assert report.stat().st_size > 10_000 and "<html" in report.read_text()[:2000].lower()


def test_same_distribution_does_not_drift():
    features, share, dataset_drift = compute_drift(sample(3_000, 1), sample(1_500, 3), ["amount", "hour"],
                                                   ["merchant_category"])
    assert not any(f.drifted for f in features)
    assert share == 0.0 and not dataset_drift
    assert all(f.method and f.threshold > 0 for f in features)


def test_result_survives_json():
    features, share, flag = compute_drift(sample(500, 1), sample(500, 2, 2.0), ["amount"], [])
    result = DriftResult("fraud", 3, 500, 500, features, share, flag, "r.html", 1.0)
    assert DriftResult.from_json(result.to_json()) == result
