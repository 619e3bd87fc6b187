"""``textcluster-predict``: assign new documents to the clusters of a finished run, without refitting.

    textcluster-predict run_dir=outputs/2026-11-27/08-46-02 data=csv data.path=new.csv data.label_column=label

Arguments are Hydra-style ``key=value``:

* ``run_dir=`` (required): a run folder (it holds ``model/``), a ``model/`` folder or a ``pipeline.pt``;
* ``data=<group>`` plus ``data.<key>=<value>``: the documents, composed from the package's ``conf/data``
  exactly as on the ``textcluster`` command line; without ``data=`` the run's own data config is the
  starting point and ``data.<key>=`` changes it (so ``run_dir=...`` alone re-predicts the run's data);
* ``output=`` (default ``<run_dir>/predictions.csv``): where the predictions go.

``predictions.csv`` has one row per document: ``id``, ``cluster`` (-1: noise), ``label`` (when the data
has true labels), ``distance`` (to the cluster centre / core sample) or ``probability`` (HDBSCAN, GMM),
and a text snippet (``text``) or the image's row (``index``).

Bad input ends with one line, ``textcluster-predict: error: ...``, and exit status 2.
"""

from __future__ import annotations

import csv
import logging
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from textcluster.errors import UserError

PROG = "textcluster-predict"
USAGE = (f"usage: {PROG} run_dir=<run folder> [data=<csv|lines|hf|mnist|digits> data.<key>=<value> ...] "
         "[output=<predictions.csv>]")
SNIPPET_CHARS = 100

log = logging.getLogger(__name__)


def parse_arguments(argv: Sequence[str]) -> tuple[str, str | None, list[str]]:
    """``(run_dir, output or None, data overrides)`` from ``key=value`` arguments."""
    run_dir, output, data = None, None, []
    for argument in argv:
        key, sep, value = argument.partition("=")
        if not sep:
            raise UserError(f"arguments are key=value, got '{argument}'. {USAGE}")
        bare = key.lstrip("+~")
        if bare == "run_dir":
            run_dir = value
        elif bare == "output":
            output = value
        elif bare == "data" or bare.startswith("data."):
            data.append(argument)
        else:
            raise UserError(f"unknown argument '{key}'; {PROG} takes run_dir=, output=, data= and data.<key>=")
    if not run_dir:
        raise UserError(f"run_dir= is required (the folder of a finished textcluster run). {USAGE}")
    return run_dir, output, data


def data_config(manifest: dict, overrides: list[str]) -> dict:
    """The data config to load: composed from conf/ when ``data=`` is given, else the run's, changed by ``data.*``."""
    from omegaconf import OmegaConf

    plugins_dir = (manifest.get("config") or {}).get("plugins_dir")
    if any(o.lstrip("+~").split("=", 1)[0] == "data" for o in overrides):
        from textcluster.config import compose

        extra = [f"plugins_dir={plugins_dir}"] if plugins_dir else []
        try:
            cfg = compose(overrides + extra)
        except UserError:
            raise
        except Exception as error:  # Hydra's own messages: unknown group option, bad override syntax
            message = " ".join(str(error).split()).split(" Config search path")[0]
            raise UserError(f"{message} (in the data arguments)") from None
        return OmegaConf.to_container(cfg.data, resolve=True)
    base = manifest.get("data")
    if not base:
        raise UserError("the run folder does not record its data config; give the documents with "
                        "data=<csv|lines|hf|mnist|digits> data.path=...")
    merged = OmegaConf.create({"data": base})
    if overrides:
        try:
            merged = OmegaConf.merge(merged, OmegaConf.from_dotlist([o.lstrip("+") for o in overrides]))
        except Exception as error:
            raise UserError(f"bad data override ({' '.join(str(error).split())})") from None
    return OmegaConf.to_container(merged.data, resolve=True)


def write_predictions(path: Path, prediction) -> None:
    dataset = prediction.dataset
    score_name = prediction.score_name
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "cluster"] + (["label"] if dataset.has_labels else [])
                        + ([score_name] if score_name else []) + ["text" if dataset.texts is not None else "index"])
        for row, (item_id, cluster) in enumerate(zip(dataset.ids, prediction.labels)):
            line = [item_id, int(cluster)] + ([dataset.labels[row]] if dataset.has_labels else [])
            if score_name:
                score = float(prediction.scores[row])
                line.append("" if np.isnan(score) else f"{score:.6g}")
            line.append(" ".join(dataset.texts[row].split())[:SNIPPET_CHARS] if dataset.texts is not None else row)
            writer.writerow(line)


def predict(argv: Sequence[str]) -> Path:
    from textcluster.persistence import find_model_dir, read_manifest

    run_dir, output, overrides = parse_arguments(argv)
    model_dir = find_model_dir(run_dir)  # before the slow imports: a wrong path fails at once
    manifest = read_manifest(model_dir)

    from textcluster.config import load_local_plugins
    from textcluster.data import load_dataset
    from textcluster.pipeline import Pipeline

    load_local_plugins((manifest.get("config") or {}).get("plugins_dir"))
    config = data_config(manifest, overrides)
    dataset = load_dataset(config, seed=int(manifest.get("seed") or 0))
    if manifest.get("modality") and dataset.modality != manifest["modality"]:  # before loading the model
        raise UserError(f"the model in {model_dir} was fitted on {manifest['modality']} data "
                        f"(encoder={manifest.get('encoder')}) but {dataset.name} holds {dataset.modality} data; "
                        "predict with data of the kind the run used")
    pipeline = Pipeline.load(model_dir)
    start = time.perf_counter()
    prediction = pipeline.predict_details(dataset)
    seconds = time.perf_counter() - start
    folder = model_dir.parent if model_dir.name == "model" else model_dir
    path = Path(output) if output else folder / "predictions.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_predictions(path, prediction)

    labels = prediction.labels
    clusters, counts = np.unique(labels[labels != -1], return_counts=True)
    print(f"{dataset.name}: {len(dataset)} {dataset.modality} items -> {len(clusters)} clusters"
          f" ({manifest.get('encoder')} / {manifest.get('reducer')} / {manifest.get('clusterer')}, "
          f"predict: {manifest.get('predict_method')}) in {seconds:.1f} s")
    if (labels == -1).any():
        print(f"  noise: {int((labels == -1).sum())} items")
    print("  sizes: " + ", ".join(f"{c}:{n}" for c, n in zip(clusters.tolist(), counts.tolist())))
    print(f"predictions: {path}")
    return path


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in argv):
        print(USAGE)
        print(__doc__.split("\n\n", 2)[2].rstrip())
        return
    logging.basicConfig(level=logging.WARNING, format="[%(levelname)s] %(name)s: %(message)s")
    try:
        predict(argv)
    except UserError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
