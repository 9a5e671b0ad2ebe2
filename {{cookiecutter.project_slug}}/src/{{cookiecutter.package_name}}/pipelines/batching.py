"""Requests that arrive together share one model call.

Hand-written because neither FastAPI nor uvicorn batches, and LitServe, which does, runs the
model in worker processes of its own (see the README's "Serve" section): a queue, a
deadline and one thread that runs the model are all this needs.
"""

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import torch


@dataclass
class BatchStats:
    """What /health reports: how many model calls served how many examples."""

    calls: int = 0
    examples: int = 0
    largest: int = 0
    sizes: dict[int, int] = field(default_factory=dict)  # batch size -> model calls

    def add(self, size: int) -> None:
        self.calls += 1
        self.examples += size
        self.largest = max(self.largest, size)
        self.sizes[size] = self.sizes.get(size, 0) + 1


class Batcher:
    """Collects the examples of waiting requests, up to ``max_batch_size`` examples or
    ``timeout_ms`` after the first one, runs ``model`` once on all of them in a thread (the
    event loop keeps accepting requests meanwhile) and hands each request its own rows.

    A request larger than ``max_batch_size`` runs alone, in one call.
    """

    def __init__(
        self, model: Callable[[torch.Tensor], torch.Tensor], max_batch_size: int, timeout_ms: float
    ) -> None:
        self.model = model
        self.max_batch_size = max_batch_size
        self.timeout = timeout_ms / 1000
        self.stats = BatchStats()
        self.queue: asyncio.Queue[tuple[torch.Tensor, asyncio.Future[torch.Tensor]]] = (
            asyncio.Queue()
        )
        # One thread: model calls run one after another, as on one device they would anyway.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")

    async def __call__(self, raw: torch.Tensor) -> torch.Tensor:
        """The model's outputs for ``raw``, computed in a batch with other requests."""
        future: asyncio.Future[torch.Tensor] = asyncio.get_running_loop().create_future()
        await self.queue.put((raw, future))
        return await future

    async def run(self) -> None:
        """Serve the queue until cancelled."""
        waiting: tuple[torch.Tensor, asyncio.Future[torch.Tensor]] | None = None
        try:
            while True:
                batch = [waiting or await self.queue.get()]
                waiting = None
                size = len(batch[0][0])
                deadline = time.monotonic() + self.timeout
                while size < self.max_batch_size:
                    item = await self._next(deadline)
                    if item is None:
                        break
                    if size + len(item[0]) > self.max_batch_size:
                        waiting = item  # first in the next batch
                        break
                    batch.append(item)
                    size += len(item[0])
                await self._run_batch(batch)
        finally:
            self.executor.shutdown(wait=False, cancel_futures=True)

    async def _next(
        self, deadline: float
    ) -> tuple[torch.Tensor, asyncio.Future[torch.Tensor]] | None:
        """The next request, or None if none comes before ``deadline``. (``asyncio.wait``
        rather than ``wait_for``: Python 3.10 raises another TimeoutError.)"""
        if not self.queue.empty():
            return self.queue.get_nowait()
        getter = asyncio.ensure_future(self.queue.get())
        done, _ = await asyncio.wait({getter}, timeout=max(deadline - time.monotonic(), 0))
        if not done:
            getter.cancel()  # the queue keeps its items for the next batch
            return None
        return getter.result()

    async def _run_batch(
        self, batch: list[tuple[torch.Tensor, asyncio.Future[torch.Tensor]]]
    ) -> None:
        raws = [raw for raw, _ in batch]
        try:
            outputs = await asyncio.get_running_loop().run_in_executor(
                self.executor, self.model, torch.cat(raws)
            )
        except Exception as error:  # each waiting request answers with it
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        self.stats.add(len(outputs))
        for (_, future), rows in zip(batch, outputs.split([len(raw) for raw in raws]), strict=True):
            if not future.done():  # a client that left has its future cancelled
                future.set_result(rows)
