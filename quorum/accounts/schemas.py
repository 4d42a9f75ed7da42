"""Request and response bodies of the accounts API."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from quorum.accounts.models import DISPLAY_NAME_MAX, EMAIL_MAX
from quorum.api.text import NONBLANK, NoNul, Stripped

PASSWORD_MIN = 8
PASSWORD_MAX = 128  # argon2 would take more, but nobody needs to send a megabyte of it


Password = Annotated[str, Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)]
DisplayName = Annotated[
    str,
    Field(min_length=1, max_length=DISPLAY_NAME_MAX, pattern=NONBLANK),
    NoNul,
    Stripped,
]
# A password to check, not to set: any length up to the cap, so that a password set under
# other rules can still be proved.
CurrentPassword = Annotated[str, Field(min_length=1, max_length=PASSWORD_MAX)]


class RegisterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Annotated[EmailStr, Field(max_length=EMAIL_MAX)]
    password: Password
    display_name: DisplayName


class SessionLogin(BaseModel):
    """The web page's login (JSON, like the page's other requests): its email and password
    are checked like ``/auth/token``'s form."""

    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, Field(min_length=1, max_length=EMAIL_MAX)]
    password: CurrentPassword


class ProfileUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: DisplayName


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: CurrentPassword
    new_password: Password


class AccountDeletion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: CurrentPassword


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    display_name: str
    created_at: datetime


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int
