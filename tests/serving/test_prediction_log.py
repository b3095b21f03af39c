import pytest

from components.serving.prediction_log import PredictionLog, read_prediction_log

pytestmark = pytest.mark.unit


def test_appended_records_read_back_in_order(tmp_path):
    log = PredictionLog(tmp_path)
    log.append([{"request_id": "a", "score": 0.1}, {"request_id": "b", "score": 0.2}])
    log.append([{"request_id": "c", "score": 0.3}])
    log.close()
    assert read_prediction_log(tmp_path)["request_id"].tolist() == ["a", "b", "c"]
    assert read_prediction_log(tmp_path, last_rows=2)["request_id"].tolist() == ["b", "c"]


def test_newest_rows_span_window_files(tmp_path):
    (tmp_path / "predictions-20261101T10.jsonl").write_text('{"i": 1}\n{"i": 2}\n')
    (tmp_path / "predictions-20261101T11.jsonl").write_text('{"i": 3}\n')
    assert read_prediction_log(tmp_path, last_rows=2)["i"].tolist() == [2, 3]
    assert read_prediction_log(tmp_path)["i"].tolist() == [1, 2, 3]


def test_a_torn_last_line_is_left_for_the_next_read(tmp_path):
    (tmp_path / "predictions-20261101T10.jsonl").write_text('{"i": 1}\n{"i": 2')
    assert read_prediction_log(tmp_path)["i"].tolist() == [1]


def test_empty_directory_reads_as_empty_frame(tmp_path):
    assert read_prediction_log(tmp_path).empty
