"""Batch scoring with a built bundle in CPython: the same wheels, model and output as the page.

    load_bundle (bundle.json "predict", every file's sha256 checked) ─ open_table (CSV or
    Parquet, streamed in chunks) ─ score_chunk (the runtime's Predictor + onnxruntime), in this
    process or on Dask (cluster.py) ─ open_sink / open_errors (written in chunk order)

`staticml.batch(...)` and `staticml batch` run a `BatchJob` through `job.run_batch`. This
module stays light (the CLI imports its default); pyarrow and Dask load with the job.
"""

DEFAULT_CHUNK_ROWS = 10_000
OUTPUT_FORMATS = ("csv", "parquet")
