"""Property-based API tests from the OpenAPI spec: no 5xx, and answers match their schemas."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from service.app import create_app
from service.settings import ServiceSettings
from tests.service.conftest import FakeTranslator

APP = create_app(
    ServiceSettings(max_wait_ms=0.0, max_chars=300, max_texts=8, max_body_bytes=20_000),
    translator=FakeTranslator(coverage=True, copy=True),
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def warm_app() -> Iterator[None]:
    """Run the app's lifespan (load + warm-up) around all generated cases."""
    with TestClient(APP):
        yield


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms_to_its_schema(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])
