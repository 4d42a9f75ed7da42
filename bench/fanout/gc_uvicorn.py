"""uvicorn with the cyclic garbage collector tuned first, for the fan-out experiment
on garbage-collection pauses (bench/RESULTS.md, "Fan-out"): not how Quorum is run.

    QUORUM_BENCH_GC=50000,20,100 uv run --group bench python bench/fanout/gc_uvicorn.py \\
        quorum.app:create_app --factory --port 18040 ...

QUORUM_BENCH_GC: the three ``gc.set_threshold`` values (Python's default is 700,10,10);
with QUORUM_BENCH_GC_FREEZE=1, ``gc.freeze()`` once the application has started, so the
objects made at import and start-up are never scanned again.
"""

import gc
import os
import sys

from uvicorn.main import main

thresholds = os.environ.get("QUORUM_BENCH_GC")
if thresholds:
    gc.set_threshold(*(int(x) for x in thresholds.split(",")))
if os.environ.get("QUORUM_BENCH_GC_FREEZE") == "1":
    import uvicorn.server

    _startup = uvicorn.server.Server.startup

    async def startup(self, sockets=None):  # type: ignore[no-untyped-def]
        await _startup(self, sockets)
        gc.collect()
        gc.freeze()

    uvicorn.server.Server.startup = startup  # type: ignore[method-assign]

sys.argv[0] = "uvicorn"
sys.exit(main())
