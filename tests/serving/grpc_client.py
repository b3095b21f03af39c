"""tritonclient's gRPC client in its own process:
`python -m tests.serving.grpc_client HOST:PORT JSON-ROWS [MODEL-VERSION [OUTPUT-NAME]]`.

tritonclient.grpc and KServe register the same protobuf symbols (package ``inference``) in the
default descriptor pool, so the two cannot be imported into one process: the test suite imports
KServe. This prints one JSON object: readiness, the model metadata, and the scores of an infer
built from that metadata (or the error a bad request got).
"""

from __future__ import annotations

import json
import sys

import numpy as np
import tritonclient.grpc as grpcclient

NUMPY = {"INT64": np.int64, "INT32": np.int32, "FP64": np.float64, "FP32": np.float32, "BYTES": np.object_}


def main(url: str, rows: list[dict], version: str = "", output: str = "") -> dict:
    client = grpcclient.InferenceServerClient(url)
    metadata = client.get_model_metadata("fraud", as_json=True)
    inputs = []
    for spec in metadata["inputs"]:
        values = np.array([row[spec["name"]] for row in rows], dtype=NUMPY[spec["datatype"]])
        tensor = grpcclient.InferInput(spec["name"], [len(rows)], spec["datatype"])
        tensor.set_data_from_numpy(values)
        inputs.append(tensor)
    outcome = {"live": client.is_server_live(), "ready": client.is_server_ready(),
               "model_ready": client.is_model_ready("fraud"), "metadata": metadata}
    try:
        outputs = [grpcclient.InferRequestedOutput(output)] if output else None
        result = client.infer("fraud", inputs, model_version=version, outputs=outputs, request_id="grpc-request")
        outcome.update(scores=result.as_numpy("fraud_probability").tolist(), id=result.get_response().id)
    except grpcclient.InferenceServerException as exc:
        outcome.update(error=str(exc), status=exc.status())
    return outcome


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], json.loads(sys.argv[2]), *sys.argv[3:])))
