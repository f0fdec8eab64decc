def test_healthz_reports_each_dependency(client, db):
    response = client.get("/healthz")
    data = response.json()
    assert set(data["checks"]) == {"database", "broker", "cache"}
    assert data["checks"]["database"]["ok"] is True
