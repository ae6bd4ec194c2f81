"""The 2022 homework (`flows`): get_paths, a flow, its deployment and schedule, a work queue."""
