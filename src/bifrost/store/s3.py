"""The object store on an S3-compatible bucket (AWS S3, MinIO, Ceph, R2...), through botocore.

Keys are ``<prefix><sha256>``, so objects never change and any API or worker machine reads what
another wrote, with no shared disk. Every botocore failure becomes a domain error in
:func:`translated`, the one place that knows botocore's exceptions: a missing key is NotFound (the
reads turn it into None), anything else (a refused credential, a missing bucket, a network
failure) is Unavailable. The secret key is held in a SecretStr and remembered for scrubbing; it is
never in an execution's environment (``worker/environment.py`` passes only an allow-list).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import SecretStr

from bifrost.errors import NotFound, Unavailable
from bifrost.secrets import remember
from bifrost.settings import Settings
from bifrost.store.objects import SHA256, StoredObject, check_sha256

MISSING = frozenset({"404", "NoSuchKey", "NotFound"})
TIMEOUTS = {"connect_timeout": 10, "read_timeout": 60}


def parse_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix/")``; no prefix -> ``""``."""
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


@contextlib.contextmanager
def translated(where: str, action: str) -> Iterator[None]:
    """botocore's exceptions as domain errors; ``where`` names the store, never a credential."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "")) or "unknown"
        if code in MISSING:
            raise NotFound(f"{action}: no such object in {where}") from exc
        hint = {
            "NoSuchBucket": "the bucket does not exist (BIFROST_OBJECT_STORE)",
            "AccessDenied": "the credentials may not do this (BIFROST_OBJECT_STORE_ACCESS_KEY_ID)",
            "InvalidAccessKeyId": "the access key id is unknown to the store",
            "SignatureDoesNotMatch": "the secret access key is wrong",
        }.get(code, error.get("Message") or "see the store's logs")
        raise Unavailable(f"the object store {where} refused to {action}: {code}, {hint}") from exc
    except BotoCoreError as exc:  # no route, timeouts, no credentials found at all
        raise Unavailable(
            f"the object store {where} cannot {action} now ({type(exc).__name__}: {exc}); "
            "check BIFROST_OBJECT_STORE_ENDPOINT_URL and that the store is up"
        ) from exc


def s3_client(
    endpoint_url: str | None,
    region: str | None,
    access_key_id: str | None,
    secret: SecretStr | None,
    *,
    connections: int = 10,
) -> Any:
    """A botocore S3 client (None values: the usual AWS chain) with ``connections`` pooled (one
    per thread that uses it at once); the secret is remembered for scrubbing."""
    if secret is not None:
        remember(secret.get_secret_value())
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=None if secret is None else secret.get_secret_value(),
        config=Config(
            # Path-style URLs: what MinIO, Ceph and most self-hosted stores serve.
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            retries={"mode": "standard", "max_attempts": 3},
            max_pool_connections=connections,
            **TIMEOUTS,
        ),
    )


class S3ObjectStore:
    """Content-addressed objects in one bucket under one prefix."""

    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client = client  # botocore clients are thread-safe: one for every worker thread
        self.bucket = bucket
        self.prefix = prefix

    @classmethod
    def from_settings(cls, settings: Settings) -> S3ObjectStore:
        assert settings.object_store is not None
        bucket, prefix = parse_url(settings.object_store)
        client = s3_client(
            settings.object_store_endpoint_url,
            settings.object_store_region,
            settings.object_store_access_key_id,
            settings.object_store_secret_access_key,
        )
        return cls(client, bucket, prefix)

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def _key(self, sha256: str) -> str:
        return self.prefix + check_sha256(sha256)

    def put(self, sha256: str, content: bytes) -> None:
        # Always written, even if present: the new modification time keeps a collection that is
        # running now from taking it (see bifrost.store.gc).
        with translated(self.describe(), f"store object {sha256}"):
            self.client.put_object(Bucket=self.bucket, Key=self._key(sha256), Body=content)

    def get(self, sha256: str) -> bytes | None:
        try:
            with translated(self.describe(), f"read object {sha256}"):
                body = self.client.get_object(Bucket=self.bucket, Key=self._key(sha256))["Body"]
                try:
                    return body.read()  # one copy: the checks run on these very bytes
                finally:
                    body.close()
        except NotFound:
            return None

    def modified(self, sha256: str) -> float | None:
        try:
            with translated(self.describe(), f"look up object {sha256}"):
                head = self.client.head_object(Bucket=self.bucket, Key=self._key(sha256))
        except NotFound:
            return None
        return head["LastModified"].timestamp()

    def delete(self, sha256: str) -> None:
        with translated(self.describe(), f"delete object {sha256}"):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(sha256))

    def scan(self) -> Iterator[StoredObject]:
        with translated(self.describe(), "list its objects"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    sha = item["Key"][len(self.prefix) :]
                    if SHA256.fullmatch(sha):  # other keys under the prefix are not ours
                        yield StoredObject(sha, item["Size"], item["LastModified"].timestamp())
