"""A warm process that runs flows in forked children which SIGKILL themselves at a fault point.

Importing GX, Prefect and Feast takes ~30 s; forking a warm, single-threaded process makes each
killed run cost only the run itself. Protocol (JSON lines): the worker prints {"ready": true},
then for each request {"state_dir", "fault", "action", "args"} forks a child that sets
FTI_STATE_DIR and FTI_FAULT_AT (fti.lake.fault_point, the test seam) and runs the flow; the
worker answers {"signal": N, "exit": M} when the child is gone. "quit" ends it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import traceback
from datetime import datetime
from typing import Any


def run_action(action: str, args: dict[str, Any]) -> None:
    if action == "ingest":
        from flows.ingestion import ingestion_flow

        ingestion_flow(args["source"], args["paths"])
    elif action == "features":
        from flows.features import features_flow

        features_flow(groups=args.get("groups"))
    elif action == "materialize":
        from flows.materialize import materialize_flow

        materialize_flow(end=datetime.fromisoformat(args["end"]), views=args.get("views"))
    elif action == "recover":
        from fti.lake import recover

        recover(os.environ["FTI_STATE_DIR"])
    else:
        raise ValueError(action)


def main() -> None:
    import feast  # noqa: F401  (warm: the children must not pay the imports)

    import flows.features
    import flows.ingestion
    import flows.materialize  # noqa: F401
    from validation.gate import engine

    engine()
    for table in ("prices", "zone_prices", "weather", "bookings"):
        engine().definition(table)
    if threading.active_count() != 1:  # forking a multi-threaded process is unsafe
        raise RuntimeError(f"worker has {threading.active_count()} threads")
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if request == "quit":
            break
        pid = os.fork()
        if pid == 0:
            os.dup2(2, 1)  # the child's output must not mix with the protocol
            os.environ["FTI_STATE_DIR"] = request["state_dir"]
            os.environ["FTI_FAULT_AT"] = request["fault"]
            code = 0
            try:
                run_action(request["action"], request.get("args", {}))
            except BaseException:
                traceback.print_exc()
                code = 1
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        answer = {
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0,
            "exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        }
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
