"""A corpus of realistic submissions, each the reference (solutions/) with a small text edit
(tests/submissions.py's `make_submission`), so that each is a readable one-line diff.

WRONG: mistakes students make on this homework, each with the questions it must cost (and
no other). Most cost their own question only: the checks give the flow the months under the
names its own get_paths asks for, so a get_paths that names other months costs Q2 alone.
Where a mistake really stops the flow (a missing zone the regression refuses, a validation
month fitted again, a get_paths that fails on today's date), it also costs what the run
would have shown, and `why` says so.
CORRECT: submissions written differently from the reference that must get full marks.
"""

from __future__ import annotations

from dataclasses import dataclass

from submissions import MISTAKES, Edits

HOMEWORK, DEPLOYMENT, ANSWERS = "homework.py", "deployment.py", "answers.toml"
MONTHS = "(first_of_month - relativedelta(months=n) for n in (2, 1))"
FILE_NAME = '{month:%Y-%m}.parquet"'
SAVES = '((lr, f"model-{day}.bin"), (dv, f"dv-{day}.b"))'
FLOW_DOES_NOT_RUN = "the flow of the course date then fails, so its task runs, logs and artifacts are missing too"


@dataclass(frozen=True)
class Variant:
    name: str
    edits: Edits
    lost: frozenset[str] = frozenset()  # the questions it must cost; empty: full marks
    why: str = ""  # why it costs more than one question

    @property
    def slug(self) -> str:
        return "".join(c if c.isalnum() else "-" for c in self.name.lower()).strip("-")[:60]


def wrong(name: str, lost: str, edits: Edits, why: str = "") -> Variant:
    return Variant(name, edits, frozenset(lost.split(",")), why)


WRONG = (
    *(Variant(m.name, m.edits, frozenset({m.question})) for m in MISTAKES),
    # Q1: the flow and its tasks
    wrong("train_model is a plain function", "Q1", {HOMEWORK: [
        ("@task\ndef train_model(", "def train_model("),
        ("train_model.submit(df_train, zones).result()", "train_model(df_train.result(), zones)")]}),
    wrong("answers prepare_features", "Q1", {ANSWERS: [('q1 = "train_model"', 'q1 = "prepare_features"')]}),
    wrong("validation MSE logged at debug level", "Q1", {HOMEWORK: [
        ('logger.info(f"validation MSE: {mse}")', 'logger.debug(f"validation MSE: {mse}")')]}),
    # Q2: dates and months
    wrong("month not zero-padded", "Q2", {HOMEWORK: [(FILE_NAME, '{month.year}-{month.month}.parquet"')]}),
    wrong("year hard-coded to 2021", "Q2", {HOMEWORK: [("run_date(date).replace(day=1)", "run_date(date).replace(year=2021, day=1)")]}),
    wrong("date.today without a call", "Q2,Q3", {HOMEWORK: [("return datetime.date.today()", "return datetime.date.today")]},
          "main() on today's date fails as get_paths(None) does, so today's artifacts are missing (Q3)"),
    wrong("month arithmetic without relativedelta", "Q2", {HOMEWORK: [(MONTHS, "(first_of_month.replace(month=first_of_month.month - n) for n in (2, 1))")]}),
    wrong("training and validation months swapped", "Q2", {HOMEWORK: [(MONTHS, MONTHS.replace("(2, 1)", "(1, 2)"))]}),
    wrong("months one too early", "Q2", {HOMEWORK: [(MONTHS, MONTHS.replace("(2, 1)", "(3, 2)"))]}),
    wrong("day and month swapped when parsing the date", "Q1,Q2,Q3", {HOMEWORK: [
        ("return datetime.date.fromisoformat(date)", "return datetime.datetime.strptime(date, '%Y-%d-%m').date()")]},
        "main parses the date itself with the same helper, which refuses the 15th as a month: " + FLOW_DOES_NOT_RUN),
    wrong("keeps trips of 1 to 61 minutes", "Q2", {HOMEWORK: [(".between(1, 60)", ".between(1, 61)")]}),
    wrong("keeps trips strictly between 1 and 60 minutes", "Q2", {HOMEWORK: [('.between(1, 60)', '.between(1, 60, inclusive="neither")')]}),
    wrong("fillna forgotten", "Q1,Q2,Q3", {HOMEWORK: [('.fillna(-1).astype("int").astype("str")', '.astype("str")')]},
          "a missing zone stays missing, the regression refuses it: " + FLOW_DOES_NOT_RUN),
    wrong("validation fitted instead of transformed", "Q1,Q2,Q3", {HOMEWORK: [("X_val = dv.transform(", "X_val = dv.fit_transform(")]},
          FLOW_DOES_NOT_RUN),
    wrong("duration in hours", "Q2,Q3", {HOMEWORK: [(".dt.total_seconds() / 60", ".dt.total_seconds() / 3600")]},
          "the filter then keeps trips of 1 to 60 hours, so the saved DictVectorizer has other features (Q3)"),
    wrong("answers 11.837", "Q2", {ANSWERS: [('q2 = "11.637"', 'q2 = "11.837"')]}),
    # Q3: artifacts
    wrong("DictVectorizer saved as dv-{date}.bin", "Q3", {HOMEWORK: [('f"dv-{day}.b"', 'f"dv-{day}.bin"')]}),
    wrong("model saved as model_{date}.bin", "Q3", {HOMEWORK: [('f"model-{day}.bin"', 'f"model_{day}.bin"')]}),
    wrong("DictVectorizer saved before it is fitted", "Q3", {HOMEWORK: [(SAVES, SAVES.replace("(dv,", "(DictVectorizer(),"))]}),
    wrong("model saved in place of the DictVectorizer", "Q3", {HOMEWORK: [(SAVES, SAVES.replace("(dv,", "(lr,"))]}),
    wrong("artifacts saved in the working directory", "Q3", {HOMEWORK: [("save_pickle(obj, models_dir() / name)", "save_pickle(obj, Path(name))")]}),
    wrong("artifacts named after today, not the run's date", "Q3", {HOMEWORK: [(SAVES, SAVES.replace("{day}", "{datetime.date.today()}"))]}),
    wrong("answers 23,000 bytes", "Q3", {ANSWERS: [('q3 = "13,000 bytes"', 'q3 = "23,000 bytes"')]}),
    # Q4: the schedule
    wrong("cron with hour and day swapped", "Q4", {DEPLOYMENT: [('CRON = "0 9 15 * *"', 'CRON = "0 15 9 * *"')]}),
    wrong("cron in the time zone field", "Q4", {DEPLOYMENT: [("Cron(CRON, timezone=TIMEZONE)", "Cron(TIMEZONE, timezone=CRON)")]}),
    wrong("schedule in another zone than TIMEZONE", "Q4", {DEPLOYMENT: [("Cron(CRON, timezone=TIMEZONE)", 'Cron(CRON, timezone="Europe/Berlin")')]}),
    wrong("answers the daily cron", "Q4", {ANSWERS: [('q4 = "0 9 15 * *"', 'q4 = "9 15 * * *"')]}),
    # Q5, Q6
    wrong("answers 25", "Q5", {ANSWERS: [("q5 = 3", "q5 = 25")]}),
    wrong("prefect work-pool ls", "Q6", {ANSWERS: [('"prefect work-queue ls"', '"prefect work-pool ls"')]}),
    wrong("prefect work-queues ls", "Q6", {ANSWERS: [('"prefect work-queue ls"', '"prefect work-queues ls"')]}),
)  # fmt: skip


