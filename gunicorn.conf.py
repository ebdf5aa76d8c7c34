"""gunicorn's settings for every web server of the project: ``make run`` (scripts/run.sh) and
the benchmarks (bench/_common.py) start it with ``--config`` this file.

Workers: one sync worker more than the cores this process may run on, or ``WEB_WORKERS``. A
request spends about as long waiting on PostgreSQL as computing (an intake: some 14 statements,
each a round trip); with a worker a core, a core idles while its worker waits. One worker more
kept the two cores of the benchmark machine busy: intake 88.0 → 94.4 reports/s at the same CPU
per report and p95; a fourth worker added nothing, gunicorn's 2 × cores + 1 lost 13 % to
contention (docs/DECISIONS.md D-090, docs/BENCHMARKS.md §2).
"""

import os

workers = int(os.environ.get("WEB_WORKERS") or len(os.sched_getaffinity(0)) + 1)
