"""MLOps course, module 3: the Prefect homework, its data, its checks and its instructor tools."""
