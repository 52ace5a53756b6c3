"""gunicorn settings for the registry (gunicorn reads this file from the working directory).

Metrics: every worker writes its counters to files in one directory (prometheus_client's
multiprocess mode), so ``/metrics`` adds up all workers; the directory is the master's own and
emptied at start, and a worker's files are marked dead when it exits.
"""

import os
import shutil
import tempfile

# Set before any worker imports prometheus_client, which reads it at import.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="registry-metrics-")
_metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"]

bind = os.environ.get("REGISTRY_BIND", "127.0.0.1:5000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Sync workers gave the best tail latency on two cores (see docs/benchmarks.md).
worker_class = "sync"
# Load the app once in the master and fork: workers start in a fraction of the time and share
# the imported code. create_app leaves no database connection open to be inherited.
preload_app = True
# gunicorn's control socket defaults to one path per user account (~/.gunicorn/gunicorn.ctl),
# which a second instance on the host would take over; the registry does not use it.
control_socket_disable = True


def on_starting(server):
    os.makedirs(_metrics_dir, mode=0o700, exist_ok=True)
    for name in os.listdir(_metrics_dir):  # counts of an earlier run would be added to ours
        path = os.path.join(_metrics_dir, name)
        if name.endswith(".db") and os.path.isfile(path):
            os.remove(path)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _metrics_dir.startswith(tempfile.gettempdir()) and os.path.basename(_metrics_dir).startswith("registry-metrics-"):
        shutil.rmtree(_metrics_dir, ignore_errors=True)

# Escaped access-log atoms, and gunicorn's own 400/414/431 answered as problem+json (registry/serving.py).
logger_class = "registry.serving.Logger"
