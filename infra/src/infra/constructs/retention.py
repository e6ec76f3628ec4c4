"""Map the config's log retention (days) onto CDK's enum."""

from __future__ import annotations

from aws_cdk import aws_logs as logs

_BY_DAYS = dict(
    zip(
        (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557),
        list(logs.RetentionDays)[:19],
        strict=True,
    )
)


def retention(days: int) -> logs.RetentionDays:
    try:
        return _BY_DAYS[days]
    except KeyError:
        raise ValueError(
            f"CloudWatch Logs has no {days}-day retention; use one of {sorted(_BY_DAYS)}"
        ) from None
