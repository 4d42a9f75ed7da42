"""The errors of the accounts routes, for their OpenAPI description (quorum/api/problems.py).

The details are examples in the words the services use; the codes are the contract.
"""

from quorum.api.problems import Case

# Clients often send the login as JSON, like every other body of this API.
LOGIN_FORM = (
    "Send an application/x-www-form-urlencoded OAuth2 password form: "
    "username=<email>&password=<password>."
)
EMAIL_TAKEN = Case(409, "email_taken", "An account with this email already exists.")
INVALID_CREDENTIALS = Case(401, "invalid_credentials", "Wrong email or password.")
BAD_FORM = Case(400, "bad_request", "There was an error parsing the body")  # FastAPI's words
FORM_REQUIRED = Case(
    422,
    "validation_error",
    LOGIN_FORM,
    extra={"errors": [{"loc": ["body", "username"], "msg": "Field required", "type": "missing"}]},
)
WRONG_PASSWORD = Case(403, "wrong_password", "The current password is not correct.")
