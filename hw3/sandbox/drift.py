"""Library drift in lines the course itself gave, bridged for a process that runs the student's
code outside the probe (a worker's flow run of the 2023 homework). The session copies this
file into the sandbox as `sitecustomize.py`, on the worker's PYTHONPATH, so every flow run's
process loads it; it imports nothing of hw3.

  mean_squared_error(..., squared=False)   scikit-learn 1.6 removed `squared`: it gives the
                                           root again, as it did
  mlflow.set_tracking_uri("http://...")    a tracking server of the student's machine: the
                                           run tracks to a SQLite store in its folder instead

One more patch saves work that no check reads: MLflow's `log_model` infers the model's pip
requirements by loading the model again in a child Python (about 2.5 CPU-s a run), then
compares them with every installed package (0.7 CPU-s); here it writes the flavor's default
requirements (what MLflow itself falls back to) and compares nothing.

Each patch is made right after its module is first imported, so a process that imports
none of them pays nothing. The checks name each bridge to the student, at no cost
(checks/deployments/code.py).
"""

import functools
import importlib.abc
import importlib.util
import sys

LOCAL_STORE = "sqlite:///mlflow.db"


class _AfterImport(importlib.abc.MetaPathFinder):
    """Calls `patch(module)` once the module `name` has been executed."""

    def __init__(self, name, patch):
        self.name, self.patch = name, patch

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            self.patch(module)

        spec.loader.exec_module = exec_module
        return spec


def _squared(metrics):
    import numpy as np

    regression = sys.modules.get("sklearn.metrics._regression", metrics)
    plain = regression.mean_squared_error

    @functools.wraps(plain)
    def mean_squared_error(y_true, y_pred, *args, squared=True, **kwargs):
        value = plain(y_true, y_pred, *args, **kwargs)
        return value if squared else np.sqrt(value)

    metrics.mean_squared_error = regression.mean_squared_error = mean_squared_error


def _tracking(mlflow):
    plain = mlflow.set_tracking_uri

    @functools.wraps(plain)
    def set_tracking_uri(uri):
        if str(uri).startswith(("http://", "https://")):
            uri = LOCAL_STORE
        return plain(uri)

    mlflow.set_tracking_uri = set_tracking_uri


def _requirements(environment):
    def infer_pip_requirements(model_uri, flavor, fallback=None, *args, **kwargs):
        return list(fallback or [])

    environment.infer_pip_requirements = infer_pip_requirements
    environment.warn_dependency_requirement_mismatches = lambda requirements: None


sys.meta_path.insert(0, _AfterImport("sklearn.metrics", _squared))
sys.meta_path.insert(0, _AfterImport("mlflow.utils.environment", _requirements))
sys.meta_path.insert(0, _AfterImport("mlflow", _tracking))
