"""The txlake OData feed, driven by python-odata (an independent OData v4 client).

The client reads $metadata, builds its entity classes from it, writes $filter/$select/$orderby
itself and follows @odata.nextLink on its own; each result is checked against the feed's
$count and against plain HTTP reads. Prints `odata client: N passed, 0 failed` and exits
non-zero on any failure.

Environment: TXLAKE_ODATA_URL (e.g. http://127.0.0.1:8080/odata), TXLAKE_KEY (a viewer key).
"""

import datetime
import os
import sys
import traceback

import requests
from requests.auth import HTTPBasicAuth
from odata import ODataService
from odata.query import Query

URL = os.environ["TXLAKE_ODATA_URL"].rstrip("/")
AUTH = HTTPBasicAuth("powerbi", os.environ["TXLAKE_KEY"])
service = ODataService(URL + "/", auth=AUTH, reflect_entities=True, quiet_progress=True)


def count(entity_set, odata_filter=None):
    params = {"$filter": odata_filter} if odata_filter else {}
    response = requests.get(f"{URL}/{entity_set}/$count", params=params, auth=AUTH, timeout=60)
    response.raise_for_status()
    return int(response.text)


def test_the_metadata_gives_every_entity_set_a_class_with_its_key():
    for name in ["customers", "employees", "tickets", "surveys", "touchpoints", "learning", "metric_nps"]:
        assert name in service.entities, f"{name} not among {sorted(service.entities)}"


def test_a_filtered_read_follows_every_next_link_to_the_whole_result():
    customers = service.entities["customers"]
    rows = service.query(customers).filter(customers.segment == "smb").all()
    expected = count("customers", "segment eq 'smb'")
    assert expected > 0
    assert len(rows) == expected, (len(rows), expected)
    assert len({row.customer_key for row in rows}) == expected, "no row twice"
    assert all(row.segment == "smb" for row in rows)
    assert all(isinstance(row.created_at, datetime.datetime) for row in rows), "DateTimeOffset parses"


def test_combined_filters_and_ordering():
    customers = service.entities["customers"]
    start = datetime.datetime(2025, 2, 1, tzinfo=datetime.timezone.utc)
    query = (
        service.query(customers)
        .filter(customers.created_at >= start)
        .filter(Query.or_(customers.country.startswith("D"), customers.segment == "enterprise"))
        .order_by(customers.customer_key.desc())
    )
    rows = query.all()
    assert rows, "the sample has such customers"
    assert all(r.created_at >= start and (r.country.startswith("D") or r.segment == "enterprise") for r in rows)
    keys = [r.customer_key for r in rows]
    assert keys == sorted(keys, reverse=True)
    everything = service.query(customers).all()
    assert len(everything) == count("customers")
    assert len(rows) == sum(
        1 for r in everything if r.created_at >= start and (r.country.startswith("D") or r.segment == "enterprise")
    )


def test_select_returns_only_the_chosen_properties():
    tickets = service.entities["tickets"]
    rows = service.query(tickets).select(tickets.ticket_key, tickets.channel).filter(tickets.channel == "email").all()
    assert len(rows) == count("tickets", "channel eq 'email'")
    for row in rows:
        values = row if isinstance(row, dict) else dict(zip(["ticket_key", "channel"], row))
        assert set(values) == {"ticket_key", "channel"}, values
        assert values["channel"] == "email"


def test_a_metric_set_reads_and_filters():
    nps = service.entities["metric_nps"]
    rows = service.query(nps).filter(nps.segment == "smb").all()
    assert len(rows) == count("metric_nps", "segment eq 'smb'")
    assert rows and all(r.segment == "smb" for r in rows)


def main():
    tests = [value for name, value in globals().items() if name.startswith("test_")]
    failed = 0
    for test in tests:
        try:
            test()
            print(f"  ok   {test.__name__}")
        except Exception:  # noqa: BLE001 - every failure is reported, then the run fails
            failed += 1
            print(f"  FAIL {test.__name__}")
            traceback.print_exc()
    print(f"odata client: {len(tests) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
