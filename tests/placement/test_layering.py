"""The generic layers know nothing about placement (DESIGN.md, "Package layout")."""
import os
import re

import rlframe

ROOT = os.path.dirname(rlframe.__file__)
#: modules that only alias the old placement import paths (tests/placement/test_deprecated_imports.py)
DEPRECATED_ALIASES = {os.path.join("models", "placement.py"), os.path.join("models", "__init__.py")}


def test_no_placement_name_in_generic_layers():
    hits = []
    for layer in ("logging", "runners", "samplers"):
        for folder, _, files in os.walk(os.path.join(ROOT, layer)):
            for name in files:
                if not name.endswith(".py"):
                    continue
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as f:
                    for i, line in enumerate(f, 1):
                        if re.search("placement", line, re.IGNORECASE):
                            hits.append(f"{os.path.relpath(path, ROOT)}:{i}: {line.strip()}")
    assert not hits, "placement named in a generic layer:\n" + "\n".join(hits)


def test_generic_packages_do_not_import_placement():
    for pkg in ("core", "envs", "models", "distributions", "agents", "algos", "samplers", "runners", "logging",
                "launching"):
        for folder, _, files in os.walk(os.path.join(ROOT, pkg)):
            if os.path.relpath(folder, ROOT) == os.path.join("envs", "placement"):
                continue  # the deprecated aliases of the old import paths
            for name in files:
                if name.endswith(".py") and os.path.join(pkg, name) not in DEPRECATED_ALIASES:
                    src = open(os.path.join(folder, name), encoding="utf-8").read()
                    assert not re.search(r"^\s*(from|import) rlframe\.placement\b", src, re.MULTILINE), \
                        os.path.join(folder, name)
