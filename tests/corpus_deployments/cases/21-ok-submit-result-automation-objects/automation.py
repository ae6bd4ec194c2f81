"""Q6: an automation that calls a webhook each time a run of the deployment completes.

    python automation.py retrain/monthly https://example.org/hook
"""

import sys

from prefect.automations import Automation, CallWebhook, EventTrigger, Posture
from prefect.blocks.webhook import Webhook
from prefect.client.orchestration import get_client


def create_automation(deployment_name: str, url: str) -> str:
    """deployment_name is "flow-name/deployment-name"; returns the automation id."""
    with get_client(sync_client=True) as client:
        deployment_id = client.read_deployment_by_name(deployment_name).id

    hook_id = Webhook(url=url, method="POST").save("retrain-completed-hook", overwrite=True)

    trigger = EventTrigger(
        expect={"prefect.flow-run.Completed"},
        match_related={
            "prefect.resource.role": "deployment",
            "prefect.resource.id": f"prefect.deployment.{deployment_id}",
        },
        posture=Posture.Reactive,
        threshold=1,
    )
    action = CallWebhook(
        block_document_id=hook_id,
        payload='{"event": "{{ event.event }}", "resource": "{{ event.resource.id }}"}',
    )
    automation = Automation(
        name=f"{deployment_name} finished",
        trigger=trigger,
        actions=[action],
    ).create()
    return str(automation.id)


if __name__ == "__main__":
    print(create_automation(sys.argv[1], sys.argv[2]))
