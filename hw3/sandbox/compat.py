"""Let code written for Prefect 2 (and older scikit-learn, and MLflow) run in a probe, so that
each old idiom costs only the question it belongs to (checks/flows/migration.py names it
and charges it); nothing here decides a grade.

Loaded by probe.py before the submission is imported, with the standard library, Prefect
and scikit-learn only. `install(flags)` turns on what the submission's code needs:

  prefect2   `prefect.orion...`, `prefect.flow_runners`, `DeploymentSpec`, `Deployment`,
             `prefect.infrastructure.Process` import and do nothing; `SequentialTaskRunner`
             is a one-thread runner; `prefect.engine.get_run_logger` is Prefect's own
  result     a task called directly returns its value (Prefect 3), and `.result()` on that
             value gives the value back, as Prefect 2.0's futures did; each such call is
             recorded (RESULT_CALLS) with its line
  squared    `mean_squared_error(..., squared=False)` gives the root again
  mlflow     when MLflow is not installed, `import mlflow` gives a module that does nothing
  params     flows do not validate their parameters (`date: str = None` takes None, as
             pydantic 1 under Prefect 2 did)
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types

# Library drift in a line the course itself gave: named, bridged (flag `squared`), never charged.
SQUARED_NOTE = ("`mean_squared_error(..., squared=False)` {where} is the course's own line, but scikit-learn 1.6 removed "
                "`squared`: the checks ran it as the root it was, at no cost; today write "
                "`root_mean_squared_error(y_true, y_pred)` (sklearn.metrics)")
RESULT_CALLS: list[dict] = []  # {"task", "file", "line"} of each .result() on a plain value
OLD_PACKAGES = ("prefect.orion", "prefect.flow_runners")


class _InertType(type):
    def __getattr__(cls, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return Inert()


class Inert(metaclass=_InertType):
    """Anything: every call, attribute, item and `with` gives another Inert."""

    def __init__(self, *args, **kwargs):
        pass

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return Inert()

    def __call__(self, *args, **kwargs):
        return Inert()

    def __getitem__(self, key):
        return Inert()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __iter__(self):
        return iter(())

    def __str__(self) -> str:
        return ""


class InertModule(types.ModuleType):
    """A module whose every name is an Inert class of that name."""

    def __init__(self, name: str):
        super().__init__(name)
        self.__path__ = []  # a package: its submodules import too

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        cls = type(name, (Inert,), {})
        setattr(self, name, cls)
        return cls


class _InertFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, roots: tuple[str, ...]):
        self.roots = roots

    def find_spec(self, fullname, path=None, target=None):
        if any(fullname == root or fullname.startswith(root + ".") for root in self.roots):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        return InertModule(spec.name)

    def exec_module(self, module):
        pass


def _prefect2() -> None:
    import prefect.deployments
    import prefect.engine
    import prefect.infrastructure
    import prefect.task_runners
    from prefect import get_run_logger

    sys.meta_path.insert(0, _InertFinder(OLD_PACKAGES))
    prefect.deployments.DeploymentSpec = type("DeploymentSpec", (Inert,), {})
    prefect.deployments.Deployment = type("Deployment", (Inert,), {})
    prefect.infrastructure.Process = type("Process", (Inert,), {})
    prefect.task_runners.SequentialTaskRunner = functools.partial(prefect.task_runners.ThreadPoolTaskRunner, max_workers=1)
    prefect.engine.get_run_logger = get_run_logger


def _recorder(task_name: str):
    def result(self, *args, **kwargs):
        caller = sys._getframe(1)
        RESULT_CALLS.append({"task": task_name, "file": caller.f_code.co_filename, "line": caller.f_lineno})
        return _plain(self)

    return result


def _plain(value):
    for base in (tuple, list, dict, str, float, int):
        if isinstance(value, base) and type(value) is not base:
            return base(value)
    return value


@functools.cache
def _resultable_type(base: type, task_name: str) -> type:
    return type(base.__name__, (base,), {"result": _recorder(task_name), "__slots__": ()})


def resultable(value, task_name: str):
    """`value` with a `.result()` that gives it back (and is recorded)."""
    if isinstance(value, bool) or value is None:
        return value
    for base in (tuple, list, dict, str, float, int):
        if type(value) is base:
            return _resultable_type(base, task_name)(value)
    module = type(value).__module__ or ""
    if module.startswith("pandas") and not hasattr(value, "result"):
        object.__setattr__(value, "result", functools.partial(_recorder(task_name), value))
    return value


def _result() -> None:
    from prefect.tasks import Task

    call = Task.__call__

    @functools.wraps(call)
    def __call__(self, *args, **kwargs):
        value = call(self, *args, **kwargs)
        return value if kwargs.get("return_state") else resultable(value, self.name)

    Task.__call__ = __call__


def _squared() -> None:
    import numpy as np
    import sklearn.metrics
    import sklearn.metrics._regression as regression

    plain = regression.mean_squared_error

    @functools.wraps(plain)
    def mean_squared_error(y_true, y_pred, *args, squared=True, **kwargs):
        value = plain(y_true, y_pred, *args, **kwargs)
        return value if squared else np.sqrt(value)

    sklearn.metrics.mean_squared_error = regression.mean_squared_error = mean_squared_error


def _mlflow() -> None:
    if importlib.util.find_spec("mlflow") is None:
        sys.meta_path.insert(0, _InertFinder(("mlflow",)))


def _params() -> None:
    from prefect.flows import Flow

    init = Flow.__init__

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.should_validate_parameters = False

    Flow.__init__ = __init__


INSTALLERS = {"prefect2": _prefect2, "result": _result, "squared": _squared, "mlflow": _mlflow, "params": _params}


def install(flags) -> None:
    for flag in flags:
        INSTALLERS[flag]()


def top_level_calls(tree, own_names: set[str]) -> list:
    """The statements of a module's body that call one of its own functions (or one imported
    from homework.py), e.g. `main(date="2021-08-15")` without a `__main__` guard: the probe
    skips them, so importing the file does not train or block."""
    import ast

    def root(node):
        while isinstance(node, (ast.Attribute, ast.Call)):
            node = node.value if isinstance(node, ast.Attribute) else node.func
        return node.id if isinstance(node, ast.Name) else None

    names = set(own_names)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.ImportFrom) and node.module == "homework":
            names.update(alias.asname or alias.name for alias in node.names)
    return [node for node in tree.body if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and root(node.value) in names]
