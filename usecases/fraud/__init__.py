"""Real-time card-transaction fraud scoring: the demo use case's contract.

Online features come from the Feast FeatureService ``fraud_model_v1`` (usecases/fraud/features.py);
the request carries the entity key and the request-time features declared here.
"""

from shipyard.usecase import DriftScenario, RequestField, UseCase
from usecases.fraud import data as fraud_data

USE_CASE = UseCase(
    name="fraud",
    model_name="fraud",
    entity="customer_id",
    feature_service="fraud_model_v1",
    feature_module="usecases.fraud.features",
    request_fields=(
        RequestField("customer_id", "int", minimum=0),
        RequestField("amount", "float", minimum=0.0, maximum=1_000_000.0),
        RequestField("merchant_category", "category"),
        RequestField("hour", "int", minimum=0, maximum=23),
    ),
    label="is_fraud",
    timestamp="event_timestamp",
    generate=fraud_data.generate_transactions,
    build_features=fraud_data.build_customer_features,
    scenarios={
        name: DriftScenario(name, description, shifted)
        for name, (description, shifted) in fraud_data.SCENARIOS.items()
    },
    # Card testing moves the relation between inputs and label: the champion really degrades on it.
    demo_scenario="fraud_pattern_shift",
)
