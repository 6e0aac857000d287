"""An SVG of node pools x GPUs: one row per node, one cell per GPU, coloured by the workload
that holds it (new revisions hatched), one panel per snapshot. Deterministic text, no fonts or
scripts referenced, every name escaped."""

from __future__ import annotations

from xml.sax.saxutils import escape

from vllm_infra.checker.simulation.cluster import accelerator_count
from vllm_infra.checker.simulation.outcomes import Snapshot

CELL, GAP, LABEL_WIDTH, ROW = 14, 2, 150, 18
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac")
FREE = "#eeeeee"


def _colour(workloads: list[str], key: str) -> str:
    return PALETTE[workloads.index(key) % len(PALETTE)]


def picture(title: str, snapshots: list[Snapshot]) -> str:
    """One SVG with a panel per snapshot: a row per GPU node, a cell per accelerator."""
    gpu_counts = {node.name: accelerator_count(node.allocatable) for snap in snapshots for node in snap.nodes}
    workloads = sorted({key for snap in snapshots for pods in snap.pods.values() for key, _r, gpus in pods if gpus})
    width = LABEL_WIDTH + max([gpu_counts.get(n.name, 0) for s in snapshots for n in s.nodes] or [1]) * (CELL + GAP)
    panel_width = width + 20
    height = max([len([n for n in s.nodes if gpu_counts.get(n.name)]) for s in snapshots] or [0]) * ROW + 40
    legend_top = height + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{panel_width * len(snapshots) + 10}" '
             f'height="{legend_top + 18 * len(workloads) + 24}" font-family="monospace" font-size="11">',
             f'<text x="5" y="15" font-size="13">{escape(title)}</text>',
             '<defs><pattern id="new" width="4" height="4" patternUnits="userSpaceOnUse">'
             '<path d="M0,4 L4,0" stroke="#000" stroke-width="1"/></pattern></defs>']
    for column, snap in enumerate(snapshots):
        left = 5 + column * panel_width
        parts.append(f'<text x="{left}" y="35">{escape(snap.title)}</text>')
        row = 0
        for node in snap.nodes:
            cells = gpu_counts.get(node.name, 0)
            if not cells:
                continue
            top = 45 + row * ROW
            row += 1
            mark = " +" if node.added else ""
            parts.append(f'<text x="{left}" y="{top + 11}">{escape(node.name + mark)}</text>')
            taken = [(key, revision) for key, revision, gpus in snap.pods.get(node.name, ()) for _ in range(gpus)]
            for index in range(cells):
                x = left + LABEL_WIDTH + index * (CELL + GAP)
                fill = _colour(workloads, taken[index][0]) if index < len(taken) else FREE
                parts.append(f'<rect x="{x}" y="{top}" width="{CELL}" height="{CELL}" fill="{fill}"/>')
                if index < len(taken) and taken[index][1] == "new":
                    parts.append(f'<rect x="{x}" y="{top}" width="{CELL}" height="{CELL}" fill="url(#new)"/>')
    for index, key in enumerate(workloads):
        y = legend_top + index * 18
        parts.append(f'<rect x="5" y="{y}" width="{CELL}" height="{CELL}" fill="{_colour(workloads, key)}"/>')
        parts.append(f'<text x="{5 + CELL + 6}" y="{y + 11}">{escape(key)}</text>')
    parts.append(f'<text x="5" y="{legend_top + len(workloads) * 18 + 12}">hatched: new revision; +: node added by '
                 'the node autoscaler; grey: free GPU</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