CORRECT = (
    Variant("pd.DateOffset instead of relativedelta", {HOMEWORK: [(MONTHS, "((pd.Timestamp(first_of_month) - pd.DateOffset(months=n)).date() for n in (2, 1))")]}),
    Variant("arithmetic on month numbers", {HOMEWORK: [(MONTHS, "(datetime.date(first_of_month.year + (first_of_month.month - n - 1) // 12, (first_of_month.month - n - 1) % 12 + 1, 1) for n in (2, 1))")]}),
    Variant("get_paths returns Path objects", {HOMEWORK: [("return tuple(str(data_dir() / f", "return tuple((data_dir() / f")]}),
    Variant("strftime in the file name", {HOMEWORK: [(FILE_NAME, "{month.strftime('%Y-%m')}.parquet\"")]}),
    Variant("extra logging", {HOMEWORK: [("    zones = categorical()\n", "    zones = categorical()\n    logger.info(f'training on {train_path}, checking on {val_path}')\n")]}),
    Variant("other task names", {HOMEWORK: [("@task\ndef read_data(", "@task(name='load-month', retries=1)\ndef read_data("),
                                            ("@task\ndef run_model(", "@task(name='score validation month')\ndef run_model(")]}),
    Variant("sequential calls instead of submit", {HOMEWORK: [
        ("prepare_features.submit(read_data.submit(train_path), zones)", "prepare_features(read_data(train_path), zones)"),
        ("prepare_features.submit(read_data.submit(val_path), zones, train=False)", "prepare_features(read_data(val_path), zones, train=False)"),
        ("train_model.submit(df_train, zones).result()", "train_model(df_train, zones)")]}),
    Variant("plain pickle.dump into open files", {HOMEWORK: [("        save_pickle(obj, models_dir() / name)\n",
        "        models_dir().mkdir(parents=True, exist_ok=True)\n        with open(models_dir() / name, 'wb') as f_out:\n            pickle.dump(obj, f_out)\n")]}),
    Variant("MSE logged with other words and 4 decimals", {HOMEWORK: [('logger.info(f"validation MSE: {mse}")', 'logger.info("MSE on the validation month: %.4f", mse)')]}),
    Variant("cron written with leading zeros", {DEPLOYMENT: [('CRON = "0 9 15 * *"', 'CRON = "00 09 15 * *"')], ANSWERS: [('q4 = "0 9 15 * *"', 'q4 = "0  09 15 * *"')]}),
    Variant("numbers for the numeric options", {ANSWERS: [('q2 = "11.637"', "q2 = 11.637"), ('q3 = "13,000 bytes"', "q3 = 13000")]}),
    Variant("flow imported directly in deployment.py", {DEPLOYMENT: [
        ('main = Flow.from_source(source=str(Path(__file__).resolve().parent), entrypoint="homework.py:main")', "from homework import main")]}),
)  # fmt: skip
