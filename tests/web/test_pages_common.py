"""What every page shares: the language switch and the not-found page."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_language_switch_keeps_the_pages_parameters(client: TestClient, city) -> None:
    start = "2026-12-01T10:00:00+09:00"
    r = client.get(f"/services/{city.consult_id}/book", params={"start": start})
    assert r.status_code == 200
    assert 'href="/services/' in r.text
    assert "start=2026-12-01T10%3A00%3A00%2B09%3A00&amp;lang=en" in r.text
    r = client.get(f"/services/{city.consult_id}/book", params={"start": start, "lang": "en"})
    assert 'lang="en"' in r.text
    assert "start=2026-12-01T10%3A00%3A00%2B09%3A00&amp;lang=ja" in r.text


def test_unknown_addresses_get_a_page_but_the_api_keeps_json(client: TestClient) -> None:
    r = client.get("/no/such/page")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "ページが見つかりません" in r.text or "Page not found" in r.text
    r = client.get("/api/v1/no-such-endpoint")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/json")
