"""A router with one provider and no fallback (used until breakers are configured)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from novaos.ports import Provider, ProviderChunk, ProviderRequest, ProviderResponse


class DirectRouter:
    def __init__(self, provider: Provider) -> None:
        self._provider = provider

    async def stream(self, request: ProviderRequest) -> AsyncIterator[ProviderChunk]:
        async for chunk in self._provider.stream(request):
            yield chunk

    async def complete(self, request: ProviderRequest) -> ProviderResponse:
        return await self._provider.complete(request)
