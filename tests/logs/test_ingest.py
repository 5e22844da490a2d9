"""Log ingest: COPY batches, idempotency, resumption, and exact aggregates."""

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from devtools.logsim import generate_lines
from logs import selectors
from logs.models import LogFile, LogHourlyCount, SystemLog
from logs.questions import answer_log_question
from logs.selectors import StatusFilter, Window
from logs.services import log_file_delete, log_file_ingest

END = datetime(2024, 10, 10, 12, 0, tzinfo=UTC)


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _truth(lines: list[str]):
    """Expected figures computed independently of the parser (plain string splitting)."""
    rows = []
    for line in lines:
        ip = line.split(" ", 1)[0]
        raw_ts = line.split("[", 1)[1].split("]", 1)[0]
        moment = datetime.strptime(raw_ts, "%d/%b/%Y:%H:%M:%S %z")
        after_request = line.split('" ', 1)[1]
        status = int(after_request.split(" ", 1)[0])
        rt = int(line.rsplit(" ", 1)[1])
        rows.append((ip, moment, status, rt))
    return rows


@pytest.fixture
def generated(tmp_path):
    lines = list(generate_lines(lines=30_000, seed=11, end=END, hours=6, ips=60))
    return _write(tmp_path / "access.log", lines), lines


@pytest.mark.django_db
def test_ingest_stores_every_line_and_rollups_match(generated):
    path, _lines = generated
    result = log_file_ingest(path=path, batch_lines=7_000)
    assert (result.status, result.lines_read, result.stored, result.malformed) == ("ingested", 30_000, 30_000, 0)
    assert SystemLog.objects.count() == 30_000
    assert sum(LogHourlyCount.objects.values_list("requests", flat=True)) == 30_000
    log_file = LogFile.objects.get()
    assert log_file.complete and log_file.lines_stored == 30_000 and log_file.size_bytes == path.stat().st_size


@pytest.mark.django_db
def test_aggregates_are_exact_against_known_counts(generated):
    path, lines = generated
    log_file_ingest(path=path)
    truth = _truth(lines)
    expected_400 = Counter(ip for ip, _, status, _ in truth if status == 400)
    rows, sql = selectors.log_top_ips(window=Window(), status=StatusFilter(400, 400, "400"), limit=5)
    assert [(r["ip"], r["requests"]) for r in rows] == sorted(expected_400.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    assert "rag_log_hourly_count" in sql

    # A window with partial hours at both edges: rollups for whole hours, raw rows at the edges.
    start, end = END - timedelta(hours=4, minutes=17, seconds=5), END - timedelta(minutes=43)
    window = Window(start, end, "test window")
    expected = Counter(ip for ip, moment, _, _ in truth if start <= moment < end)
    rows, _ = selectors.log_top_ips(window=window, limit=10)
    assert [(r["ip"], r["requests"]) for r in rows] == sorted(expected.items(), key=lambda kv: (-kv[1], kv[0]))[:10]

    errors, _ = selectors.log_error_rates(window=window)
    in_window = [status for _, moment, status, _ in truth if start <= moment < end]
    assert errors["requests"] == len(in_window)
    assert errors["server_errors_5xx"] == sum(1 for s in in_window if s >= 500)
    assert errors["client_errors_4xx"] == sum(1 for s in in_window if 400 <= s < 500)

    latency, _ = selectors.log_latency_percentiles(window=window)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY response_time_ms),"
            " percentile_disc(0.95) WITHIN GROUP (ORDER BY response_time_ms),"
            " percentile_disc(0.99) WITHIN GROUP (ORDER BY response_time_ms)"
            " FROM rag_system_log WHERE timestamp >= %s AND timestamp < %s",
            [start, end],
        )
        assert (latency["p50"], latency["p95"], latency["p99"]) == cursor.fetchone()


