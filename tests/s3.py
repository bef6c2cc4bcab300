"""An S3-compatible server for the tests: moto's, in this process, on a free loopback port."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from bifrost.settings import Settings
from tests.servers import free_port

KEY_ID = "bifrost-test-key-id"
SECRET = "s3-secret-that-must-never-reach-an-execution"
REGION = "us-east-1"


@dataclass
class Bucket:
    """A fresh bucket on the test server, and the settings that point Bifrost at it."""

    endpoint: str
    name: str
    prefix: str
    client: Any

    @property
    def env(self) -> dict[str, str]:
        return {
            "BIFROST_OBJECT_STORE": f"s3://{self.name}/{self.prefix}",
            "BIFROST_OBJECT_STORE_ENDPOINT_URL": self.endpoint,
            "BIFROST_OBJECT_STORE_REGION": REGION,
            "BIFROST_OBJECT_STORE_ACCESS_KEY_ID": KEY_ID,
            "BIFROST_OBJECT_STORE_SECRET_ACCESS_KEY": SECRET,
        }

    def settings(self, base: Settings | None = None) -> Settings:
        values = {k.removeprefix("BIFROST_").lower(): v for k, v in self.env.items()}
        parsed = Settings(**values)
        return (base or parsed).model_copy(update={k: getattr(parsed, k) for k in values})

    def key(self, sha256: str) -> str:
        return f"{self.prefix}/{sha256}"

    def keys(self) -> list[str]:
        listed = self.client.list_objects_v2(Bucket=self.name)
        return sorted(item["Key"] for item in listed.get("Contents", []))


def client(endpoint: str) -> Any:
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> Bucket:
    name = f"bifrost-{uuid.uuid4().hex[:12]}"
    made = client(s3_endpoint)
    made.create_bucket(Bucket=name)
    return Bucket(s3_endpoint, name, "objects", made)
