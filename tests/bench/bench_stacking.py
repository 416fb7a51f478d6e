"""CPU cost of stacking an analysed image's layers, with no engine and no export.

What :func:`engine.analyze_image` does after the export has streamed, on file
lists shaped like bench_analyze's image: this machine's /usr/share (about 57k
entries) in one layer, a layer deleting usr/share/doc, locale and man (tens of
thousands of hidden paths), one adding a 64 MiB file and one whiting it out.
Times, as CPU seconds (the machine is shared), median of ``--repeats``:

- analyze: :func:`engine.analyze_layers`, then ``wasted_paths(50)`` and ``wasted_bytes``
  (what ``dockyard analyze`` and the layers page show first);
- changes: ``changes(2)``, the big layer's change list;
- aggregated: ``aggregated(-1)``, the whole stacked filesystem.

    .venv/bin/python tests/bench/bench_stacking.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import stat
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine._layers import EntryKind, FileEntry, LayerFiles, analyze_layers, no_cyclic_gc


def walk(root: str, prefix: str) -> list[FileEntry]:
    """The entries a ``COPY root prefix`` layer tar lists, in the daemon's (lexical) order."""
    out: list[FileEntry] = []
    for name in sorted(os.listdir(root)):
        real, path = os.path.join(root, name), f"{prefix}/{name}"
        mode = os.lstat(real)
        if stat.S_ISDIR(mode.st_mode):
            out.append(FileEntry(path, 0, EntryKind.DIR))
            with contextlib.suppress(OSError):  # unreadable directory: left out
                out += walk(real, path)
        elif stat.S_ISLNK(mode.st_mode):
            target = os.readlink(real)
            out.append(FileEntry(path, len(target.encode()), EntryKind.SYMLINK, target))
        elif stat.S_ISREG(mode.st_mode):
            out.append(FileEntry(path, mode.st_size, EntryKind.FILE))
    return out


def bench_layers() -> list[LayerFiles]:
    usr = (FileEntry("usr", 0, EntryKind.DIR), FileEntry("usr/share", 0, EntryKind.DIR))
    return [
        LayerFiles((FileEntry("bin", 0, EntryKind.DIR),
                    FileEntry("bin/busybox", 1_131_168, EntryKind.FILE))),
        LayerFiles((FileEntry("bin", 0, EntryKind.DIR), *(
            FileEntry(f"bin/tool{i:03d}", 12, EntryKind.SYMLINK, "/bin/busybox")
            for i in range(400)))),
        LayerFiles(usr + tuple(walk("/usr/share", "usr/share"))),
        LayerFiles(usr, whiteouts=("usr/share/doc", "usr/share/locale", "usr/share/man")),
        LayerFiles((FileEntry("blob", 64 << 20, EntryKind.FILE),)),
        LayerFiles((), whiteouts=("blob",)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    layers = bench_layers()
    print(f"{sum(len(layer.entries) for layer in layers):,} entries, "
          f"{sum(len(layer.whiteouts) for layer in layers)} whiteouts; "
          f"load {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    times: dict[str, list[float]] = {"analyze": [], "changes": [], "aggregated": []}
    for _ in range(args.repeats):
        gc.collect()
        with no_cyclic_gc():  # as analyze_image runs it
            start = time.process_time()
            analysis = analyze_layers(layers)
            analysis.wasted_paths(50)
            wasted = analysis.wasted_bytes
            analysed = time.process_time()
            analysis.changes(2)
            changed = time.process_time()
        analysis.aggregated(-1)
        times["analyze"].append(analysed - start)
        times["changes"].append(changed - analysed)
        times["aggregated"].append(time.process_time() - changed)
    print(f"wasted {wasted:,} bytes in {len(analysis.wasted_paths(None)):,} paths")
    for name, values in times.items():
        print(f"{name:<11} {statistics.median(values) * 1000:7.1f} ms CPU "
              f"(min {min(values) * 1000:.1f})")


if __name__ == "__main__":
    main()
