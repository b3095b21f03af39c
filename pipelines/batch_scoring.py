"""Batch scoring pipeline: score a table of customers with the champion (or a pinned version)."""

from kfp import dsl

from components.ops import score_op


@dsl.pipeline(name="shipyard-batch-scoring",
              description="Score a table of entities with the registered model; every row records the model "
                          "version that scored it.")
def batch_scoring_pipeline(customers_path: str, data_snapshot: str = "", model_version: int = 0) -> int:
    """``model_version`` 0 means the version behind the ``champion`` alias when the step runs."""
    scoring = score_op(customers_path=customers_path, data_snapshot=data_snapshot, model_version=model_version)
    scoring.set_display_name("score with the registered model")
    scoring.set_caching_options(False)  # the champion alias and the feature store move between runs
    return scoring.outputs["Output"]