@pytest.mark.django_db
def test_error_400_question_lists_top_ips_with_counts_and_query(generated):
    path, lines = generated
    log_file_ingest(path=path)
    expected = Counter(ip for ip, _, status, _ in _truth(lines) if status == 400).most_common(1)[0]
    result = answer_log_question("List the most frequent IP devices generating Error 400")
    assert result["type"] == "logs"
    assert result["data"]["rows"][0] == {"ip": expected[0], "requests": expected[1]}
    assert f"{expected[0]} ({expected[1]:,})" in result["answer"]
    assert "status BETWEEN 400 AND 400" in result["sources"][0]["query"]


@pytest.mark.django_db
def test_reingest_adds_nothing_and_a_grown_file_resumes(tmp_path, generated):
    path, lines = generated
    log_file_ingest(path=path)
    again = log_file_ingest(path=path)
    assert again.status == "unchanged" and again.stored == 0
    copy = _write(tmp_path / "same-content-elsewhere.log", lines)
    assert log_file_ingest(path=copy).status == "unchanged"
    assert SystemLog.objects.count() == 30_000

    more = list(generate_lines(lines=500, seed=12, end=END + timedelta(minutes=30), hours=0.5, ips=10))
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\n".join(more) + "\n")
    grown = log_file_ingest(path=path)
    assert (grown.status, grown.lines_read, grown.stored) == ("resumed", 500, 500)
    assert SystemLog.objects.count() == 30_500
    assert SystemLog.objects.filter(line_number=30_500).exists()
    assert LogFile.objects.count() == 1


@pytest.mark.django_db
def test_malformed_lines_are_counted_with_line_numbers(tmp_path, capsys):
    good = list(generate_lines(lines=5, seed=1, end=END, hours=1))
    path = _write(tmp_path / "mixed.log", [good[0], "not a log line", good[1], "", good[2]])
    call_command("ingest_logs", str(path))
    captured = capsys.readouterr()
    assert "3 stored, 2 malformed" in captured.out
    assert "line 2: not an access-log line" in captured.err and "line 4: empty line" in captured.err
    assert list(SystemLog.objects.order_by("line_number").values_list("line_number", flat=True)) == [1, 3, 5]


@pytest.mark.django_db
def test_apache_common_file_and_delete(tmp_path):
    path = _write(
        tmp_path / "common.log",
        ['127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326'] * 3,
    )
    result = log_file_ingest(path=path)
    assert result.stored == 3
    row = SystemLog.objects.get(line_number=1)
    assert row.response_time_ms is None and row.timestamp == datetime(2000, 10, 10, 20, 55, 36, tzinfo=UTC)
    log_file_delete(log_file_id=row.log_file_id)
    assert not SystemLog.objects.exists() and not LogHourlyCount.objects.exists() and not LogFile.objects.exists()


@pytest.mark.django_db
def test_simulate_logs_command_writes_parseable_lines(tmp_path):
    out = tmp_path / "sim.log"
    call_command("simulate_logs", str(out), "--lines", "1000", "--end", "2024-10-10T12:00:00+00:00")
    lines = out.read_text().splitlines()
    assert len(lines) == 1000
    assert log_file_ingest(path=out).malformed == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("question", "said"),
    [
        ("errors between 2024-01-01 and 2024-13-45", "2024-13-45 is not a date"),
        ("errors between 2024-03-01 and 2024-01-01", "is before"),
        ("top IPs in the last 99999999999 days", "all logged time"),
        ("logs on 9999-12-31", "9999-12-31"),
    ],
)
def test_impossible_dates_are_answered_in_words(question, said):
    result = answer_log_question(question)
    assert said in result["answer"]


@pytest.mark.django_db
def test_window_ending_at_the_last_representable_hour_is_counted():
    from logs.selectors import log_error_rates

    errors, _ = log_error_rates(window=Window(datetime(9999, 12, 31, 23, 30, tzinfo=UTC), None, "far future"))
    assert errors["requests"] == 0
