"""Maintenance tool: vendor add-on CRD schemas as compact JSON with their provenance.

Run ``python tools/vendor_crds.py DIR [DIR...]`` from the repository root, where each DIR holds upstream CRD YAML
files and a ``README.md`` table naming the upstream repository, path and commit of each file (the layout of
``../shared/crds``). Only ``spec.versions[].schema.openAPIV3Schema`` of served versions is kept; the provenance
file keeps the records of schemas vendored before and replaces those of the files written again.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

CRD_DIR = Path(__file__).resolve().parent.parent / "vllm_infra" / "checker" / "schemas" / "crds"
PROVENANCE_FILE = CRD_DIR / "PROVENANCE.json"
_ROW = re.compile(r"^\|\s*([\w.-]+\.yaml)\s*\|[^|]*\|\s*([^,|]+),\s*([^|]+?)\s*\|\s*(\w+)\s*\(([\d-]+)\)\s*\|")


def _upstream(readme: str) -> dict[str, dict[str, str]]:
    rows = {}
    for line in readme.splitlines():
        match = _ROW.match(line)
        if match:
            name, repo, path, commit, date = match.groups()
            rows[name] = {"repository": repo.strip(), "path": path.strip(), "commit": commit, "date": date}
    return rows


def vendor(source: Path) -> list[dict[str, Any]]:
    """Write one JSON schema file per CRD kind of ``source`` and return the provenance records."""
    upstream = _upstream((source / "README.md").read_text())
    yaml = YAML(typ="safe")
    records = []
    for crd_file in sorted(source.glob("*.yaml")):
        raw = crd_file.read_bytes()
        crd = yaml.load(raw)
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        versions = {v["name"]: v["schema"]["openAPIV3Schema"] for v in crd["spec"]["versions"] if v.get("served")}
        target = CRD_DIR / f"{group}_{kind.lower()}.json"
        target.write_text(json.dumps({"group": group, "kind": kind, "versions": versions},
                                     sort_keys=True, separators=(",", ":")) + "\n")
        records.append({"file": target.name, "group": group, "kind": kind, "versions": sorted(versions),
                        "source_file": crd_file.name, "source_sha256": hashlib.sha256(raw).hexdigest(),
                        **upstream.get(crd_file.name, {})})
    return records


if __name__ == "__main__":
    found = [record for source in sys.argv[1:] for record in vendor(Path(source))]
    kept = {record["file"]: record for record in json.loads(PROVENANCE_FILE.read_text())} \
        if PROVENANCE_FILE.is_file() else {}
    kept.update({record["file"]: record for record in found})
    PROVENANCE_FILE.write_text(json.dumps(sorted(kept.values(), key=lambda r: r["file"]), indent=2,
                                          sort_keys=True) + "\n")
    for record in found:
        print(f"{record['file']}: {record['kind']} {record['versions']} from {record.get('repository', '?')}")
