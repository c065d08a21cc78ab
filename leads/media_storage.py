"""Where the media library's files are kept: a folder, or an S3-compatible bucket.

Both stores hold files by name only; names are made by
``leads.services.media`` and never reused, so a file never changes once
written. The folder (``instance/media/`` unless ``MEDIA_DIR`` says otherwise)
needs nothing installed; ``MEDIA_S3_BUCKET`` (with ``MEDIA_S3_ENDPOINT_URL``
for a store other than Amazon's) uses boto3.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Protocol

from flask import Flask, current_app

# The names the service writes: a random key, the width, a digest, the format.
NAME = re.compile(r"^[a-f0-9]{32}-\d{1,5}-[a-f0-9]{16}\.(?:avif|webp|jpg)$")


class MediaStorage(Protocol):
    def put(self, name: str, data: bytes, content_type: str) -> None: ...

    def get(self, name: str) -> bytes | None:
        """The file's bytes, or None when there is no such file."""

    def delete(self, name: str) -> None: ...


class FolderStorage:
    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)

    def put(self, name: str, data: bytes, content_type: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        partial = self.directory / f".{name}.part"
        partial.write_bytes(data)
        os.replace(partial, self.directory / name)

    def get(self, name: str) -> bytes | None:
        if not NAME.match(name):
            return None
        try:
            return (self.directory / name).read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, name: str) -> None:
        if NAME.match(name):
            (self.directory / name).unlink(missing_ok=True)


class S3Storage:
    def __init__(
        self, bucket: str, endpoint_url: str | None = None, region: str | None = None
    ) -> None:
        import boto3

        self.bucket = bucket
        self.client: Any = boto3.client("s3", endpoint_url=endpoint_url, region_name=region)

    def put(self, name: str, data: bytes, content_type: str) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=name,
            Body=data,
            ContentType=content_type,
            CacheControl="public, max-age=31536000, immutable",
        )

    def get(self, name: str) -> bytes | None:
        if not NAME.match(name):
            return None
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=name)
        except self.client.exceptions.NoSuchKey:
            return None
        return answer["Body"].read()

    def delete(self, name: str) -> None:
        if NAME.match(name):
            self.client.delete_object(Bucket=self.bucket, Key=name)


def init_app(app: Flask) -> None:
    """Choose the store from the settings; nothing is opened until first use."""
    app.extensions["leads.media_storage"] = None


def storage() -> MediaStorage:
    """The app's media store, built on first use."""
    app = current_app
    store = app.extensions.get("leads.media_storage")
    if store is None:
        if app.config.get("MEDIA_S3_BUCKET"):
            store = S3Storage(
                app.config["MEDIA_S3_BUCKET"],
                endpoint_url=app.config.get("MEDIA_S3_ENDPOINT_URL"),
                region=app.config.get("MEDIA_S3_REGION"),
            )
        else:
            store = FolderStorage(
                app.config.get("MEDIA_DIR") or os.path.join(app.instance_path, "media")
            )
        app.extensions["leads.media_storage"] = store
    return store
