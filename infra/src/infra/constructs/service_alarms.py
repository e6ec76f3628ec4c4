"""The API's alarms (5xx rate, p95 latency, unhealthy hosts), all notifying one SNS topic."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.constructs.nag import acknowledge

PERIOD = Duration.minutes(1)


class ServiceAlarms(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        load_balancer: elbv2.ApplicationLoadBalancer,
        target_group: elbv2.ApplicationTargetGroup,
        email: str,
        error_rate_percent: float = 5.0,
        latency_p95_seconds: float = 1.0,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "Topic", enforce_ssl=True)
        self.topic.add_subscription(subscriptions.EmailSubscription(email))
        acknowledge(
            self.topic,
            "SNS2",
            "CloudWatch alarms cannot publish to a topic encrypted with the AWS managed SNS key; "
            "alarm notifications carry no sensitive data.",
        )

        lb_metrics = load_balancer.metrics
        # FILL: the 5xx metrics have no data points while there are no errors.
        error_rate = cloudwatch.MathExpression(
            expression="100 * (FILL(elb5xx, 0) + FILL(target5xx, 0)) / FILL(requests, 1)",
            using_metrics={
                "elb5xx": lb_metrics.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT, period=PERIOD),
                "target5xx": lb_metrics.http_code_target(
                    elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=PERIOD
                ),
                "requests": lb_metrics.request_count(period=PERIOD),
            },
            label="5xx responses (%)",
            period=PERIOD,
        )
        self.error_rate = error_rate.create_alarm(
            self,
            "ErrorRate",
            alarm_description=f"More than {error_rate_percent}% of API responses are 5xx",
            threshold=error_rate_percent,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=5,
            datapoints_to_alarm=3,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.latency = target_group.metrics.target_response_time(statistic="p95", period=PERIOD).create_alarm(
            self,
            "LatencyP95",
            alarm_description=f"API p95 response time above {latency_p95_seconds}s",
            threshold=latency_p95_seconds,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=5,
            datapoints_to_alarm=3,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.unhealthy = target_group.metrics.unhealthy_host_count(
            statistic="Maximum", period=PERIOD
        ).create_alarm(
            self,
            "UnhealthyHosts",
            alarm_description="At least one API task fails its health check",
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=3,
            datapoints_to_alarm=3,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        action = actions.SnsAction(self.topic)
        for alarm in (self.error_rate, self.latency, self.unhealthy):
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)
