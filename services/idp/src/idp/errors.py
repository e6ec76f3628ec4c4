"""Cognito's error vocabulary: the `__type` names botocore turns into exception classes."""

from __future__ import annotations


class CognitoError(Exception):
    """An error the cognito-idp API reports as HTTP 400 with `__type` = `kind`."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def not_authorized(message: str = "Incorrect username or password.") -> CognitoError:
    return CognitoError("NotAuthorizedException", message)


def user_not_found() -> CognitoError:
    return CognitoError("UserNotFoundException", "User does not exist.")


def invalid_parameter(message: str) -> CognitoError:
    return CognitoError("InvalidParameterException", message)


def code_mismatch(message: str = "Invalid code received for user") -> CognitoError:
    return CognitoError("CodeMismatchException", message)


def expired_session() -> CognitoError:
    return not_authorized("Invalid session for the user, session is expired.")
