"""Write the example "own tools" data set: 16 tools that are not in toolsweep's bundled catalogue.

It stands in for a user's own tool-calling data in `configs/own_tools.yaml`: a training file (its
validation set is a holdout of it) and a separate test file whose argument values never occur in training.
The files are committed; this script regenerates them byte for byte:

    python examples/own_tools/make_data.py
"""

from __future__ import annotations

from pathlib import Path

from toolsweep.data.generator import generate_examples
from toolsweep.data.loaders import write_jsonl
from toolsweep.data.procedural import procedural_tools

HERE = Path(__file__).parent
SEED = 2026  # not a seed the built-in model's pretraining catalogue was drawn with
CATEGORIES = {"simple": 1.0, "multiple": 1.0, "parallel": 0.5, "irrelevance": 0.5}


def main() -> None:
    tools = procedural_tools(16, SEED)
    for split, n in (("train", 480), ("test", 100)):
        rows = generate_examples(tools, split, n, CATEGORIES, SEED)
        path = write_jsonl(rows, HERE / f"{split}.jsonl")
        print(f"{path}: {len(rows)} rows over {len(tools)} tools")


if __name__ == "__main__":
    main()
