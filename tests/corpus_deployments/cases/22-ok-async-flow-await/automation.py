"""Automation for the monthly-training deployment: on each completed run, POST to a URL."""

import sys

from prefect.blocks.webhook import Webhook
from prefect.client.orchestration import get_client
from prefect.events.actions import CallWebhook
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture


def create_automation(deployment_name: str, url: str) -> str:
    hook = Webhook(url=url)
    hook_id = hook.save("monthly-training-done", overwrite=True)

    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(deployment_name)
        automation_id = client.create_automation(
            AutomationCore(
                name=f"webhook when {deployment_name} completes",
                trigger=EventTrigger(
                    expect={"prefect.flow-run.Completed"},
                    match={"prefect.resource.id": "prefect.flow-run.*"},
                    match_related={"prefect.resource.id": f"prefect.deployment.{deployment.id}"},
                    posture=Posture.Reactive,
                    threshold=1,
                ),
                actions=[CallWebhook(block_document_id=hook_id)],
            )
        )
    return str(automation_id)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: python automation.py FLOW/DEPLOYMENT URL")
    print(create_automation(sys.argv[1], sys.argv[2]))
