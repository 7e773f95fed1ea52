"""An async, caching client of a Confluent-compatible schema registry."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class RegistryError(Exception):
    """The registry refused a request; carries Confluent's ``error_code``."""

    def __init__(self, status: int, error_code: int, message: str) -> None:
        super().__init__(f"schema registry: {message} (error {error_code}, HTTP {status})")
        self.status = status
        self.error_code = error_code


class RegistryClient:
    """Registers schemas and fetches them by id; both answers are cached for the process.

    Schema ids are immutable, so the cache never needs invalidation.
    """

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._ids_by_subject_schema: dict[tuple[str, str], int] = {}
        self._schemas_by_id: dict[int, str] = {}

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def register(self, subject: str, schema: str | dict[str, Any]) -> int:
        text = schema if isinstance(schema, str) else json.dumps(schema, ensure_ascii=False)
        cached = self._ids_by_subject_schema.get((subject, text))
        if cached is not None:
            return cached
        body = await self._request("POST", f"/subjects/{subject}/versions", {"schema": text})
        schema_id = int(body["id"])
        self._ids_by_subject_schema[(subject, text)] = schema_id
        self._schemas_by_id.setdefault(schema_id, text)
        return schema_id

    async def schema_by_id(self, schema_id: int) -> str:
        cached = self._schemas_by_id.get(schema_id)
        if cached is not None:
            return cached
        body = await self._request("GET", f"/schemas/ids/{schema_id}")
        text = str(body["schema"])
        self._schemas_by_id[schema_id] = text
        return text

    async def subjects(self) -> list[str]:
        return [str(s) for s in await self._request("GET", "/subjects")]

    async def _request(self, method: str, path: str, payload: Any = None) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        async with self._session.request(
            method, self.url + path, json=payload, headers={"Content-Type": _CONTENT_TYPE}
        ) as response:
            body = await response.json(content_type=None)
            if response.status >= 400:
                detail = body if isinstance(body, dict) else {}
                raise RegistryError(
                    response.status,
                    int(detail.get("error_code", response.status)),
                    str(detail.get("message", "request failed")),
                )
            return body
