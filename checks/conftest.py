"""The graded checks: `pytest checks/ [--assignment ID]` grades that assignment's homework
folder, `--target DIR` any folder laid out like it (see hw3/grading/plugin.py for every option).
Each assignment's checks are in checks/<ID>/."""

pytest_plugins = ["hw3.grading.plugin"]
