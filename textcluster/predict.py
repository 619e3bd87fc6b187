"""``textcluster-predict``: assign new documents to the clusters of a finished run, without refitting.

    textcluster-predict run_dir=outputs/2026-11-27/08-46-02 data=csv data.path=new.csv data.label_column=label

Arguments are Hydra-style ``key=value``:

* ``run_dir=`` (required): a run folder (it holds ``model/``) or its ``model/`` folder;
* ``data=<group>`` (required) plus ``data.<key>=<value>``: the documents, composed from the package's
  ``conf/data`` exactly as on the ``textcluster`` command line. Only the command line chooses what is read:
  the data config a run folder records describes what the model was fitted on, and is never read from
  (to predict the run's own documents again, name them as the run did);
* ``output=`` (default ``<run_dir>/predictions.csv``): where the predictions go;
* ``plugins_dir=``: the folder of local plugins the run used (a run folder never names code to import).

``predictions.csv`` has one row per document: ``id``, ``cluster`` (-1: noise), ``label`` (when the data
has true labels), ``distance`` (to the cluster centre / core sample) or ``probability`` (HDBSCAN, GMM),
and a text snippet (``text``) or the image's row (``index``).
Beside it, ``<output stem>_topic_distribution.npy`` holds each document's probability of each topic
(``Pipeline.predict_proba``: float32, a row per row of the CSV) and ``<output stem>_topic_distribution.json``
names its columns (topic ids and labels), as a run folder's ``topic_distribution.npy`` does for its documents.

Bad input ends with one line, ``textcluster-predict: error: ...``, and exit status 2.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from textcluster.errors import UserError, run_command
from textcluster.labels import NOISE

PROG = "textcluster-predict"
DATA_USAGE = "data=<csv|lines|hf|embeddings|mnist|digits> data.path=<file or folder> [data.<key>=<value> ...]"
USAGE = f"usage: {PROG} run_dir=<run folder> {DATA_USAGE} [output=<predictions.csv>] [plugins_dir=<folder>]"

log = logging.getLogger(__name__)


def parse_arguments(argv: Sequence[str]) -> tuple[str, str | None, str | None, list[str]]:
    """``(run_dir, output or None, plugins_dir or None, data overrides)`` from ``key=value`` arguments."""
    run_dir, output, plugins_dir, data = None, None, None, []
    for argument in argv:
        key, sep, value = argument.partition("=")
        if not sep:
            raise UserError(f"arguments are key=value, got '{argument}'. {USAGE}")
        bare = key.lstrip("+~")
        if bare == "run_dir":
            run_dir = value
        elif bare == "output":
            output = value
        elif bare == "plugins_dir":
            plugins_dir = value
        elif bare == "data" or bare.startswith("data."):
            data.append(argument)
        else:
            raise UserError(
                f"unknown argument '{key}'; {PROG} takes run_dir=, output=, plugins_dir=, data= and data.<key>="
            )
    if not run_dir:
        raise UserError(f"run_dir= is required (the folder of a finished textcluster run). {USAGE}")
    if not any(argument.lstrip("+").partition("=")[0] == "data" for argument in data):
        # a run folder is someone else's data: the data config it records must not choose a file or a download
        given = f" ({' '.join(data)} changes a data config, it does not name one)" if data else ""
        raise UserError(f"data= is required: name the documents to predict{given}, e.g. {DATA_USAGE}")
    return run_dir, output, plugins_dir, data


def data_config(overrides: list[str], plugins_dir: str | None) -> dict:
    """The data config to load, composed from conf/ with the command line's ``data=`` and ``data.<key>=``."""
    from textcluster.config import compose, to_plain

    extra = [f"plugins_dir={plugins_dir}"] if plugins_dir else []
    return to_plain(compose(overrides + extra).data)


def predict(argv: Sequence[str]) -> Path:
    from textcluster.reporting.model_folder import find_model_dir, read_manifest

    run_dir, output, plugins_dir, overrides = parse_arguments(argv)
    model_dir = find_model_dir(run_dir)  # before the slow imports: a wrong path fails at once
    manifest = read_manifest(model_dir)

    from textcluster.config import load_local_plugins
    from textcluster.data import load_dataset
    from textcluster.reporting.model_folder import load_model
    from textcluster.reporting.run_folder import write_predictions, write_topic_distribution

    load_local_plugins(plugins_dir)
    dataset = load_dataset(data_config(overrides, plugins_dir), seed=int(manifest.get("seed") or 0))
    fitted_on = (manifest.get("fit") or {}).get("modality")
    encoder = (manifest["stages"].get("encoder") or {}).get("name")
    if fitted_on and dataset.modality != fitted_on:  # before loading the model
        raise UserError(
            f"the model in {model_dir} was fitted on {fitted_on} data (encoder={encoder}) but "
            f"{dataset.name} holds {dataset.modality} data; predict with data of the kind the run used"
        )
    pipeline, _ = load_model(model_dir, what="run_dir", manifest=manifest)
    start = time.perf_counter()
    prediction = pipeline.predict_details(dataset)
    seconds = time.perf_counter() - start
    folder = model_dir.parent if model_dir.name == "model" else model_dir
    path = Path(output) if output else folder / "predictions.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_predictions(path, prediction)
    # one encoding for both: the probabilities come from the prediction's embeddings and clustered points
    blocks = pipeline.proba_blocks(prediction.embeddings, prediction.reduced)
    distribution = path.with_name(f"{path.stem}_topic_distribution.npy")
    write_topic_distribution(distribution, blocks, len(prediction.labels), pipeline)

    labels = prediction.labels
    clusters, counts = np.unique(labels[labels != NOISE], return_counts=True)
    stages = manifest["stages"]
    names = " / ".join(str((stages.get(group) or {}).get("name")) for group in ("encoder", "reducer", "clusterer"))
    print(
        f"{dataset.name}: {len(dataset)} {dataset.modality} items -> {len(clusters)} clusters"
        f" ({names}, predict: {manifest.get('predict_method')}) in {seconds:.1f} s"
    )
    if (labels == NOISE).any():
        print(f"  noise: {int((labels == NOISE).sum())} items")
    print("  sizes: " + ", ".join(f"{c}:{n}" for c, n in zip(clusters.tolist(), counts.tolist())))
    print(f"predictions: {path} (topic distribution: {distribution.name})")
    return path


def main(argv: Sequence[str] | None = None) -> None:
    run_command(PROG, USAGE, __doc__, argv, predict)


if __name__ == "__main__":
    main()
