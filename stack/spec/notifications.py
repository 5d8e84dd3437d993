"""Notification receivers and routing. Secrets are only ever file paths Alertmanager reads.

What Alertmanager 0.25 (the floor) can read from a file decides the shape: Slack's
``api_url_file``, PagerDuty's ``routing_key_file``, e-mail's ``auth_password_file``, Opsgenie's
and VictorOps' ``api_key_file``, Webex's bot token as an HTTP ``credentials_file`` and, for
webhooks (whose ``url_file`` only arrived later), a bearer token file. SNS signs with AWS
credentials from the environment, a profile or a role, never from the spec. Telegram, Discord
and Pushover are refused: 0.25 reads their secrets (bot token, webhook URL, user key and token)
only inline (``UNSUPPORTED_RECEIVERS``).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Union

from pydantic import AfterValidator, Field

from .base import HttpUrl, Name, SecretFile, StrictModel
from .values import Duration

# The severity an alert carries, as a route or an override names it. (A finding's severity is
# another thing: foundation.findings.FindingSeverity.)
AlertSeverity = Literal["critical", "warning", "info"]

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
_SMARTHOST_RE = re.compile(r"^[A-Za-z0-9.-]+:\d{1,5}$")


def _email(value: str) -> str:
    if not _EMAIL_RE.match(value):
        raise ValueError(f"'{value}' is not an e-mail address")
    return value


def _smarthost(value: str) -> str:
    if not _SMARTHOST_RE.match(value):
        raise ValueError(f"'{value}' is not host:port, e.g. 'smtp.example.com:587'")
    return value


Email = Annotated[str, AfterValidator(_email)]


class _Receiver(StrictModel):
    name: Name = Field(description="Receiver name, referenced by routes.")
    send_resolved: bool = Field(True, description="Also notify when the alert resolves.")


class WebhookReceiver(_Receiver):
    type: Literal["webhook"] = Field(description="A webhook receiver (Alertmanager's webhook payload, version 4).")
    url: HttpUrl = Field(description="Where Alertmanager POSTs its webhook payload (no credentials in the URL).")
    bearer_token_file: SecretFile | None = Field(
        None, description="File holding a bearer token sent as the Authorization header."
    )


class SlackReceiver(_Receiver):
    type: Literal["slack"] = Field(description="A Slack incoming webhook.")
    api_url_file: SecretFile = Field(description="File holding the Slack incoming-webhook URL (a secret).")
    channel: str = Field(description="Channel to post to, e.g. '#alerts'.")


class PagerdutyReceiver(_Receiver):
    type: Literal["pagerduty"] = Field(description="PagerDuty Events API v2.")
    routing_key_file: SecretFile = Field(description="File holding the Events API v2 routing key (a secret).")


class EmailReceiver(_Receiver):
    type: Literal["email"] = Field(description="E-mail through an SMTP smarthost.")
    to: Email = Field(description="Recipient address.")
    from_: Email = Field(alias="from", description="Sender address.")
    smarthost: Annotated[str, AfterValidator(_smarthost)] = Field(description="SMTP server as host:port.")
    auth_username: str | None = Field(None, description="SMTP user, when the server needs one.")
    auth_password_file: SecretFile | None = Field(None, description="File holding the SMTP password.")
    require_tls: bool = Field(True, description="Refuse to send without STARTTLS.")


class OpsgenieReceiver(_Receiver):
    type: Literal["opsgenie"] = Field(description="Opsgenie alerts API.")
    api_key_file: SecretFile = Field(description="File holding the Opsgenie API integration key (a secret).")
    api_url: HttpUrl | None = Field(
        None, description="Opsgenie API base URL, e.g. 'https://api.eu.opsgenie.com/' (null: Alertmanager's default).")
    responder_team: str | None = Field(None, description="Opsgenie team the alert is assigned to (null: none).")


class VictoropsReceiver(_Receiver):
    type: Literal["victorops"] = Field(description="Splunk On-Call (VictorOps) REST endpoint.")
    api_key_file: SecretFile = Field(description="File holding the VictorOps API key (a secret).")
    routing_key: str = Field(description="Routing key of the team's escalation policy.")


class WebexReceiver(_Receiver):
    type: Literal["webex"] = Field(description="A message to a Webex room, sent by a bot.")
    room_id: str = Field(description="Id of the room the bot posts to.")
    bot_token_file: SecretFile = Field(description="File holding the bot's access token (a secret).")


class SnsReceiver(_Receiver):
    type: Literal["sns"] = Field(
        description="An AWS SNS topic. Credentials come from Alertmanager's environment, profile or role_arn, "
                    "never from the spec.")
    topic_arn: str = Field(pattern=r"^arn:aws[a-z-]*:sns:", description="ARN of the topic to publish to.")
    region: str = Field(description="AWS region of the topic, e.g. 'eu-west-1'.")
    profile: str | None = Field(None, description="AWS shared-credentials profile to sign with (null: the default chain).")
    role_arn: str | None = Field(None, description="IAM role to assume for publishing (null: none).")


Receiver = Annotated[
    Union[WebhookReceiver, SlackReceiver, PagerdutyReceiver, EmailReceiver, OpsgenieReceiver, VictoropsReceiver,
          WebexReceiver, SnsReceiver],
    Field(discriminator="type"),
]

# Receiver types of Alertmanager 0.25 whose secrets it reads only inline, which the spec never holds.
UNSUPPORTED_RECEIVERS: dict[str, str] = {
    "telegram": "Alertmanager 0.25 (the floor) reads the Telegram bot token only inline (no bot_token_file), and "
                "the spec holds no secrets; use a webhook receiver to a relay, or another receiver type",
    "discord": "Alertmanager 0.25 (the floor) reads the Discord webhook URL, a secret, only inline (no "
               "webhook_url_file); use a webhook receiver to a relay, or another receiver type",
    "pushover": "Alertmanager 0.25 (the floor) reads the Pushover user key and token only inline (no *_file); "
                "use a webhook receiver to a relay, or another receiver type",
}


class Route(StrictModel):
    """Alerts matching every given condition go to ``receiver``; the first matching route wins."""

    receiver: Name = Field(description="Name of a receiver declared under notifications.receivers.")
    severity: AlertSeverity | None = Field(None, description="Match alerts of this severity.")
    team: Name | None = Field(None, description="Match alerts owned by this team.")


class Watchdog(StrictModel):
    """The always-firing Watchdog alert: a heartbeat for an external dead-man's switch."""

    receiver: Name | None = Field(
        None,
        description="Receiver of the Watchdog alone: an external heartbeat service that pages when the heartbeat "
        "stops (Prometheus, its rules, Alertmanager or the path between them died). null: the Watchdog "
        "still fires but is sent nowhere, and `obstack validate` says so.",
    )
    repeat_interval: Duration = Field(
        Duration.parse("1m"),
        description="How often the heartbeat is re-sent; set the switch's timeout to a few times this.",
    )


class Notifications(StrictModel):
    """Receivers, routing by severity and team, and Alertmanager's grouping timers."""

    receivers: list[Receiver] = Field(
        min_length=1,
        description="Where notifications go: webhook, slack, pagerduty, email, opsgenie, victorops, webex or sns "
                    "(telegram, discord and pushover are refused: 0.25 reads their secrets only inline).",
    )
    routes: list[Route] = Field(default_factory=list, description="Routing by severity and team, first match wins.")
    default_receiver: Name | None = Field(
        None, description="Receiver for alerts no route matches (default: the first receiver)."
    )
    group_wait: Duration = Field(
        Duration.parse("30s"),
        description="Wait before the first notification of a new group, to batch alerts of one incident.",
    )
    group_interval: Duration = Field(
        Duration.parse("5m"), description="Wait before notifying about new alerts added to a group."
    )
    repeat_interval: Duration = Field(
        Duration.parse("4h"), description="Re-send a still-firing alert after this long."
    )
    watchdog: Watchdog = Field(default_factory=Watchdog)

    @property
    def fallback_receiver(self) -> str:
        return self.default_receiver or self.receivers[0].name
