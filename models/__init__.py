"""Training, evaluation and the promotion gate; `tracking` is the one module that imports MLflow.

Layout (pure functions first, MLflow last):

- `config`     typed hyperparameters, split fractions, gate thresholds (all logged as params)
- `specs`      per model: registered name, feature service, primary metric and its direction
- `data`       entity rows, point-in-time retrieval through the feature service, labels, splits
- `prepare`    `prepare_features(kind, frame)`: the one preparation training and inference share
- `pipelines`  sklearn Pipelines per family (hgb, linear); `estimators` the price level wrapper
- `evaluation` metrics and baselines; `plots` the figures; `training` fit and score
- `gate`       the promotion decision as a pure function
- `policy`     the feature policy: which sensitivity classes a model may read
- `fairness`   per-group metrics (age band, home-country region), largest gaps, the gap check
- `lineage`    code version, feature view versions, data digests, validation records
- `tracking`   MLflow: runs, datasets, models, registry aliases (SQLite in the state folder)
- `registry`   log a run, register a `challenger`, gate it, promote, override, roll back
- `workflow`   the steps of `fti train` as plain calls (flows/training.py runs them as tasks)

Batch inference reuses `data.price_rows` + `data.assemble_price_features` (price) or
`data.retrieve` (bookings), then `prepare.prepare_features`, then `models:/<name>@champion`.
"""
