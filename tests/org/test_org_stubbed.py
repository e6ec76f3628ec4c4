"""Paths moto cannot exercise, with botocore's Stubber: AWS errors, slow account creation, Identity Store
updates (moto has no UpdateUser/UpdateGroup), and the client configuration."""

from __future__ import annotations

import io
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from city_org.apply import Applier, Poller
from city_org.aws import OrgClients, make_org_clients
from city_org.cli import main
from city_org.diff import Change
from city_org.errors import AwsError
from city_org.spec import load_spec
from city_org.state import LiveAccount, LiveGroup, LivePermissionSet, LiveState

from tests.org.conftest import SPEC_DIR


def clients() -> OrgClients:
    session = boto3.Session(aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1")
    return OrgClients(
        organizations=session.client("organizations"),
        sso_admin=session.client("sso-admin"),
        identitystore=session.client("identitystore"),
    )


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


USER_ARN = "arn:aws:identitystore::123456789012:identitystore/d-1234567890/user/u-1-0000000000000000"
GROUP_ARN = "arn:aws:identitystore::123456789012:identitystore/d-1234567890/group/g-1-000000000000000"


PROV_ID = "11111111-2222-3333-4444-555555555555"
ASSIGN_ID = "66666666-7777-8888-9999-000000000000"


def live_state() -> LiveState:
    return LiveState(
        root_id="r-root",
        management_account_id="000000000000",
        scp_enabled=True,
        ous={"Sandbox": "ou-root-sandbox"},
        instance_arn="arn:aws:sso:::instance/ssoins-1",
        identity_store_id="d-1234567890",
    )


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (
            "AccessDeniedException",
            "city-org: AWS denied DescribeOrganization: the current credentials lack that",
        ),
        ("TooManyRequestsException", "city-org: AWS kept throttling DescribeOrganization even after retries"),
        ("ServiceException", "city-org: DescribeOrganization failed: ServiceException: boom"),
    ],
)
def test_aws_errors_become_one_line_messages(code: str, expected: str) -> None:
    made = clients()
    stub = Stubber(made.organizations)
    stub.add_client_error(
        "describe_organization", service_error_code=code, service_message="boom", http_status_code=400
    )
    err = io.StringIO()
    with stub:
        result = main(
            ["plan", "--spec", str(SPEC_DIR / "organization.yaml")],
            clients_factory=lambda _args: made,
            out=io.StringIO(),
            err=err,
        )
    assert result == 1
    assert err.getvalue().startswith(expected)
    assert "Traceback" not in err.getvalue()
    assert err.getvalue().count("\n") == 1


def test_account_creation_is_polled_and_a_used_email_is_explained() -> None:
    made = clients()
    stub = Stubber(made.organizations)
    stub.add_response(
        "create_account",
        {"CreateAccountStatus": {"Id": "car-1", "State": "IN_PROGRESS"}},
        {
            "Email": "aws+sandbox@city-tasks.example.com",
            "AccountName": "sandbox",
            "Tags": [{"Key": "environment", "Value": "sandbox"}],
        },
    )
    stub.add_response(
        "describe_create_account_status",
        {"CreateAccountStatus": {"Id": "car-1", "State": "IN_PROGRESS"}},
        {"CreateAccountRequestId": "car-1"},
    )
    stub.add_response(
        "describe_create_account_status",
        {"CreateAccountStatus": {"Id": "car-1", "State": "FAILED", "FailureReason": "EMAIL_ALREADY_EXISTS"}},
        {"CreateAccountRequestId": "car-1"},
    )
    clock = FakeTime()
    applier = Applier(
        made,
        load_spec(SPEC_DIR / "organization.yaml"),
        live_state(),
        poller=Poller(sleep=clock.sleep, clock=lambda: clock.now),
    )
    change = Change(
        "create",
        "account",
        "sandbox",
        after={
            "email": "aws+sandbox@city-tasks.example.com",
            "ou": "Sandbox",
            "tags": {"environment": "sandbox"},
        },
    )
    with stub, pytest.raises(AwsError) as caught:
        applier.apply([change])
    stub.assert_no_pending_responses()
    assert str(caught.value) == (
        "account sandbox: the e-mail aws+sandbox@city-tasks.example.com is already used by another "
        "AWS account; pick another address"
    )
    assert clock.sleeps == [5.0]


