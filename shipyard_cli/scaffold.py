"""``shipyard new-use-case NAME``: a use-case package that passes the platform's contract checks as written.

The package holds the three things a use case owns: its contract (``__init__.py``), a seeded
generator stub with one named drift scenario (``data.py``) and its Feast definitions
(``features.py``). The team replaces the generator with its data source and grows the features.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path
from string import Template

NAME = re.compile(r"^[a-z][a-z0-9_]{1,30}$")

INIT = Template('''"""The $name use case: its contract with the platform.

Online features come from the Feast FeatureService ``${name}_model_v1`` (features.py); the request
carries the entity key and the request-time fields declared here.
"""

from shipyard.usecase import DriftScenario, RequestField, UseCase

from . import data

USE_CASE = UseCase(
    name="$name",
    model_name="$name",
    entity="$entity",
    feature_service="${name}_model_v1",
    feature_module=f"{__name__}.features",
    request_fields=(
        RequestField("$entity", "int", minimum=0),
        RequestField("value", "float", minimum=0.0, maximum=1_000_000.0),
        RequestField("channel", "category"),
    ),
    label="label",
    timestamp="event_timestamp",
    event_id="event_id",  # the generated events' id column: joins an event to its late label
    generate=data.generate_events,
    build_features=data.build_entity_features,
    scenarios={name: DriftScenario(name, text, shifted) for name, (text, shifted) in data.SCENARIOS.items()},
)
''')

DATA = Template('''"""Seeded generator stub of the $name use case: replace it with the real data source.

The same seed gives the same events; a scenario changes only the traffic after the baseline period.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

START = pd.Timestamp("2026-09-01", tz="UTC")
BASELINE_DAYS = 42
TRAFFIC_DAYS = 7
ENTITIES = 1000
CHANNELS = ["web", "app", "store"]
SCENARIOS = {"value_shift": ("Every value is 60% higher.", ("value",))}


def generate_events(rows: int, seed: int, scenario: str | None = None) -> pd.DataFrame:
    """Labelled events of the baseline period, or post-baseline traffic ("normal" or a scenario).

    Each event has its own ``event_id`` and the time its label becomes known (``label_available_at``).
    """
    if scenario not in (None, "normal", *SCENARIOS):
        raise ValueError(f"unknown drift scenario {scenario!r}; known: normal, {', '.join(SCENARIOS)}")
    rng = np.random.default_rng([seed, zlib.crc32((scenario or "baseline").encode())])
    start, days = (START, BASELINE_DAYS) if scenario is None else (
        START + pd.Timedelta(days=BASELINE_DAYS), TRAFFIC_DAYS)
    value = rng.lognormal(3.0, 0.6, rows) * (1.6 if scenario == "value_shift" else 1.0)
    channel = rng.choice(len(CHANNELS), rows)
    odds = np.exp((np.log(value) - 3.4) * 2.0 + (channel == 2) * 0.8 - 2.5)
    ts = start + pd.to_timedelta(rng.integers(0, days * 86_400, rows), unit="s")
    return pd.DataFrame({
        "event_id": [f"e{seed}-{scenario or 'baseline'}-{i}" for i in range(rows)],
        "$entity": rng.integers(1, ENTITIES + 1, rows).astype("int64"),
        "event_timestamp": ts,
        "value": np.round(value, 2),
        "channel": np.array(CHANNELS)[channel],
        "label": (rng.random(rows) < odds / (1 + odds)).astype("int64"),
        "label_available_at": ts + pd.Timedelta(days=1),
    }).sort_values("event_timestamp", kind="stable").reset_index(drop=True)


def build_entity_features(events: pd.DataFrame) -> pd.DataFrame:
    """Per entity and day: events and mean value to date, stamped at the end of the day."""
    daily = (events.assign(day=events["event_timestamp"].dt.floor("D"))
             .groupby(["$entity", "day"], as_index=False)
             .agg(events=("value", "size"), total=("value", "sum"))
             .sort_values(["$entity", "day"]))
    daily["events_to_date"] = daily.groupby("$entity")["events"].cumsum().astype("int64")
    daily["mean_value_to_date"] = (daily.groupby("$entity")["total"].cumsum() / daily["events_to_date"]).round(2)
    daily["event_timestamp"] = daily["day"] + pd.Timedelta(hours=23, minutes=59, seconds=59)
    daily["created_timestamp"] = daily["event_timestamp"]
    return daily[["$entity", "event_timestamp", "events_to_date", "mean_value_to_date", "created_timestamp"]]
''')

FEATURES = Template('''"""Feast definitions of the $name use case: the one feature contract of training and serving."""

from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, Int64

$entity_object = Entity(name="$entity_object", join_keys=["$entity"], value_type=ValueType.INT64,
                 description="The entity a $name prediction is about.")

${name}_source = FileSource(
    name="${name}_source",
    path="data/${name}_entity_stats.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created_timestamp",
)

${name}_entity_stats = FeatureView(
    name="${name}_entity_stats",
    entities=[$entity_object],
    ttl=timedelta(days=30),
    schema=[
        Field(name="events_to_date", dtype=Int64, description="Events of the entity so far."),
        Field(name="mean_value_to_date", dtype=Float64, description="Mean value of its events so far."),
    ],
    source=${name}_source,
    online=True,
)

# Versioned contract: a change of features is a new service (${name}_model_v2), never an edit.
${name}_model_v1 = FeatureService(name="${name}_model_v1", features=[${name}_entity_stats],
                                  description="Features of the $name model, version 1.")
''')


class ScaffoldError(ValueError):
    """The name or the place cannot hold a new use case."""


def scaffold_use_case(name: str, root: Path, entity: str = "entity_id") -> list[Path]:
    """Write ``root/<name>/`` (contract, generator stub, Feast definitions); returns the files written."""
    for label, value in (("use case name", name), ("entity", entity)):
        if not NAME.match(value) or keyword.iskeyword(value):
            raise ScaffoldError(f"{label} {value!r} must be a lowercase Python identifier of 2 to 31 characters")
    package = root / name
    if package.exists():
        raise ScaffoldError(f"{package} already exists")
    values = {"name": name, "entity": entity, "entity_object": entity.removesuffix("_id") or entity}
    if values["entity_object"] == name:
        values["entity_object"] = f"{name}_entity"
    package.mkdir(parents=True)
    if not (root / "__init__.py").exists():
        (root / "__init__.py").write_text('"""Use cases: one package each."""\n')
    files = {"__init__.py": INIT, "data.py": DATA, "features.py": FEATURES}
    written = []
    for file_name, template in files.items():
        path = package / file_name
        path.write_text(template.substitute(values))
        written.append(path)
    return written
