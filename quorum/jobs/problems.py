"""The errors of the jobs routes, for their OpenAPI description (quorum/api/problems.py)."""

from quorum.api.problems import Case

JOB_NOT_FOUND = Case(404, "job_not_found", "No such job (or it is not yours).")
RESULT_NOT_FOUND = Case(404, "result_not_found", "The job's result is no longer stored.")
JOB_NOT_DONE = Case(409, "job_not_done", "The job is running: its result is not ready.")