def test_account_creation_moves_the_new_account_into_its_ou() -> None:
    made = clients()
    stub = Stubber(made.organizations)
    stub.add_response("create_account", {"CreateAccountStatus": {"Id": "car-2", "State": "IN_PROGRESS"}})
    stub.add_response(
        "describe_create_account_status",
        {"CreateAccountStatus": {"Id": "car-2", "State": "SUCCEEDED", "AccountId": "123456789013"}},
    )
    stub.add_response(
        "move_account",
        {},
        {"AccountId": "123456789013", "SourceParentId": "r-root", "DestinationParentId": "ou-root-sandbox"},
    )
    applier = Applier(
        made, load_spec(SPEC_DIR / "organization.yaml"), live_state(), poller=Poller(sleep=lambda _s: None)
    )
    change = Change(
        "create", "account", "sandbox", after={"email": "a@b.example", "ou": "Sandbox", "tags": {}}
    )
    with stub:
        applier.apply([change])
    stub.assert_no_pending_responses()
    assert applier.account_ids["sandbox"] == "123456789013"


def test_a_creation_that_never_finishes_gives_up_after_the_timeout() -> None:
    made = clients()
    stub = Stubber(made.organizations)
    stub.add_response("create_account", {"CreateAccountStatus": {"Id": "car-3", "State": "IN_PROGRESS"}})
    for _ in range(4):
        stub.add_response(
            "describe_create_account_status", {"CreateAccountStatus": {"Id": "car-3", "State": "IN_PROGRESS"}}
        )
    clock = FakeTime()
    poller = Poller(sleep=clock.sleep, clock=lambda: clock.now, interval=10, timeout=30)
    applier = Applier(made, load_spec(SPEC_DIR / "organization.yaml"), live_state(), poller=poller)
    with stub, pytest.raises(AwsError, match="gave up waiting for account sandbox to be created after 30 s"):
        applier.apply(
            [Change("create", "account", "sandbox", after={"email": "a@b.example", "ou": "", "tags": {}})]
        )
    assert clock.sleeps == [10, 10, 10]


def test_user_and_group_updates_send_identity_store_operations() -> None:
    made = clients()
    stub = Stubber(made.identitystore)
    stub.add_response(
        "update_user",
        {
            "IdentityStoreId": "d-1234567890",
            "UserId": "u-1",
            "UserArn": USER_ARN,
            "Revision": "2",
        },
        {
            "IdentityStoreId": "d-1234567890",
            "UserId": "u-1",
            "Operations": [
                {
                    "AttributePath": "emails",
                    "AttributeValue": [{"value": "new@example.com", "type": "work", "primary": True}],
                },
                {"AttributePath": "timezone", "AttributeValue": "Europe/Madrid"},
            ],
        },
    )
    stub.add_response(
        "update_group",
        {
            "IdentityStoreId": "d-1234567890",
            "GroupId": "g-1",
            "GroupArn": GROUP_ARN,
            "Revision": "2",
        },
        {
            "IdentityStoreId": "d-1234567890",
            "GroupId": "g-1",
            "Operations": [{"AttributePath": "description", "AttributeValue": "Deployers"}],
        },
    )
    before = {
        "email": "old@example.com",
        "given_name": "A",
        "family_name": "B",
        "display_name": "A B",
        "locale": None,
        "timezone": "UTC",
    }
    after = {**before, "email": "new@example.com", "timezone": "Europe/Madrid"}
    applier = Applier(made, load_spec(SPEC_DIR / "organization.yaml"), live_state())
    with stub:
        applier.apply(
            [
                Change("update", "user", "ana", before, after, ids={"user_id": "u-1"}),
                Change(
                    "update",
                    "group",
                    "provisioners",
                    {"description": "x"},
                    {"description": "Deployers"},
                    ids={"group_id": "g-1"},
                ),
            ]
        )
    stub.assert_no_pending_responses()


