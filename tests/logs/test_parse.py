"""Access-log parsing: the seed's format, Apache common and combined, and bad lines."""

import pytest

from logs.parse import MalformedLine, normalise_timestamp, parse_chunk, parse_line

SEED = '192.168.1.10 - - [10/Oct/2024:13:55:36 +0000] "GET /api/devices HTTP/1.1" 400 512 "-" "curl/8.5.0" 87'
COMMON = '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326'
COMBINED = (
    '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 '
    '"http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"'
)


def test_seed_format_with_response_time():
    record = parse_line(SEED)
    assert record.ip == "192.168.1.10"
    assert record.timestamp == "2024-10-10 13:55:36+00"
    assert (record.method, record.path, record.protocol) == ("GET", "/api/devices", "HTTP/1.1")
    assert record.status == 400 and record.size == 512
    assert record.referer == "" and record.user_agent == "curl/8.5.0"
    assert record.response_time_ms == 87


def test_apache_common_and_combined():
    common = parse_line(COMMON)
    assert common.timestamp == "2000-10-10 20:55:36+00"  # -0700 normalised to UTC
    assert common.response_time_ms is None and common.user_agent == ""
    combined = parse_line(COMBINED)
    assert combined.referer == "http://www.example.com/start.html"
    assert combined.user_agent == "Mozilla/4.08 [en] (Win98; I ;Nav)"
    assert combined.response_time_ms is None


def test_dash_size_decimal_time_ipv6_and_escaped_quotes():
    record = parse_line('2001:db8::1 - - [01/Jan/2025:00:00:00 +0100] "HEAD / HTTP/2.0" 304 - "-" "a \\"quoted\\" agent" 12.6')
    assert record.ip == "2001:db8::1"
    assert record.timestamp == "2024-12-31 23:00:00+00"
    assert record.size is None
    assert record.user_agent == 'a \\"quoted\\" agent'
    assert record.response_time_ms == 13


@pytest.mark.parametrize(
    "line",
    [
        "",
        "hello world",
        '1.2.3.4 - - [32/Oct/2024:13:55:36 +0000] "GET / HTTP/1.1" 200 1',  # day 32
        '1.2.3.4 - - [10/Foo/2024:13:55:36 +0000] "GET / HTTP/1.1" 200 1',
        '1.2.3.4 - - [10/Oct/2024:13:55:36 +0000] "GET / HTTP/1.1" 2000 1',  # four-digit status
        '1.2.3.4 - - [10/Oct/2024:13:55:36 +0000] "GET / HTTP/1.1 extra words" 200 1',
        '1.2.3.4 - - [10/Oct/2024:13:55:36] "GET / HTTP/1.1" 200 1',  # no zone
    ],
)
def test_malformed_lines_raise_with_reason(line):
    with pytest.raises(MalformedLine):
        parse_line(line)


def test_chunk_reports_malformed_line_numbers_and_builds_copy_rows():
    lines = [SEED, "garbage", COMMON, "", COMBINED.replace("GET", "GET\t")]
    chunk = parse_chunk(lines, first_line_number=101, log_file_id=7)
    assert chunk.stored == 3
    assert [(n, reason) for n, reason, _ in chunk.malformed] == [(102, "not an access-log line"), (104, "empty line")]
    rows = chunk.copy_text.splitlines()
    assert rows[0].split("\t")[:4] == ["7", "101", "192.168.1.10", "2024-10-10 13:55:36+00"]
    assert rows[1].split("\t")[-1] == "\\N"  # no response time in the common format
    assert sum(chunk.counts.values()) == 3
    assert chunk.counts[("2024-10-10 13", "192.168.1.10", "400")] == 1
    assert chunk.latencies == {("2024-10-10 13", "87"): 1}


def test_timestamp_normalisation_validates_fields():
    assert normalise_timestamp("01/Jan/2000:01:55:36 +0230") == "1999-12-31 23:25:36+00"
    with pytest.raises(MalformedLine):
        normalise_timestamp("29/Feb/2023:00:00:00 +0000")
