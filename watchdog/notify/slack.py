"""Slack through an incoming webhook: a header with the verdict, the numbers, context, a report button.

The webhook URL is itself the secret; it comes from `webhook_url_env` or `webhook_url_file`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx
from pydantic import SecretStr

from watchdog.notify.base import answered
from watchdog.notify.message import Notification

_ICON = {
    "started": ":hourglass_flowing_sand:",
    "passed": ":white_check_mark:",
    "failed": ":red_circle:",
    "inconclusive": ":grey_question:",
    "rolled_back": ":leftwards_arrow_with_hook:",
    "rollback_failed": ":rotating_light:",
}


def _mrkdwn(text: str) -> str:
    """Slack's three control characters; anything else passes as written."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(n: Notification) -> dict[str, Any]:
    lines = "\n".join(f"• {_mrkdwn(line)}" for line in n.checks)
    numbers = _mrkdwn(n.summary) + (f"\n{lines}" if lines else "")
    context = [f"deployment `{n.deployment_id}`", f"state *{n.state}*"]
    if n.previous_stable:
        context.append(f"previous stable {_mrkdwn(n.previous_stable)}")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": n.headline[:150], "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{_ICON.get(n.event, '')} {numbers}"[:3000]}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]},
    ]
    if n.report_url:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open the report"},
                        "url": n.report_url,
                        "action_id": "open-report",
                    }
                ],
            }
        )
    elif n.report_path:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"report: `{n.report_path}`"}]}
        )
    # `text` is the fallback shown in notifications and by clients that cannot draw blocks.
    return {"text": f"{n.headline}: {n.summary}", "blocks": blocks}


class SlackNotifier:
    def __init__(self, *, name: str, url: SecretStr, events: Iterable[str], timeout: float = 10.0) -> None:
        self.name = name
        self.events = frozenset(events)
        self._url = url
        self._timeout = timeout

    async def send(self, n: Notification) -> None:
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            # The URL is the secret: a transport failure names only its kind.
            await answered(
                f"slack {self.name}", client.post(self._url.get_secret_value(), json=slack_body(n))
            )
