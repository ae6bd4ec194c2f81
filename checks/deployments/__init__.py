"""The 2023 homework (`deployments`): a named, retried task, prefect deploy, a worker, an artifact, an email, an automation."""