def test_clients_use_standard_retries_the_endpoint_and_the_profile(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    config.write_text(
        "[profile org-admin]\nregion = eu-west-1\naws_access_key_id = k\naws_secret_access_key = s\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_PROFILE", "org-admin")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5999")
    made = make_org_clients()
    for client in (made.organizations, made.sso_admin, made.identitystore):
        assert client.meta.config.retries["mode"] == "standard"
        assert client.meta.endpoint_url == "http://127.0.0.1:5999"
        assert client.meta.region_name == "eu-west-1"
    assert made.organizations._request_signer._credentials.access_key == "k"


def test_provisioning_and_assignments_in_progress_are_polled_until_done() -> None:
    made = clients()
    stub = Stubber(made.sso_admin)
    instance = "arn:aws:sso:::instance/ssoins-1"
    ps_arn = "arn:aws:sso:::permissionSet/ssoins-1/ps-1"
    stub.add_response(
        "update_permission_set",
        {},
        {"InstanceArn": instance, "PermissionSetArn": ps_arn, "SessionDuration": "PT8H"},
    )
    stub.add_response(
        "provision_permission_set",
        {"PermissionSetProvisioningStatus": {"Status": "IN_PROGRESS", "RequestId": PROV_ID}},
        {"InstanceArn": instance, "PermissionSetArn": ps_arn, "TargetType": "ALL_PROVISIONED_ACCOUNTS"},
    )
    stub.add_response(
        "describe_permission_set_provisioning_status",
        {"PermissionSetProvisioningStatus": {"Status": "SUCCEEDED", "RequestId": PROV_ID}},
        {"InstanceArn": instance, "ProvisionPermissionSetRequestId": PROV_ID},
    )
    stub.add_response(
        "create_account_assignment",
        {"AccountAssignmentCreationStatus": {"Status": "IN_PROGRESS", "RequestId": ASSIGN_ID}},
        {
            "InstanceArn": instance,
            "TargetId": "111122223333",
            "TargetType": "AWS_ACCOUNT",
            "PermissionSetArn": ps_arn,
            "PrincipalType": "GROUP",
            "PrincipalId": "g-1",
        },
    )
    stub.add_response(
        "describe_account_assignment_creation_status",
        {"AccountAssignmentCreationStatus": {"Status": "IN_PROGRESS", "RequestId": ASSIGN_ID}},
        {"InstanceArn": instance, "AccountAssignmentCreationRequestId": ASSIGN_ID},
    )
    stub.add_response(
        "describe_account_assignment_creation_status",
        {
            "AccountAssignmentCreationStatus": {
                "Status": "FAILED",
                "RequestId": ASSIGN_ID,
                "FailureReason": "no access",
            }
        },
        {"InstanceArn": instance, "AccountAssignmentCreationRequestId": ASSIGN_ID},
    )
    state = live_state()
    state.permission_sets["provisioners"] = LivePermissionSet(
        ps_arn, "provisioners", "", "PT1H", None, None, ()
    )
    state.groups["provisioners"] = LiveGroup("g-1", "provisioners", "")
    state.accounts["sandbox"] = LiveAccount("111122223333", "sandbox", "a@b.example", "ACTIVE", "Sandbox", {})
    clock = FakeTime()
    applier = Applier(
        made,
        load_spec(SPEC_DIR / "organization.yaml"),
        state,
        poller=Poller(sleep=clock.sleep, clock=lambda: clock.now),
    )
    update = Change(
        "update",
        "permission_set",
        "provisioners",
        {"session_duration": "PT1H", "description": "", "relay_state": None},
        {"session_duration": "PT8H", "description": "", "relay_state": None},
        ids={"arn": ps_arn},
    )
    assign = Change(
        "create",
        "assignment",
        "group:provisioners / provisioners @ sandbox",
        after={
            "principal_type": "GROUP",
            "principal": "provisioners",
            "permission_set": "provisioners",
            "account": "sandbox",
        },
    )
    with (
        stub,
        pytest.raises(
            AwsError, match="assignment group:provisioners / provisioners @ sandbox failed: no access"
        ),
    ):
        applier.apply([assign, update])
    stub.assert_no_pending_responses()
    assert clock.sleeps == [2.0]  # checked at once, then every 2 s (Identity Center is quick)
