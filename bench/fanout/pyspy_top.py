"""The top of a py-spy raw profile (``py-spy record -f raw``): where the time goes.

    python bench/fanout/pyspy_top.py PROFILE.txt [N]

Prints the share of samples by function, inclusive (anywhere in the stack) and
exclusive (the innermost frame, native frames included with ``--native``), and which
Python frames triggered the garbage collector (``gc_collect_main``) if it shows up.
"""

import re
import sys
from collections import Counter


def name(frame: str) -> str:
    return re.sub(r":\d+\)$", ")", frame)


def main() -> None:
    path = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    inclusive: Counter[str] = Counter()
    exclusive: Counter[str] = Counter()
    gc_from: Counter[str] = Counter()
    total = 0
    for line in open(path):  # noqa: SIM115
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = [name(f) for f in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] += n
        exclusive[frames[-1]] += n
        if frames[-1].startswith("gc_collect_main"):
            python = [f.split(" (")[0] for f in frames if ".py)" in f]
            gc_from[" <- ".join(reversed(python[-3:]))] += n
    print(f"samples: {total}")
    for title, counter in (("exclusive", exclusive), ("inclusive", inclusive)):
        print(f"\n-- {title}")
        for frame, n in counter.most_common(top):
            print(f"{100 * n / total:5.1f}%  {frame[:160]}")
    if gc_from:
        print("\n-- full garbage collections (gc_collect_main) started from")
        for frames, n in gc_from.most_common(10):
            print(f"{100 * n / total:5.1f}%  {frames}")


if __name__ == "__main__":
    main()
