"""Where the shared corpus of real-world emails is: ``$JUNIPER_CORPUS``, else ``shared/corpus`` beside
the repository (as CI lays it out), else ``/work/shared/corpus``. Missing under CI=true is an error."""
import os
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
CANDIDATES = [Path(p) for p in [os.environ.get("JUNIPER_CORPUS")] if p] + [
    REPOSITORY.parent / "shared" / "corpus",
    Path("/work/shared/corpus"),
]


def find_corpus() -> Path | None:
    for candidate in CANDIDATES:
        if (candidate / "manifest.tsv").is_file():
            return candidate
    if os.environ.get("CI") == "true":
        raise RuntimeError("The email corpus (shared/corpus) is missing; CI needs it: looked in "
                           + ", ".join(str(c) for c in CANDIDATES))
    return None


CORPUS = find_corpus()
