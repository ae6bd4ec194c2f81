import sys
from datetime import timedelta

from prefect.automations import Automation, CallWebhook, EventTrigger, Posture
from prefect.blocks.webhook import Webhook
from prefect.client.orchestration import get_client

HOOK_BLOCK = "main-flow-completed"


def _deployment_resource(deployment_name: str) -> str:
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(deployment_name)
    return f"prefect.deployment.{deployment.id}"


def create_automation(deployment_name: str, url: str) -> str:
    """Call `url` (POST) after every completed flow run of `deployment_name`."""
    block_id = Webhook(url=url, method="POST").save(HOOK_BLOCK, overwrite=True)
    automation = Automation(
        name=f"call webhook: {deployment_name} completed",
        description="Q6 of the deployments homework",
        trigger=EventTrigger(
            expect={"prefect.flow-run.Completed"},
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related={"prefect.resource.id": _deployment_resource(deployment_name)},
            posture=Posture.Reactive,
            threshold=1,
            within=timedelta(seconds=0),
        ),
        actions=[CallWebhook(block_document_id=block_id, payload='{"run": "{{ event.resource.id }}"}')],
    ).create()
    return str(automation.id)


if __name__ == "__main__":
    name, url = sys.argv[1:3]
    print(create_automation(name, url))
