"""Runs nsgflow's ClickHouse pack in chdb (ClickHouse in-process) for tests/queries_clickhouse.rs.

    python chdb_driver.py REQUEST.json

REQUEST: {"schema": path of schema.sql, "events": path of flat NDJSON (nsgflow --format flat),
          "alerts": optional path of alert NDJSON, "queries": {name: {"file": path, "params": {...}}},
          "checks": {name: SQL}}
Prints one JSON object: {"queries": {name: [row, ...]}, "checks": {name: [row, ...]},
"loaded": rows in nsgflow.flows}. Rows are JSON objects (ClickHouse JSONEachRow, 64-bit
integers as numbers). Any ClickHouse error ends the run with its message and exit status 1.
"""
import json
import re
import sys

import chdb
from chdb import session

# JSON in and out: ISO timestamps with 'Z', 64-bit integers as JSON numbers.
SETTINGS = {
    "date_time_input_format": "best_effort",
    "output_format_json_quote_64bit_integers": 0,
    "output_format_json_quote_64bit_floats": 0,
}


def statements(text):
    """schema.sql split into statements (no ';' inside its literals or comments)."""
    text = re.sub(r"--[^\n]*", "", text)
    return [s.strip() for s in text.split(";") if s.strip()]


def settings_clause():
    return " SETTINGS " + ", ".join(
        f"{k} = {json.dumps(v) if isinstance(v, int) else repr(v)}" for k, v in SETTINGS.items()
    )


def rows(sess, sql, params=None):
    out = sess.query(sql.rstrip().rstrip(";") + settings_clause(), "JSONEachRow", params=params or {})
    return [json.loads(line) for line in str(out).splitlines() if line.strip()]


def load(sess, table, path):
    with open(path, encoding="utf-8") as f:
        data = f.read()
    if not data.strip():
        return
    # chdb takes the data inline; the INSERT's settings make ClickHouse parse the RFC 3339
    # timestamps as Vector's `date_time_best_effort: true` does.
    sess.query(
        f"INSERT INTO {table} SETTINGS date_time_input_format = 'best_effort', "
        f"input_format_skip_unknown_fields = 0 FORMAT JSONEachRow\n{data}"
    )


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        req = json.load(f)
    sess = session.Session()
    with open(req["schema"], encoding="utf-8") as f:
        for stmt in statements(f.read()):
            sess.query(stmt)
    # The estate's dates are fixed in the past; the 30-day TTL would drop its parts on insert.
    for table in ("nsgflow.flows", "nsgflow.flows_10m", "nsgflow.alerts"):
        sess.query(f"ALTER TABLE {table} REMOVE TTL")
    load(sess, "nsgflow.flows", req["events"])
    if req.get("alerts"):
        load(sess, "nsgflow.alerts", req["alerts"])
    result = {"chdb": chdb.__version__, "loaded": rows(sess, "SELECT count() AS n FROM nsgflow.flows")[0]["n"]}
    result["queries"] = {}
    for name, q in req["queries"].items():
        with open(q["file"], encoding="utf-8") as f:
            sql = f.read()
        try:
            result["queries"][name] = rows(sess, sql, q.get("params"))
        except Exception as e:  # name the query, then fail
            sys.exit(f"query {name} ({q['file']}): {e}")
    result["checks"] = {}
    for name, sql in req.get("checks", {}).items():
        try:
            result["checks"][name] = rows(sess, sql)
        except Exception as e:
            sys.exit(f"check {name}: {e}")
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
