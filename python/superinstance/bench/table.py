"""The summary rows every benchmark module gives ``superinstance bench``, and their
plain-text table (aligned columns: case, ours, peers, ratio).

A row is a dict ``{"case", "ours", "peers", "ratio"}``: ``ours`` and ``peers`` are
display strings with units, ``ratio`` is a float where larger means ours is better
(best peer time / ours, or our rate / the best peer rate), or None where there is
no peer to compare with.
"""

from __future__ import annotations

import json

from typing import Any, Dict, List, Mapping, Optional, Sequence

__all__ = ["COLUMNS", "best_peer_ratio", "format_rows", "row"]

COLUMNS = ("case", "ours", "peers", "ratio")


def row(case: str, ours: str, peers: str = "", ratio: Optional[float] = None) -> Dict[str, Any]:
    return {"case": case, "ours": ours, "peers": peers, "ratio": None if ratio is None else float(ratio)}


def best_peer_ratio(ours: float, peers: Mapping[str, Optional[float]], lower_is_better: bool = True
                    ) -> Optional[float]:
    """The ratio against the best peer that has a value: best peer / ours for times
    (``lower_is_better``), ours / best peer for rates; > 1 means ours is better."""
    values = [v for v in peers.values() if v is not None and v > 0]
    if not values or not ours > 0:
        return None
    return min(values) / ours if lower_is_better else ours / max(values)


def _ratio_text(ratio: Optional[float]) -> str:
    return "-" if ratio is None else f"{ratio:.2f}x"


def format_rows(rows: Sequence[Mapping[str, Any]], title: str = "") -> str:
    """Rows as a plain-text table with aligned columns (the ratio right-aligned)."""
    cells: List[List[str]] = [list(COLUMNS)]
    cells += [[str(r["case"]), str(r["ours"]), str(r["peers"]) or "-", _ratio_text(r["ratio"])] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]

    def line(c: List[str]) -> str:
        left = "  ".join(c[i].ljust(widths[i]) for i in range(3))
        return f"{left}  {c[3].rjust(widths[3])}"

    out = [title] if title else []
    out.append(line(cells[0]))
    out.append("  ".join("-" * w for w in widths))
    out += [line(c) for c in cells[1:]]
    if not rows:
        out.append("(no rows)")
    return "\n".join(s.rstrip() for s in out)


def write_json(path: Optional[str], results: Any) -> None:
    """Writes a benchmark's raw results to ``path`` (nothing when it is None): numpy scalars
    as numbers, anything else JSON cannot hold as its text."""
    if path is None:
        return

    def fallback(obj: Any) -> Any:
        try:
            return float(obj)
        except (TypeError, ValueError):
            return str(obj)

    with open(path, "w") as f:
        json.dump(results, f, indent=1, default=fallback)
