"""The background worker: ``flask --app wsgi registry worker`` runs every registered task in a loop.

A task is a callable ``task(app) -> int`` returning how many items it handled; the loop sleeps
briefly only when a whole round handled nothing. Tasks register themselves with :func:`task`.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

log = logging.getLogger("registry.worker")

TASKS: dict[str, Callable] = {}


def task(name: str):
    """Register ``fn(app) -> int`` as a worker task under ``name``."""

    def decorator(fn):
        TASKS[name] = fn
        return fn

    return decorator


def run(app, *, once: bool = False, idle_sleep: float = 0.5, stop: threading.Event | None = None) -> int:
    """Run every task until stopped (SIGTERM/SIGINT) or, with ``once``, for one round; returns items handled."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    total = 0
    while not stop.is_set():
        handled = 0
        for name, fn in list(TASKS.items()):
            try:
                with app.app_context():
                    handled += fn(app) or 0
            except Exception:  # one failing task must not stop the others
                log.exception("worker task %s failed", name)
        total += handled
        if once:
            break
        if not handled:
            stop.wait(idle_sleep)
    return total


def load_tasks() -> None:
    """Import the modules that register tasks (each registers itself with @task)."""
    from . import jobs, outbox, tlog  # noqa: F401  (each registers its tasks on import)
