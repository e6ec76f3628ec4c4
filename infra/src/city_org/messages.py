"""Turn botocore exceptions into one-line messages that say what to do."""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
)

_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException"}
_THROTTLED = {"Throttling", "ThrottlingException", "TooManyRequestsException"}


def client_error_message(error: ClientError) -> str:
    info = error.response.get("Error", {})
    code = info.get("Code", "Unknown")
    text = info.get("Message", "")
    operation = error.operation_name
    service = error.response.get("ResponseMetadata", {}).get("ServiceId") or ""
    if code in _DENIED:
        return (
            f"AWS denied {operation}: the current credentials lack that permission. Use a profile with "
            f"organization and Identity Center administrator rights in the management account "
            f"(--profile or AWS_PROFILE). AWS said: {text}"
        )
    if code == "AWSOrganizationsNotInUseException":
        return (
            "this account is not in an organization; create one first "
            "(aws organizations create-organization --feature-set ALL)"
        )
    if code in _THROTTLED:
        return f"AWS kept throttling {operation} even after retries; wait a minute and run the command again"
    if code == "DuplicateAccountException":
        return "an account with this e-mail already exists; every account needs its own e-mail address"
    if code == "ConstraintViolationException":
        return f"{operation} broke an organization limit: {text}"
    if code in {"MalformedPolicyDocumentException", "InvalidInputException"}:
        return f"AWS rejected the input of {operation}: {text}"
    return f"{operation} failed{(' (' + service + ')') if service else ''}: {code}: {text}"


def botocore_error_message(error: BotoCoreError) -> str:
    if isinstance(error, NoCredentialsError):
        return "no AWS credentials found; run `city-login PROFILE`, then use --profile PROFILE or AWS_PROFILE"
    if isinstance(error, ProfileNotFound):
        return f"{error}; check the name in ~/.aws/config"
    if isinstance(error, NoRegionError):
        return "no AWS region configured; set AWS_REGION or pass --region"
    if isinstance(error, EndpointConnectionError):
        return f"cannot reach AWS: {error}"
    return f"AWS client error: {error}"
