"""The graded checks of the homework (see conftest.py)."""
