"""Schemathesis over the whole OpenAPI document of a running `memstrata serve` (its own
embedded Postgres): every operation gets generated valid and invalid requests, with a
tenant's key; no answer may be a 5xx, and every 4xx is problem+json."""

import asyncio
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok

from tests.services import Service, new_tenant


def test_no_operation_answers_with_a_5xx(tmp_path: Path) -> None:
    service = Service(None, tmp_path)
    service.start()
    try:
        asyncio.run(service.ready())
        key = asyncio.run(new_tenant(service.url, "fuzz"))
        schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json")
        results = list(schema.get_all_operations())
        operations = [result.ok() for result in results if isinstance(result, Ok)]
        assert len(operations) == len(results), "every operation of the document loads"
        assert len(operations) >= 15, "the whole document, every operation"
        headers = {"Authorization": f"Bearer {key}"}
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
            def check(case: Any) -> None:
                response = case.call(headers=headers, timeout=30)
                where = (case.method, case.formatted_path, response.text[:300])
                assert response.status_code < 500, where
                if response.status_code >= 400:
                    kind = response.headers.get("content-type", [""])[0]
                    assert kind == "application/problem+json", where

            check()
    finally:
        service.stop()
